{#
    The silver rows a gold model must look at in this run: on a first build all of them; then
    those loaded after the newest load_timestamp the model holds. Gold models recompute the
    entities these rows touch from the whole of silver, so an older transaction arriving late
    never overwrites a newer attribute.
#}
{% macro changed_silver(column='load_timestamp') -%}
    select * from {{ ref('slv_forex__transactions') }}
    {% if is_incremental() %}
    where load_timestamp > (select coalesce(max({{ column }}), cast('1900-01-01' as timestamp)) from {{ this }})
    {% endif %}
{%- endmacro %}

{#
    The latest silver row (by transaction date, then id) of every `key` this run's changed rows
    touch, with `last_loaded`, the newest load_timestamp of that key: what a dimension keeps.
#}
{% macro latest_per(key) -%}
    with touched as (

        select distinct {{ key }} from ({{ forex.changed_silver() }}) as changed
        where {{ key }} is not null

    ),

    ranked as (

        select
            s.*,
            row_number() over (
                partition by s.{{ key }} order by s.transaction_date desc, s.transaction_id desc
            ) as recency,
            max(s.load_timestamp) over (partition by s.{{ key }}) as last_loaded
        from {{ ref('slv_forex__transactions') }} as s
        where s.{{ key }} in (select {{ key }} from touched)

    )

    select * from ranked where recency = 1
{%- endmacro %}

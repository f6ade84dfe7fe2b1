{#
    The filter of an incremental model that re-reads a look-back window: on an incremental
    run, only rows whose `column` is at or after the newest value already in the table minus
    `lookback_hours`, so rows committed late in the source are not missed (re-reading is
    harmless with a delete+insert or merge strategy on the model's key). On a full build it
    renders nothing. Use it as the `where` of the model's final select:

        select ... from joined
        {{ headwater_common.incremental_lookback('source_updated_at', var('fct_lookback_hours')) }}
#}
{% macro incremental_lookback(column, lookback_hours) %}
    {%- if is_incremental() %}
    -- coalesce: an existing but empty table (a first run without data) must not filter
    -- every later row away
    where {{ column }} >= coalesce(
        (
            select
                {{ dbt.dateadd('hour', -lookback_hours, 'max(' ~ column ~ ')') }}
            from {{ this }}
        ),
        cast('1900-01-01' as timestamp)
    )
    {%- endif %}
{% endmacro %}


{#
    When a fact row last changed in its sources: the newest of `base` (a timestamp that is
    never null, e.g. the row's own updated_at) and `others` (timestamps of joined rows, which
    may be null when the join found nothing: a missing row must not turn the whole value
    null). This is the column incremental_lookback filters on.
#}
{% macro latest_change(base, others) -%}
    greatest(
        {{ base }}
        {%- for other in others %},
        coalesce({{ other }}, {{ base }})
        {%- endfor %}
    )
{%- endmacro %}


{#
    An incremental model's post-hook that follows deletes at the source: remove the rows
    whose key no longer exists in `relation` (the staging model the fact is built from, which
    leaves out rows Headwater marked deleted in raw). The look-back filter only ever re-reads
    rows that still exist, so without this a purged row would stay in the fact forever.
    Nothing happens on a full build (the table was just built from `relation`).

        config:
          post_hook: "{{ headwater_common.remove_vanished(['ticket_id'], ref('stg_travel__tickets')) }}"
#}
{% macro remove_vanished(keys, relation) %}
    {%- if is_incremental() -%}
    delete from {{ this }} as target
    where not exists (
        select 1 from {{ relation }} as kept
        where {% for key in keys %}kept.{{ key }} = target.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
    )
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}

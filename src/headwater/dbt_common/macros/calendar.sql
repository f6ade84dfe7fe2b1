{#
    Date and time dimensions, built in SQL on every warehouse. A pipeline's dim_date model
    says which of its dates the calendar must cover; the rest (spine, names, keys) is here.
#}

{# Integer keys of the date and time dimensions: YYYYMMDD and HHMM. #}
{% macro date_key(ts) -%}
    cast(
        extract(year from {{ ts }}) * 10000
        + extract(month from {{ ts }}) * 100
        + extract(day from {{ ts }})
        as integer
    )
{%- endmacro %}

{% macro time_key(ts) -%}
    cast(extract(hour from {{ ts }}) * 100 + extract(minute from {{ ts }}) as integer)
{%- endmacro %}


{#
    A query (usable as a model or a CTE body) with one row per calendar day from the first to
    the last of the pipeline's dates, at least up to today (so today's possibly still empty
    day has its row), widened by `padding_days` on both sides (e.g. 1 when local dates can lie
    a day either side of UTC ones). `dates` lists [relation, column] pairs, e.g.
    [[ref('stg_shop__orders'), 'ordered_at'], [ref('stg_shop__shipments'), 'shipped_at']];
    nulls are ignored. Key date_key = YYYYMMDD.
#}
{% macro date_dimension(dates, padding_days=0) %}
    with

    data_days as (

        {%- for relation, column in dates %}
        {% if not loop.first %}union all {% endif %}select cast({{ column }} as date) as data_day from {{ relation }}
        {%- endfor %}

    ),

    bounds as (

        select
            min(data_day) - {{ padding_days }} as first_day,
            max(case when data_day > current_date then data_day else current_date end)
                + {{ padding_days }} as last_day
        from data_days

    ),

    spine as (

        {{ headwater_common.date_series('bounds', 'first_day', 'last_day') }}

    )

    select
        {{ headwater_common.date_key('date_day') }} as date_key,
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        {{ headwater_common.month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        {{ headwater_common.day_name('date_day') }} as day_name,
        cast(extract(week from date_day) as integer) as iso_week_number,
        cast(extract(isoyear from date_day) as integer) as iso_year_number,
        cast(date_trunc('week', date_day) as date) as week_start_date,
        cast(date_trunc('month', date_day) as date) as month_start_date,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from spine
{% endmacro %}


{#
    A query with one row per minute of the day (1,440 rows). Key time_key = HHMM
    (0 = 00:00, 1435 = 14:35), the key facts use for times of day.
#}
{% macro time_dimension() %}
    with

    minutes as (

        {{ headwater_common.integer_series(1440) }}

    ),

    parts as (

        select
            cast(floor(n / 60.0) as integer) as hour_of_day,
            cast(n % 60 as integer) as minute_of_hour,
            cast(n as integer) as minute_of_day
        from minutes

    )

    select
        hour_of_day * 100 + minute_of_hour as time_key,
        lpad(cast(hour_of_day as varchar), 2, '0') || ':'
            || lpad(cast(minute_of_hour as varchar), 2, '0') as time_of_day,
        hour_of_day,
        minute_of_hour,
        minute_of_day,
        case
            when hour_of_day < 6 then 'night'
            when hour_of_day < 12 then 'morning'
            when hour_of_day < 18 then 'afternoon'
            else 'evening'
        end as day_part
    from parts
{% endmacro %}

{#
    SQL that differs between the warehouses this project runs on (DuckDB, Postgres).
    Each macro dispatches to <adapter>__<name>, falling back to default__<name>; a new
    warehouse adds its own implementation here instead of branching inside models.
#}

{# One row per day from start_date to end_date inclusive, in a column `date_day`.
   start_date / end_date are SQL expressions over `from_relation` (a CTE with one row). #}
{% macro date_series(from_relation, start_date, end_date) %}
    {{ return(adapter.dispatch('date_series', 'travel_bookings')(from_relation, start_date, end_date)) }}
{% endmacro %}

{% macro default__date_series(from_relation, start_date, end_date) %}
    select cast(series.day_ts as date) as date_day
    from {{ from_relation }}
    cross join lateral generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval '1 day'
    ) as series (day_ts)
{% endmacro %}

{% macro duckdb__date_series(from_relation, start_date, end_date) %}
    select cast(unnest(generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval 1 day
    )) as date) as date_day
    from {{ from_relation }}
{% endmacro %}


{# English name of the weekday (Monday ... Sunday). #}
{% macro day_name(date_expr) %}
    {{ return(adapter.dispatch('day_name', 'travel_bookings')(date_expr)) }}
{% endmacro %}

{% macro default__day_name(date_expr) -%}
    trim(to_char({{ date_expr }}, 'Day'))
{%- endmacro %}

{% macro duckdb__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}


{# English name of the month (January ... December). #}
{% macro month_name(date_expr) %}
    {{ return(adapter.dispatch('month_name', 'travel_bookings')(date_expr)) }}
{% endmacro %}

{% macro default__month_name(date_expr) -%}
    trim(to_char({{ date_expr }}, 'Month'))
{%- endmacro %}

{% macro duckdb__month_name(date_expr) -%}
    monthname({{ date_expr }})
{%- endmacro %}


{# True when the whole string matches the POSIX regular expression `pattern`
   (written without ^ and $). #}
{% macro regex_full_match(expr, pattern) %}
    {{ return(adapter.dispatch('regex_full_match', 'travel_bookings')(expr, pattern)) }}
{% endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ '^({{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}

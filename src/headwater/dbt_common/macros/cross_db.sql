{#
    SQL that differs between the warehouses Headwater runs dbt on (DuckDB, Postgres).
    Each macro dispatches under this package's namespace to <adapter>__<name>, falling back
    to default__<name> (written for Postgres); a new warehouse adds its own implementation
    here instead of branching inside models. A pipeline's project may override one for its
    own adapter with a dispatch config (dbt's `dispatch:` in dbt_project.yml).
#}

{# One row per day from start_date to end_date inclusive, in a column `date_day`.
   start_date / end_date are SQL expressions over `from_relation` (a CTE with one row). #}
{% macro date_series(from_relation, start_date, end_date) %}
    {{ return(adapter.dispatch('date_series', 'headwater_common')(from_relation, start_date, end_date)) }}
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


{# One row per integer 0 .. n - 1, in a column `n`. #}
{% macro integer_series(n) %}
    {{ return(adapter.dispatch('integer_series', 'headwater_common')(n)) }}
{% endmacro %}

{% macro default__integer_series(n) %}
    select series.n from generate_series(0, {{ n }} - 1) as series (n)
{% endmacro %}

{% macro duckdb__integer_series(n) %}
    select unnest(range(0, {{ n }})) as n
{% endmacro %}


{# English names of the weekday (Monday ... Sunday) and of the month (January ...). #}
{% macro day_name(date_expr) %}
    {{ return(adapter.dispatch('day_name', 'headwater_common')(date_expr)) }}
{% endmacro %}

{% macro default__day_name(date_expr) -%}
    trim(to_char({{ date_expr }}, 'Day'))
{%- endmacro %}

{% macro duckdb__day_name(date_expr) -%}
    dayname({{ date_expr }})
{%- endmacro %}

{% macro month_name(date_expr) %}
    {{ return(adapter.dispatch('month_name', 'headwater_common')(date_expr)) }}
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
    {{ return(adapter.dispatch('regex_full_match', 'headwater_common')(expr, pattern)) }}
{% endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    ({{ expr }} ~ '^({{ pattern }})$')
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}


{# The text value of `key` in a JSON object held as text in `column`; null when the key is
   missing or its value is JSON null. #}
{% macro json_text(column, key) %}
    {{ return(adapter.dispatch('json_text', 'headwater_common')(column, key)) }}
{% endmacro %}

{% macro default__json_text(column, key) -%}
    (cast({{ column }} as json) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}


{# A naive UTC timestamp as wall-clock time in the IANA time zone held in `tz` (a column or a
   quoted literal); daylight saving time included. DuckDB needs its ICU extension, which its
   Python wheels link statically, and then reads this the same way as Postgres. #}
{% macro utc_to_local(ts, tz) %}
    {{ return(adapter.dispatch('utc_to_local', 'headwater_common')(ts, tz)) }}
{% endmacro %}

{% macro default__utc_to_local(ts, tz) -%}
    cast(((cast({{ ts }} as timestamp) at time zone 'UTC') at time zone {{ tz }}) as timestamp)
{%- endmacro %}


{# Whole minutes from `start_ts` to `end_ts` (negative when end is earlier); null if either
   is null. Exact for timestamps on whole minutes. #}
{% macro minutes_between(start_ts, end_ts) %}
    {{ return(adapter.dispatch('minutes_between', 'headwater_common')(start_ts, end_ts)) }}
{% endmacro %}

{% macro default__minutes_between(start_ts, end_ts) -%}
    cast(floor(extract(epoch from ({{ end_ts }} - {{ start_ts }})) / 60) as integer)
{%- endmacro %}

{% macro duckdb__minutes_between(start_ts, end_ts) -%}
    cast(floor(date_diff('second', {{ start_ts }}, {{ end_ts }}) / 60) as integer)
{%- endmacro %}


{# Great-circle distance in km between two points given in degrees (haversine formula);
   the same SQL on every warehouse. #}
{% macro great_circle_km(lat1, lon1, lat2, lon2) -%}
    (2 * 6371 * asin(sqrt(
        power(sin(radians({{ lat2 }} - {{ lat1 }}) / 2), 2)
        + cos(radians({{ lat1 }})) * cos(radians({{ lat2 }}))
          * power(sin(radians({{ lon2 }} - {{ lon1 }}) / 2), 2)
    )))
{%- endmacro %}

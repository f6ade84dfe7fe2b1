{#
    IPv4 addresses as integers, so that a range join compares numbers (never text, never LIKE).
    `ipv4_to_bigint(expr)`: a dotted quad as a bigint (null when `expr` is not one).
    `bucket_series(lo, hi)`: one row per integer in [lo, hi], as a set-returning expression of
    the select list; a range is spread over the /16 blocks it covers, so the join from an
    address to its range is an equality on the block plus a between on at most a few ranges.
#}
{% macro ipv4_to_bigint(expr) -%}
    case when {{ headwater_common.regex_full_match(expr, '[0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}[.][0-9]{1,3}') }}
    then
        cast(split_part({{ expr }}, '.', 1) as bigint) * 16777216
        + cast(split_part({{ expr }}, '.', 2) as bigint) * 65536
        + cast(split_part({{ expr }}, '.', 3) as bigint) * 256
        + cast(split_part({{ expr }}, '.', 4) as bigint)
    end
{%- endmacro %}

{% macro bucket_series(lo, hi) %}
    {{ return(adapter.dispatch('bucket_series', 'b2b_commerce')(lo, hi)) }}
{% endmacro %}

{% macro default__bucket_series(lo, hi) -%}
    generate_series({{ lo }}, {{ hi }})
{%- endmacro %}

{% macro duckdb__bucket_series(lo, hi) -%}
    unnest(range({{ lo }}, {{ hi }} + 1))
{%- endmacro %}

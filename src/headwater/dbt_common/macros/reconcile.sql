{#
    The rows on which two relations disagree, for singular tests that hold a model against a
    recomputation (e.g. an incremental fact against its current sources). `expected` and
    `actual` are relations or CTE names with the columns `keys` and `compare`. Returns the
    keys and a `problem`: missing from `actual`, no longer in `expected`, or stale (a
    compared column differs; nulls compare equal).
#}
{% macro relation_differences(expected, actual, keys, compare, actual_name) %}
    {%- set first_key = keys[0] %}
    select
        {%- for key in keys %}
        coalesce(expected.{{ key }}, actual.{{ key }}) as {{ key }},
        {%- endfor %}
        case
            when actual.{{ first_key }} is null then 'missing from {{ actual_name }}'
            when expected.{{ first_key }} is null then 'no longer in the source'
            else 'stale {{ compare | join(", ") }}'
        end as problem
    from {{ expected }} as expected
    full outer join {{ actual }} as actual
        on {% for key in keys %}{% if not loop.first %} and {% endif %}expected.{{ key }} = actual.{{ key }}{% endfor %}
    where actual.{{ first_key }} is null
        or expected.{{ first_key }} is null
        {%- for column in compare %}
        or actual.{{ column }} is distinct from expected.{{ column }}
        {%- endfor %}
{% endmacro %}

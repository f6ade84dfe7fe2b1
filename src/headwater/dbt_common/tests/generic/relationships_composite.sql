{#
    relationships for composite keys: fails on every row whose (columns) has no row in `to`
    with equal (fields), e.g. a boarding pass seat that is not in its aircraft's seat map.
    Rows with a null in any of `columns` are not checked (not_null's business).
#}
{% test relationships_composite(model, columns, to, fields) %}

select
    {% for c in columns %}child.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
from {{ model }} as child
where {% for c in columns %}child.{{ c }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
    and not exists (
        select 1
        from {{ to }} as parent
        where {% for c in columns %}parent.{{ fields[loop.index0] }} = child.{{ c }}{% if not loop.last %}
            and {% endif %}{% endfor %}
    )

{% endtest %}

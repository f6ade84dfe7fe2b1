{#
    The reverse of relationships: fails on every key of `model` that has no row in `to`
    (e.g. a booking without tickets).
#}
{% test has_related_rows(model, column_name, to, field) %}

select parent.{{ column_name }} as key_without_related_rows
from {{ model }} as parent
where parent.{{ column_name }} is not null
    and not exists (
        select 1
        from {{ to }} as child
        where child.{{ field }} = parent.{{ column_name }}
    )

{% endtest %}

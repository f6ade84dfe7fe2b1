{#
    Fails on every row where `earlier` lies after `later` (or on or after it when `strict`),
    e.g. a flight that arrives before it departs. Rows where either value is null pass.
#}
{% test ordered_timestamps(model, earlier, later, strict=false) %}

select
    {{ earlier }} as earlier_value,
    {{ later }} as later_value
from {{ model }}
where {{ earlier }} {{ '>=' if strict else '>' }} {{ later }}

{% endtest %}

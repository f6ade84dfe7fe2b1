{#
    Fails on every row where `earlier` lies after `later` (e.g. a segment that arrives
    before it departs). Equal values pass.
#}
{% test ordered_timestamps(model, earlier, later) %}

select
    {{ earlier }} as earlier_value,
    {{ later }} as later_value
from {{ model }}
where {{ earlier }} > {{ later }}

{% endtest %}

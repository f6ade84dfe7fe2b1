{#
    A business rule as a boolean SQL expression over the model's columns: fails on every row
    where it is false (or null, unless `null_passes`). Give each use a `name` that says the
    rule, e.g. occupied_seats_within_total_seats.
#}
{% test expression_is_true(model, expression, null_passes=false) %}

select *
from {{ model }}
where not ({{ expression }}){% if not null_passes %} or ({{ expression }}) is null{% endif %}

{% endtest %}

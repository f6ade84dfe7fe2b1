{# Fails on every value that is zero or negative (nulls are not_null's business). #}
{% test positive(model, column_name) %}

select {{ column_name }} as not_positive_value
from {{ model }}
where {{ column_name }} <= 0

{% endtest %}

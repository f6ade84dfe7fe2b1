{#
    Fails on every non-null value that is not an ISO 4217-shaped code: exactly three
    uppercase ASCII letters.
#}
{% test is_currency_code(model, column_name) %}

select {{ column_name }} as invalid_code
from {{ model }}
where {{ column_name }} is not null
    and not {{ headwater_common.regex_full_match(column_name, '[A-Z]{3}') }}

{% endtest %}

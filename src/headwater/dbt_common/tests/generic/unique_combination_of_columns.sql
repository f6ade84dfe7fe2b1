{# Fails on every combination of the given columns that occurs more than once (composite keys). #}
{% test unique_combination_of_columns(model, combination) %}

select
    {{ combination | join(',\n    ') }},
    count(*) as row_count
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1

{% endtest %}

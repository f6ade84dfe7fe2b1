{#
    Fails on every non-null value that does not match the POSIX regular expression `pattern`
    as a whole (written without ^ and $), e.g. an e-mail address or a phone number.
#}
{% test matches_pattern(model, column_name, pattern) %}

select {{ column_name }} as invalid_value
from {{ model }}
where {{ column_name }} is not null
    and not {{ headwater_common.regex_full_match(column_name, pattern) }}

{% endtest %}

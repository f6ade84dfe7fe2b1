{#
    Fails on every value further than `sigmas` standard deviations from the mean of the
    column (per group when group_by is given). Meant as a warning: an outlier is worth a
    look, not necessarily wrong.
#}
{% test within_sigma(model, column_name, sigmas=3, group_by=none) %}

{%- set groups = group_by if group_by is not none else [] -%}

with

stats as (

    select
        {% for col in groups %}{{ col }},{% endfor %}
        avg(cast({{ column_name }} as double precision)) as mean_value,
        stddev_samp(cast({{ column_name }} as double precision)) as stddev_value
    from {{ model }}
    where {{ column_name }} is not null
    {% if groups %}group by {{ groups | join(', ') }}{% endif %}

)

select
    {% for col in groups %}model_rows.{{ col }},{% endfor %}
    model_rows.{{ column_name }} as outlier_value,
    stats.mean_value,
    stats.stddev_value
from {{ model }} as model_rows
{% if groups -%}
inner join stats
    on {% for col in groups %}{% if not loop.first %} and {% endif %}model_rows.{{ col }} = stats.{{ col }}{% endfor %}
{%- else -%}
cross join stats
{%- endif %}
where stats.stddev_value > 0
    and abs(cast(model_rows.{{ column_name }} as double precision) - stats.mean_value)
        > {{ sigmas }} * stats.stddev_value

{% endtest %}

{#
    Daily volume spike: counts rows per day of `column_name` and fails on every day whose
    count exceeds `factor` times the average daily count of the `window_days` days before
    it (days without rows count as zero). Days without a full window of history before them
    are not judged. `min_count` ignores spikes on days too small to matter.
#}
{% test volume_spike(model, column_name, factor=1.5, window_days=7, min_count=0) %}

with

daily as (

    select
        cast({{ column_name }} as date) as volume_day,
        count(*) as row_count
    from {{ model }}
    where {{ column_name }} is not null
    group by cast({{ column_name }} as date)

),

history_start as (

    select min(volume_day) as first_day
    from daily

),

trailing_volumes as (

    select
        judged_day.volume_day,
        judged_day.row_count,
        cast(coalesce(sum(prior_day.row_count), 0) as double precision)
            / {{ window_days }} as trailing_avg
    from daily as judged_day
    left join daily as prior_day
        on prior_day.volume_day < judged_day.volume_day
        and prior_day.volume_day
            >= {{ dbt.dateadd('day', -window_days, 'judged_day.volume_day') }}
    group by judged_day.volume_day, judged_day.row_count

)

select
    trailing_volumes.volume_day,
    trailing_volumes.row_count,
    trailing_volumes.trailing_avg
from trailing_volumes
cross join history_start
where trailing_volumes.volume_day
        >= {{ dbt.dateadd('day', window_days, 'history_start.first_day') }}
    and trailing_volumes.row_count > {{ factor }} * trailing_volumes.trailing_avg
    and trailing_volumes.row_count >= {{ min_count }}

{% endtest %}

-- One row per minute of the day; time_key is HHMM (0 = 00:00, 1435 = 14:35), the key the
-- facts use for local and UTC times of day.

with

minutes as (

    {{ flights.integer_series(1440) }}

),

parts as (

    select
        cast(floor(n / 60.0) as integer) as hour_of_day,
        cast(n % 60 as integer) as minute_of_hour,
        cast(n as integer) as minute_of_day
    from minutes

),

final as (

    select
        hour_of_day * 100 + minute_of_hour as time_key,
        lpad(cast(hour_of_day as varchar), 2, '0') || ':'
            || lpad(cast(minute_of_hour as varchar), 2, '0') as time_of_day,
        hour_of_day,
        minute_of_hour,
        minute_of_day,
        case
            when hour_of_day < 6 then 'night'
            when hour_of_day < 12 then 'morning'
            when hour_of_day < 18 then 'afternoon'
            else 'evening'
        end as day_part
    from parts

)

select * from final

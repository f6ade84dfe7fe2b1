-- One row per calendar day from the day before the first booking or flight to the day after
-- the last (local dates can lie a day either side of UTC ones), and at least up to today.
-- date_key is YYYYMMDD, the key the facts use.

with

bookings as (

    select booked_at from {{ ref('stg_flights__bookings') }}

),

flights as (

    select scheduled_departure, scheduled_arrival, actual_arrival
    from {{ ref('stg_flights__flights') }}

),

data_days as (

    select cast(booked_at as date) as data_day from bookings
    union all
    select cast(scheduled_departure as date) from flights
    union all
    select cast(scheduled_arrival as date) from flights
    union all
    select cast(actual_arrival as date) from flights where actual_arrival is not null

),

bounds as (

    select
        min(data_day) - 1 as first_day,
        -- today too, so that today's (possibly still empty) day has its date row
        max(case when data_day > current_date then data_day else current_date end) + 1
            as last_day
    from data_days

),

spine as (

    {{ flights.date_series('bounds', 'first_day', 'last_day') }}

),

final as (

    select
        {{ flights.date_key('date_day') }} as date_key,
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        {{ flights.month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        {{ flights.day_name('date_day') }} as day_name,
        cast(extract(week from date_day) as integer) as iso_week_number,
        cast(date_trunc('week', date_day) as date) as week_start_date,
        cast(date_trunc('month', date_day) as date) as month_start_date,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from spine

)

select * from final

-- One row per calendar day from the first booking or journey day to the last (and at least
-- up to today), built in SQL: the spine comes from a warehouse-specific date_series macro.

with

bookings as (

    select created_at from {{ ref('stg_travel__bookings') }}

),

segments as (

    select departure_at, arrival_at from {{ ref('stg_travel__segments') }}

),

data_days as (

    select cast(created_at as date) as data_day from bookings
    union all
    select cast(departure_at as date) from segments
    union all
    select cast(arrival_at as date) from segments

),

bounds as (

    select
        min(data_day) as first_day,
        -- today too, so that today's (possibly still empty) report day has its date row
        max(case when data_day > current_date then data_day else current_date end)
            as last_day
    from data_days

),

spine as (

    {{ travel_bookings.date_series('bounds', 'first_day', 'last_day') }}

),

final as (

    select
        date_day,
        cast(extract(year from date_day) as integer) as year_number,
        cast(extract(quarter from date_day) as integer) as quarter_number,
        cast(extract(month from date_day) as integer) as month_number,
        {{ travel_bookings.month_name('date_day') }} as month_name,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as iso_day_of_week,
        {{ travel_bookings.day_name('date_day') }} as day_name,
        cast(extract(week from date_day) as integer) as iso_week_number,
        cast(extract(isoyear from date_day) as integer) as iso_year_number,
        cast(date_trunc('week', date_day) as date) as week_start_date,
        cast(date_trunc('month', date_day) as date) as month_start_date,
        extract(isodow from date_day) in (6, 7) as is_weekend
    from spine

)

select * from final

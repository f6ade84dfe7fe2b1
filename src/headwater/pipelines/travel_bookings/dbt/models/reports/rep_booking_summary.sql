-- One row per booking day (the date of the booking's created_at). Volumes count every
-- booking made that day whatever its status; revenue and average ticket price count only
-- tickets of bookings that are not cancelled. See _reports__models.yml.

with

bookings as (

    select
        booking_id,
        booking_date,
        booking_status,
        ticket_count,
        passenger_count,
        segment_count
    from {{ ref('dim_bookings') }}

),

ticket_sales as (

    select
        booking_date,
        booking_status,
        price_eur
    from {{ ref('fct_ticket_sales') }}

),

booking_volumes as (

    select
        booking_date,
        count(*) as bookings,
        sum(case when booking_status = 'cancelled' then 1 else 0 end) as cancelled_bookings,
        sum(ticket_count) as tickets,
        sum(passenger_count) as passengers,
        sum(segment_count) as segments
    from bookings
    group by booking_date

),

revenue as (

    select
        booking_date,
        sum(price_eur) as revenue_eur,
        avg(price_eur) as avg_ticket_price_eur
    from ticket_sales
    where booking_status <> 'cancelled'
    group by booking_date

),

final as (

    select
        booking_volumes.booking_date,
        cast(booking_volumes.bookings as integer) as bookings,
        cast(booking_volumes.tickets as integer) as tickets,
        cast(booking_volumes.passengers as integer) as passengers,
        cast(booking_volumes.segments as integer) as segments,
        cast(coalesce(revenue.revenue_eur, 0) as decimal(18, 2)) as revenue_eur,
        cast(round(revenue.avg_ticket_price_eur, 2) as decimal(14, 2))
            as avg_ticket_price_eur,
        cast(booking_volumes.cancelled_bookings as integer) as cancelled_bookings
    from booking_volumes
    left join revenue
        on booking_volumes.booking_date = revenue.booking_date

)

select * from final

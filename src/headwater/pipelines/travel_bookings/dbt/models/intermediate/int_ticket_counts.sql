-- Per booking: how many tickets, passengers and segments it has. Every booking appears,
-- with zeros where it has none, so that gaps show up instead of vanishing in a join.

with

bookings as (

    select booking_id from {{ ref('stg_travel__bookings') }}

),

tickets as (

    select
        booking_id,
        count(*) as ticket_count
    from {{ ref('stg_travel__tickets') }}
    group by booking_id

),

passengers as (

    select
        booking_id,
        count(*) as passenger_count
    from {{ ref('stg_travel__passengers') }}
    group by booking_id

),

segments as (

    select
        booking_id,
        count(*) as segment_count
    from {{ ref('stg_travel__segments') }}
    group by booking_id

),

final as (

    select
        bookings.booking_id,
        coalesce(tickets.ticket_count, 0) as ticket_count,
        coalesce(passengers.passenger_count, 0) as passenger_count,
        coalesce(segments.segment_count, 0) as segment_count
    from bookings
    left join tickets on bookings.booking_id = tickets.booking_id
    left join passengers on bookings.booking_id = passengers.booking_id
    left join segments on bookings.booking_id = segments.booking_id

)

select * from final

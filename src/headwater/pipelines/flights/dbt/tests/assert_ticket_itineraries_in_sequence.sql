-- A passenger cannot be on two flights at once: on every ticket, each flight must be
-- scheduled to depart after the previous flight of the ticket is scheduled to arrive.

with

legs as (

    select
        coupons.ticket_no,
        flights.flight_id,
        flights.scheduled_departure,
        lag(flights.scheduled_arrival) over (
            partition by coupons.ticket_no
            order by flights.scheduled_departure
        ) as previous_arrival
    from {{ ref('stg_flights__ticket_flights') }} as coupons
    inner join {{ ref('stg_flights__flights') }} as flights
        on coupons.flight_id = flights.flight_id

)

select ticket_no, flight_id, scheduled_departure, previous_arrival
from legs
where previous_arrival is not null
    and scheduled_departure <= previous_arrival

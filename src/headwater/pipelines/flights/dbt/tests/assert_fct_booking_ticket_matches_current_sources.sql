-- The incremental fact must agree with a full recomputation from the current sources:
-- fails on every coupon missing from fct_booking_ticket, on every fact row whose coupon is
-- gone, and on every row whose booking, passenger, fare class, amount or flight differs from
-- the current coupon, ticket and booking (a stale row left behind by the incremental filter).

with

expected as (

    select
        coupons.ticket_no,
        coupons.flight_id,
        tickets.book_ref,
        tickets.passenger_id,
        coupons.fare_conditions,
        coupons.amount,
        bookings.booked_at
    from {{ ref('stg_flights__ticket_flights') }} as coupons
    left join {{ ref('stg_flights__tickets') }} as tickets
        on coupons.ticket_no = tickets.ticket_no
    left join {{ ref('stg_flights__bookings') }} as bookings
        on tickets.book_ref = bookings.book_ref

),

facts as (

    select ticket_no, flight_id, book_ref, passenger_id, fare_conditions, amount, booked_at
    from {{ ref('fct_booking_ticket') }}

)

select
    coalesce(expected.ticket_no, facts.ticket_no) as ticket_no,
    coalesce(expected.flight_id, facts.flight_id) as flight_id,
    case
        when facts.ticket_no is null then 'missing from fct_booking_ticket'
        when expected.ticket_no is null then 'coupon no longer in the source'
        else 'stale booking, passenger, fare or amount'
    end as problem
from expected
full outer join facts
    on expected.ticket_no = facts.ticket_no
    and expected.flight_id = facts.flight_id
where facts.ticket_no is null
    or expected.ticket_no is null
    or facts.book_ref is distinct from expected.book_ref
    or facts.passenger_id is distinct from expected.passenger_id
    or facts.fare_conditions is distinct from expected.fare_conditions
    or facts.amount is distinct from expected.amount
    or facts.booked_at is distinct from expected.booked_at

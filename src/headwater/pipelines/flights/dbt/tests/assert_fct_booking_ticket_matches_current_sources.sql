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

)

{{ headwater_common.relation_differences(
    'expected',
    ref('fct_booking_ticket'),
    keys=['ticket_no', 'flight_id'],
    compare=['book_ref', 'passenger_id', 'fare_conditions', 'amount', 'booked_at'],
    actual_name='fct_booking_ticket',
) }}

-- The incremental fact must agree with a full recomputation from the current sources:
-- fails on every ticket that is missing from fct_ticket_sales, or whose booking status,
-- booking date or price there differs from the current booking and ticket (a stale row
-- left behind by the incremental filter), and on every fact row whose ticket is gone.

with

tickets as (

    select ticket_id, booking_id, booking_price
    from {{ ref('stg_travel__tickets') }}

),

bookings as (

    select booking_id, booking_date, booking_status
    from {{ ref('dim_bookings') }}

),

expected as (

    select
        tickets.ticket_id,
        bookings.booking_date,
        bookings.booking_status,
        tickets.booking_price
    from tickets
    left join bookings
        on tickets.booking_id = bookings.booking_id

)

{{ headwater_common.relation_differences(
    'expected',
    ref('fct_ticket_sales'),
    keys=['ticket_id'],
    compare=['booking_status', 'booking_date', 'booking_price'],
    actual_name='fct_ticket_sales',
) }}

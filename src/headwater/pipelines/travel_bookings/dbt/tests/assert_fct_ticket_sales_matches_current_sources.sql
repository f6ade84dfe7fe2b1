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

facts as (

    select ticket_id, booking_date, booking_status, booking_price
    from {{ ref('fct_ticket_sales') }}

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

select
    coalesce(expected.ticket_id, facts.ticket_id) as ticket_id,
    case
        when facts.ticket_id is null then 'missing from fct_ticket_sales'
        when expected.ticket_id is null then 'ticket no longer in the source'
        else 'stale booking status, date or price'
    end as problem
from expected
full outer join facts
    on expected.ticket_id = facts.ticket_id
where facts.ticket_id is null
    or expected.ticket_id is null
    or facts.booking_status is distinct from expected.booking_status
    or facts.booking_date is distinct from expected.booking_date
    or facts.booking_price is distinct from expected.booking_price

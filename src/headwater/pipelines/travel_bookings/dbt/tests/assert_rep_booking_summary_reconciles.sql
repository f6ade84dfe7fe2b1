-- The report's totals must equal the totals computed straight from the marts: fails with
-- one row per measure that does not reconcile.

with

report as (

    select
        sum(bookings) as bookings,
        sum(tickets) as tickets,
        sum(cancelled_bookings) as cancelled_bookings,
        sum(revenue_eur) as revenue_eur
    from {{ ref('rep_booking_summary') }}

),

bookings as (

    select
        count(*) as bookings,
        sum(case when booking_status = 'cancelled' then 1 else 0 end) as cancelled_bookings
    from {{ ref('dim_bookings') }}

),

sales as (

    select
        count(*) as tickets,
        coalesce(sum(case when booking_status <> 'cancelled' then price_eur end), 0)
            as revenue_eur
    from {{ ref('fct_ticket_sales') }}

),

comparisons as (

    select 'bookings' as measure, report.bookings as report_value, bookings.bookings as expected_value
    from report cross join bookings
    union all
    select 'cancelled_bookings', report.cancelled_bookings, bookings.cancelled_bookings
    from report cross join bookings
    union all
    select 'tickets', report.tickets, sales.tickets
    from report cross join sales
    union all
    select 'revenue_eur', report.revenue_eur, sales.revenue_eur
    from report cross join sales

)

select *
from comparisons
where coalesce(report_value, 0) <> coalesce(expected_value, 0)

-- A booking's total_amount is what its tickets cost: the sum of the amounts of every flight
-- coupon of every ticket in it. Fails on every booking where the two differ.

with

coupon_totals as (

    select
        tickets.book_ref,
        sum(coupons.amount) as coupons_amount
    from {{ ref('stg_flights__ticket_flights') }} as coupons
    inner join {{ ref('stg_flights__tickets') }} as tickets
        on coupons.ticket_no = tickets.ticket_no
    group by tickets.book_ref

)

select
    bookings.book_ref,
    bookings.total_amount,
    coupon_totals.coupons_amount
from {{ ref('stg_flights__bookings') }} as bookings
left join coupon_totals
    on bookings.book_ref = coupon_totals.book_ref
where coupon_totals.coupons_amount is null
    or bookings.total_amount <> coupon_totals.coupons_amount

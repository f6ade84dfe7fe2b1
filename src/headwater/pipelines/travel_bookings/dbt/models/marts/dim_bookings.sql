-- Current state of every booking: the open version (dbt_valid_to is null) of the snapshot,
-- never its history, so each booking appears exactly once.

with

current_bookings as (

    select * from {{ ref('bookings_snapshot') }}
    where dbt_valid_to is null

),

booking_counts as (

    select * from {{ ref('int_ticket_counts') }}

),

final as (

    select
        current_bookings.booking_id,
        cast(current_bookings.created_at as date) as booking_date,
        current_bookings.booking_status,
        current_bookings.user_selected_currency,
        current_bookings.partner_id_offer,
        coalesce(booking_counts.ticket_count, 0) as ticket_count,
        coalesce(booking_counts.passenger_count, 0) as passenger_count,
        coalesce(booking_counts.segment_count, 0) as segment_count,
        current_bookings.created_at,
        current_bookings.updated_at,
        current_bookings.dbt_valid_from as valid_from
    from current_bookings
    left join booking_counts
        on current_bookings.booking_id = booking_counts.booking_id

)

select * from final

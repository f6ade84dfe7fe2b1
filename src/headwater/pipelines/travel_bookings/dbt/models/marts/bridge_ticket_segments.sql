-- Ticket <-> segment, carrying the booking so either side can be reached without a join.

with

links as (

    select * from {{ ref('stg_travel__ticket_segments') }}

),

tickets as (

    select ticket_id, booking_id from {{ ref('stg_travel__tickets') }}

),

final as (

    select
        links.ticket_id,
        links.segment_id,
        tickets.booking_id,
        links.created_at as linked_at
    from links
    left join tickets
        on links.ticket_id = tickets.ticket_id

)

select * from final

with

passengers as (

    select * from {{ ref('stg_travel__passengers') }}

),

ticket_links as (

    select
        passenger_id,
        count(*) as ticket_count
    from {{ ref('stg_travel__ticket_passengers') }}
    group by passenger_id

),

final as (

    select
        passengers.passenger_id,
        passengers.booking_id,
        passengers.passenger_type,
        coalesce(ticket_links.ticket_count, 0) as ticket_count,
        passengers.created_at,
        passengers.updated_at
    from passengers
    left join ticket_links
        on passengers.passenger_id = ticket_links.passenger_id

)

select * from final

-- One row per passenger (travel document number). Name, phone and e-mail come from the
-- contact data JSON of the passenger's most recently changed ticket, so a passenger who
-- updated an address shows the new one; counts cover all their tickets.

with

tickets as (

    select
        ticket_no,
        book_ref,
        passenger_id,
        contact_data,
        created_at,
        updated_at
    from {{ ref('stg_flights__tickets') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by passenger_id
            order by updated_at desc, ticket_no desc
        ) as recency
    from tickets

),

latest_contact as (

    select
        passenger_id,
        {{ headwater_common.json_text('contact_data', 'name') }} as passenger_name,
        {{ headwater_common.json_text('contact_data', 'phone') }} as phone,
        lower({{ headwater_common.json_text('contact_data', 'email') }}) as email,
        updated_at as contact_updated_at
    from ranked
    where recency = 1

),

travel as (

    select
        passenger_id,
        count(*) as ticket_count,
        count(distinct book_ref) as booking_count,
        min(created_at) as first_ticket_at,
        max(created_at) as last_ticket_at
    from tickets
    group by passenger_id

),

final as (

    select
        latest_contact.passenger_id,
        latest_contact.passenger_name,
        latest_contact.phone,
        latest_contact.email,
        split_part(latest_contact.email, '@', 2) as email_domain,
        cast(travel.ticket_count as integer) as ticket_count,
        cast(travel.booking_count as integer) as booking_count,
        travel.first_ticket_at,
        travel.last_ticket_at,
        latest_contact.contact_updated_at
    from latest_contact
    inner join travel
        on latest_contact.passenger_id = travel.passenger_id

)

select * from final

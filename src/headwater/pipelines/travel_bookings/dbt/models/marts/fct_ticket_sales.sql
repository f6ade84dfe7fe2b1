{{
    config(
        materialized='incremental',
        unique_key='ticket_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

-- One row per ticket. Incremental: a run rebuilds only the tickets whose source changed
-- since the newest source_updated_at already in the table (minus a look-back), where a
-- change is one to the ticket, to its booking (so a status change reaches the fact) or a
-- new passenger/segment link of the ticket. Rows are replaced by ticket_id.

with

tickets as (

    select * from {{ ref('stg_travel__tickets') }}

),

-- dim_bookings holds only the current snapshot version of each booking, so the join
-- below cannot multiply tickets by booking versions.
bookings as (

    select
        booking_id,
        booking_date,
        booking_status,
        updated_at
    from {{ ref('dim_bookings') }}

),

currencies as (

    select
        currency_code,
        eur_rate
    from {{ ref('currencies') }}

),

ticket_passengers as (

    select
        ticket_id,
        count(*) as passenger_count,
        max(linked_at) as last_linked_at
    from {{ ref('bridge_ticket_passengers') }}
    group by ticket_id

),

ticket_segments as (

    select
        ticket_id,
        count(*) as segment_count,
        max(linked_at) as last_linked_at
    from {{ ref('bridge_ticket_segments') }}
    group by ticket_id

),

joined as (

    select
        tickets.ticket_id,
        tickets.booking_id,
        bookings.booking_date,
        bookings.booking_status,
        tickets.vendor_code,
        tickets.booking_currency,
        tickets.booking_price,
        currencies.eur_rate,
        cast(round(tickets.booking_price * currencies.eur_rate, 2) as decimal(14, 2))
            as price_eur,
        coalesce(ticket_passengers.passenger_count, 0) as passenger_count,
        coalesce(ticket_segments.segment_count, 0) as segment_count,
        -- coalesce: a missing booking or link must not turn the whole timestamp null
        greatest(
            tickets.updated_at,
            coalesce(bookings.updated_at, tickets.updated_at),
            coalesce(ticket_passengers.last_linked_at, tickets.updated_at),
            coalesce(ticket_segments.last_linked_at, tickets.updated_at)
        ) as source_updated_at
    from tickets
    -- left joins: a ticket whose booking or rate is missing shows up with nulls and fails
    -- the not_null tests instead of silently disappearing from the fact
    left join bookings
        on tickets.booking_id = bookings.booking_id
    left join currencies
        on tickets.booking_currency = currencies.currency_code
    left join ticket_passengers
        on tickets.ticket_id = ticket_passengers.ticket_id
    left join ticket_segments
        on tickets.ticket_id = ticket_segments.ticket_id

),

final as (

    select
        *,
        {{ dbt.current_timestamp() }} as transformed_at
    from joined
    {% if is_incremental() %}
    -- coalesce: an existing but empty table (a first run without data) must not filter
    -- every later row away
    where source_updated_at >= coalesce(
        (
            select
                {{ dbt.dateadd('hour', -var('fct_lookback_hours'), 'max(source_updated_at)') }}
            from {{ this }}
        ),
        cast('1900-01-01' as timestamp)
    )
    {% endif %}

)

select * from final

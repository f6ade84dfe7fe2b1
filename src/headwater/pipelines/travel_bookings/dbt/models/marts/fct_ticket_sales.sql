-- One row per ticket. Incremental (config in _marts__models.yml): a run rebuilds only the
-- tickets whose source changed since the newest source_updated_at already in the table
-- (minus a look-back), where a change is one to the ticket, to its booking (so a status
-- change reaches the fact) or a new passenger/segment link of the ticket. Rows are replaced
-- by ticket_id.

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
        {{ headwater_common.latest_change('tickets.updated_at', [
            'bookings.updated_at',
            'ticket_passengers.last_linked_at',
            'ticket_segments.last_linked_at',
        ]) }} as source_updated_at
    from tickets
    -- left joins: a ticket whose booking or rate is missing shows up with nulls and fails
    -- the not_null tests instead of silently disappearing from the fact
    left join bookings using (booking_id)
    left join ticket_passengers using (ticket_id)
    left join ticket_segments using (ticket_id)
    left join currencies
        on tickets.booking_currency = currencies.currency_code

),

final as (

    select
        *,
        {{ dbt.current_timestamp() }} as transformed_at
    from joined
    {{ headwater_common.incremental_lookback('source_updated_at', var('fct_lookback_hours')) }}

)

select * from final

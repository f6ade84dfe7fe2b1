-- One row per flight coupon of a ticket (ticket_no, flight_id): what was sold, to whom, in
-- which booking, for which flight, with date and time keys of the booking (UTC) and of the
-- scheduled departure and arrival (UTC and local time of the airport). Incremental (config
-- in _marts__models.yml): a run rebuilds the coupons whose coupon, ticket or booking changed
-- since the newest source_updated_at already in the table (minus a look-back). The schedule
-- of a flight is fixed once published, so flight changes (status, delays) do not touch this
-- fact.

with

coupons as (

    select * from {{ ref('stg_flights__ticket_flights') }}

),

tickets as (

    select ticket_no, book_ref, passenger_id, updated_at from {{ ref('stg_flights__tickets') }}

),

bookings as (

    select book_ref, booked_at, updated_at from {{ ref('stg_flights__bookings') }}

),

flights as (

    select
        flight_id,
        flight_no,
        departure_airport,
        arrival_airport,
        aircraft_code,
        scheduled_departure,
        scheduled_arrival
    from {{ ref('stg_flights__flights') }}

),

airports as (

    select airport_code, timezone from {{ ref('stg_flights__airports') }}

),

-- left joins: a coupon whose ticket, booking or flight is missing shows up with nulls and
-- fails the not_null tests instead of silently disappearing from the fact
joined as (

    select
        coupons.ticket_no,
        coupons.flight_id,
        tickets.book_ref,
        tickets.passenger_id,
        flights.flight_no,
        flights.departure_airport,
        flights.arrival_airport,
        flights.aircraft_code,
        coupons.fare_conditions,
        coupons.amount,
        bookings.booked_at,
        flights.scheduled_departure,
        flights.scheduled_arrival,
        {{ headwater_common.utc_to_local('flights.scheduled_departure', 'departure.timezone') }}
            as scheduled_departure_local,
        {{ headwater_common.utc_to_local('flights.scheduled_arrival', 'arrival.timezone') }}
            as scheduled_arrival_local,
        {{ headwater_common.latest_change('coupons.updated_at', ['tickets.updated_at', 'bookings.updated_at']) }}
            as source_updated_at
    from coupons
    left join tickets
        on coupons.ticket_no = tickets.ticket_no
    left join bookings
        on tickets.book_ref = bookings.book_ref
    left join flights
        on coupons.flight_id = flights.flight_id
    left join airports as departure
        on flights.departure_airport = departure.airport_code
    left join airports as arrival
        on flights.arrival_airport = arrival.airport_code

),

final as (

    select
        ticket_no,
        flight_id,
        book_ref,
        passenger_id,
        flight_no,
        departure_airport,
        arrival_airport,
        aircraft_code,
        fare_conditions,
        amount,
        booked_at,
        {{ headwater_common.date_key('booked_at') }} as booking_date_key,
        {{ headwater_common.time_key('booked_at') }} as booking_time_key,
        scheduled_departure,
        scheduled_departure_local,
        {{ headwater_common.date_key('scheduled_departure') }} as departure_date_key_utc,
        {{ headwater_common.time_key('scheduled_departure') }} as departure_time_key_utc,
        {{ headwater_common.date_key('scheduled_departure_local') }} as departure_date_key_local,
        {{ headwater_common.time_key('scheduled_departure_local') }} as departure_time_key_local,
        scheduled_arrival,
        scheduled_arrival_local,
        {{ headwater_common.date_key('scheduled_arrival') }} as arrival_date_key_utc,
        {{ headwater_common.time_key('scheduled_arrival') }} as arrival_time_key_utc,
        {{ headwater_common.date_key('scheduled_arrival_local') }} as arrival_date_key_local,
        {{ headwater_common.time_key('scheduled_arrival_local') }} as arrival_time_key_local,
        cast(floor({{ headwater_common.minutes_between('booked_at', 'scheduled_departure') }} / 1440.0) as integer)
            as days_booked_ahead,
        source_updated_at,
        {{ dbt.current_timestamp() }} as transformed_at
    from joined
    {{ headwater_common.incremental_lookback('source_updated_at', var('fct_lookback_hours')) }}

)

select * from final

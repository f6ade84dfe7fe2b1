-- One row per boarding pass: who boarded which flight, in which seat and cabin, in which
-- order, with the flight's date and time keys.

with

passes as (

    select * from {{ ref('stg_flights__boarding_passes') }}

),

coupons as (

    select ticket_no, flight_id, fare_conditions from {{ ref('stg_flights__ticket_flights') }}

),

tickets as (

    select ticket_no, book_ref, passenger_id from {{ ref('stg_flights__tickets') }}

),

flights as (

    select
        flight_id,
        flight_no,
        aircraft_code,
        departure_airport,
        arrival_airport,
        flight_date,
        flight_date_key,
        departure_date_key_local,
        departure_time_key_local,
        departure_date_key_utc,
        departure_time_key_utc
    from {{ ref('fct_flight_activity') }}

),

seats as (

    select aircraft_code, seat_no, fare_conditions, seat_row, is_window_seat
    from {{ ref('dim_seat') }}

),

final as (

    select
        passes.ticket_no,
        passes.flight_id,
        passes.boarding_no,
        passes.seat_no,
        tickets.book_ref,
        tickets.passenger_id,
        flights.flight_no,
        flights.aircraft_code,
        flights.departure_airport,
        flights.arrival_airport,
        flights.flight_date,
        flights.flight_date_key,
        flights.departure_date_key_local,
        flights.departure_time_key_local,
        flights.departure_date_key_utc,
        flights.departure_time_key_utc,
        coupons.fare_conditions,
        seats.fare_conditions as seat_fare_conditions,
        seats.seat_row,
        seats.is_window_seat,
        passes.created_at as boarded_at
    from passes
    left join coupons
        on passes.ticket_no = coupons.ticket_no
        and passes.flight_id = coupons.flight_id
    left join tickets
        on passes.ticket_no = tickets.ticket_no
    left join flights
        on passes.flight_id = flights.flight_id
    left join seats
        on flights.aircraft_code = seats.aircraft_code
        and passes.seat_no = seats.seat_no

)

select * from final

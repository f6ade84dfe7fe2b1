-- Seat occupancy per flight and flight date, for the flights that have departed (only then
-- is it known who sat where): seats of the aircraft, seats sold, seats occupied (boarding
-- passes), seats left empty, and the no-shows who bought a seat but did not board.

with

flown as (

    select
        flight_id,
        flight_date,
        flight_date_key,
        flight_no,
        route,
        departure_airport,
        arrival_airport,
        aircraft_code,
        total_seats,
        seats_sold,
        passengers_boarded
    from {{ ref('fct_flight_activity') }}
    where status in ('departed', 'arrived')

),

final as (

    select
        flight_id,
        flight_date,
        flight_date_key,
        flight_no,
        route,
        departure_airport,
        arrival_airport,
        aircraft_code,
        total_seats,
        seats_sold,
        passengers_boarded as occupied_seats,
        total_seats - passengers_boarded as empty_seats,
        seats_sold - passengers_boarded as no_shows,
        cast(round(1.0 * passengers_boarded / nullif(total_seats, 0), 4) as decimal(6, 4))
            as occupancy_rate
    from flown

)

select * from final

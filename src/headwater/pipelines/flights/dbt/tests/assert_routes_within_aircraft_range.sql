-- An aircraft type can only fly routes shorter than its range: fails on every flight whose
-- great-circle distance exceeds the range of its aircraft.

select
    flights.flight_id,
    flights.route,
    flights.aircraft_code,
    flights.distance_km,
    aircraft.range_km
from {{ ref('fct_flight_activity') }} as flights
inner join {{ ref('dim_aircraft') }} as aircraft
    on flights.aircraft_code = aircraft.aircraft_code
where flights.distance_km > aircraft.range_km

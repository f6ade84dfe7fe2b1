-- One row per flight: schedule and actual times in UTC and in the local time of each
-- airport, delays, travel time, distance and loads. Delays and travel time are null until
-- they happened (departure delay once departed, arrival delay and travel time once arrived),
-- so averages only cover flights that flew.

with

flights as (

    select * from {{ ref('stg_flights__flights') }}

),

airports as (

    select airport_code, timezone, latitude, longitude from {{ ref('stg_flights__airports') }}

),

-- How many versions of the flight the snapshot has seen (1 + the status changes caught).
status_history as (

    select
        flight_id,
        count(*) as status_versions
    from {{ ref('flights_snapshot') }}
    group by flight_id

),

loads as (

    select * from {{ ref('int_flight_loads') }}

),

located as (

    select
        flights.*,
        {{ headwater_common.utc_to_local('flights.scheduled_departure', 'departure.timezone') }}
            as scheduled_departure_local,
        {{ headwater_common.utc_to_local('flights.scheduled_arrival', 'arrival.timezone') }}
            as scheduled_arrival_local,
        {{ headwater_common.utc_to_local('flights.actual_departure', 'departure.timezone') }}
            as actual_departure_local,
        {{ headwater_common.utc_to_local('flights.actual_arrival', 'arrival.timezone') }}
            as actual_arrival_local,
        {{ headwater_common.great_circle_km(
            'departure.latitude', 'departure.longitude', 'arrival.latitude', 'arrival.longitude'
        ) }} as distance_km
    from flights
    left join airports as departure
        on flights.departure_airport = departure.airport_code
    left join airports as arrival
        on flights.arrival_airport = arrival.airport_code

),

measured as (

    select
        *,
        {{ headwater_common.minutes_between('scheduled_departure', 'actual_departure') }}
            as departure_delay_minutes,
        {{ headwater_common.minutes_between('scheduled_arrival', 'actual_arrival') }}
            as arrival_delay_minutes,
        {{ headwater_common.minutes_between('scheduled_departure', 'scheduled_arrival') }}
            as scheduled_duration_minutes,
        {{ headwater_common.minutes_between('actual_departure', 'actual_arrival') }}
            as actual_duration_minutes
    from located

),

final as (

    select
        measured.flight_id,
        measured.flight_no,
        measured.departure_airport,
        measured.arrival_airport,
        measured.departure_airport || '-' || measured.arrival_airport as route,
        measured.aircraft_code,
        measured.status,
        -- the airline's flight date: the local date of the scheduled departure
        cast(measured.scheduled_departure_local as date) as flight_date,
        {{ headwater_common.date_key('measured.scheduled_departure_local') }} as flight_date_key,
        measured.scheduled_departure,
        measured.scheduled_arrival,
        measured.actual_departure,
        measured.actual_arrival,
        measured.scheduled_departure_local,
        measured.scheduled_arrival_local,
        measured.actual_departure_local,
        measured.actual_arrival_local,
        {{ headwater_common.date_key('measured.scheduled_departure') }} as departure_date_key_utc,
        {{ headwater_common.time_key('measured.scheduled_departure') }} as departure_time_key_utc,
        {{ headwater_common.date_key('measured.scheduled_departure_local') }} as departure_date_key_local,
        {{ headwater_common.time_key('measured.scheduled_departure_local') }} as departure_time_key_local,
        {{ headwater_common.date_key('measured.scheduled_arrival') }} as arrival_date_key_utc,
        {{ headwater_common.time_key('measured.scheduled_arrival') }} as arrival_time_key_utc,
        {{ headwater_common.date_key('measured.scheduled_arrival_local') }} as arrival_date_key_local,
        {{ headwater_common.time_key('measured.scheduled_arrival_local') }} as arrival_time_key_local,
        measured.departure_delay_minutes,
        measured.arrival_delay_minutes,
        measured.departure_delay_minutes >= {{ var('delay_threshold_minutes') }} as is_delayed,
        measured.status = 'cancelled' as is_cancelled,
        measured.scheduled_duration_minutes,
        -- travel time, from actual departure to actual arrival
        measured.actual_duration_minutes,
        cast(round(measured.distance_km) as integer) as distance_km,
        loads.total_seats,
        loads.seats_sold,
        loads.passengers_boarded,
        cast(round(1.0 * loads.seats_sold / nullif(loads.total_seats, 0), 4) as decimal(6, 4))
            as load_factor,
        cast(coalesce(status_history.status_versions, 0) as integer) as status_versions,
        measured.created_at as published_at,
        measured.updated_at
    from measured
    left join loads
        on measured.flight_id = loads.flight_id
    left join status_history
        on measured.flight_id = status_history.flight_id

)

select * from final

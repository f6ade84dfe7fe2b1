-- Per flight: the seats of its aircraft, the seats sold (ticket coupons) in total and per
-- fare class, and the passengers who boarded. Every flight appears, with zeros where nothing
-- was sold or nobody boarded yet.

with

flights as (

    select flight_id, aircraft_code from {{ ref('stg_flights__flights') }}

),

aircraft_seats as (

    select * from {{ ref('int_aircraft_seat_counts') }}

),

sold as (

    select
        flight_id,
        count(*) as seats_sold,
        sum(case when fare_conditions = 'Business' then 1 else 0 end) as business_sold,
        sum(case when fare_conditions = 'Comfort' then 1 else 0 end) as comfort_sold,
        sum(case when fare_conditions = 'Economy' then 1 else 0 end) as economy_sold
    from {{ ref('stg_flights__ticket_flights') }}
    group by flight_id

),

boarded as (

    select
        flight_id,
        count(*) as passengers_boarded
    from {{ ref('stg_flights__boarding_passes') }}
    group by flight_id

),

final as (

    select
        flights.flight_id,
        aircraft_seats.total_seats,
        aircraft_seats.business_seats,
        aircraft_seats.comfort_seats,
        aircraft_seats.economy_seats,
        cast(coalesce(sold.seats_sold, 0) as integer) as seats_sold,
        cast(coalesce(sold.business_sold, 0) as integer) as business_sold,
        cast(coalesce(sold.comfort_sold, 0) as integer) as comfort_sold,
        cast(coalesce(sold.economy_sold, 0) as integer) as economy_sold,
        cast(coalesce(boarded.passengers_boarded, 0) as integer) as passengers_boarded
    from flights
    left join aircraft_seats
        on flights.aircraft_code = aircraft_seats.aircraft_code
    left join sold
        on flights.flight_id = sold.flight_id
    left join boarded
        on flights.flight_id = boarded.flight_id

)

select * from final

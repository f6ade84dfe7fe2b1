-- Seats per aircraft type, in total and per fare class, from the seat maps. Every aircraft
-- type appears (with zeros if it has no seat map), so a missing map shows up in the tests.

with

aircrafts as (

    select aircraft_code from {{ ref('stg_flights__aircrafts') }}

),

seats as (

    select aircraft_code, fare_conditions from {{ ref('stg_flights__seats') }}

),

counts as (

    select
        aircraft_code,
        count(*) as total_seats,
        sum(case when fare_conditions = 'Business' then 1 else 0 end) as business_seats,
        sum(case when fare_conditions = 'Comfort' then 1 else 0 end) as comfort_seats,
        sum(case when fare_conditions = 'Economy' then 1 else 0 end) as economy_seats
    from seats
    group by aircraft_code

),

final as (

    select
        aircrafts.aircraft_code,
        cast(coalesce(counts.total_seats, 0) as integer) as total_seats,
        cast(coalesce(counts.business_seats, 0) as integer) as business_seats,
        cast(coalesce(counts.comfort_seats, 0) as integer) as comfort_seats,
        cast(coalesce(counts.economy_seats, 0) as integer) as economy_seats
    from aircrafts
    left join counts
        on aircrafts.aircraft_code = counts.aircraft_code

)

select * from final

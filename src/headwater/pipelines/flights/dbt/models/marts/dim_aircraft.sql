with

aircrafts as (

    select * from {{ ref('stg_flights__aircrafts') }}

),

seat_counts as (

    select * from {{ ref('int_aircraft_seat_counts') }}

),

final as (

    select
        aircrafts.aircraft_code,
        aircrafts.aircraft_model,
        aircrafts.range_km,
        seat_counts.total_seats,
        seat_counts.business_seats,
        seat_counts.comfort_seats,
        seat_counts.economy_seats,
        aircrafts.created_at,
        aircrafts.updated_at
    from aircrafts
    left join seat_counts
        on aircrafts.aircraft_code = seat_counts.aircraft_code

)

select * from final

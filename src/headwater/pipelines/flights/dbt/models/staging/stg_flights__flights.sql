with

source as (

    select * from {{ source('flights', 'flights') }}

),

renamed as (

    select
        cast(flight_id as bigint) as flight_id,
        cast(flight_no as varchar(6)) as flight_no,
        cast(departure_airport as varchar(3)) as departure_airport,
        cast(arrival_airport as varchar(3)) as arrival_airport,
        cast(aircraft_code as varchar(3)) as aircraft_code,
        cast(status as varchar(10)) as status,
        cast(scheduled_departure as timestamp) as scheduled_departure,
        cast(scheduled_arrival as timestamp) as scheduled_arrival,
        cast(actual_departure as timestamp) as actual_departure,
        cast(actual_arrival as timestamp) as actual_arrival,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

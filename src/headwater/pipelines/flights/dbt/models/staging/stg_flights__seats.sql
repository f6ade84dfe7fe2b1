with

source as (

    select * from {{ source('flights', 'seats') }}

),

renamed as (

    select
        cast(aircraft_code as varchar(3)) as aircraft_code,
        cast(seat_no as varchar(4)) as seat_no,
        cast(fare_conditions as varchar(10)) as fare_conditions,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

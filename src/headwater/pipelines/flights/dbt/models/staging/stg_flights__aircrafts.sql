with

source as (

    select * from {{ source('flights', 'aircrafts') }}

),

renamed as (

    select
        cast(aircraft_code as varchar(3)) as aircraft_code,
        cast(model as varchar) as aircraft_model,
        cast(range_km as integer) as range_km,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

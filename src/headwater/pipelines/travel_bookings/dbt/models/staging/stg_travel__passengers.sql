with

source as (

    select * from {{ source('travel', 'passenger') }}

),

renamed as (

    select
        cast(passenger_id as bigint) as passenger_id,
        cast(booking_id as bigint) as booking_id,
        cast(type as varchar) as passenger_type,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

with

source as (

    select * from {{ source('travel', 'segment') }}

),

renamed as (

    select
        cast(segment_id as bigint) as segment_id,
        cast(booking_id as bigint) as booking_id,
        cast(carrier_name as varchar) as carrier_name,
        cast(travel_mode as varchar) as travel_mode,
        cast(departure_at as timestamp) as departure_at,
        cast(arrival_at as timestamp) as arrival_at,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

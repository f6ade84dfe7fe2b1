with

source as (

    select * from {{ source('flights', 'boarding_passes') }}

),

renamed as (

    select
        cast(ticket_no as varchar(13)) as ticket_no,
        cast(flight_id as bigint) as flight_id,
        cast(boarding_no as integer) as boarding_no,
        cast(seat_no as varchar(4)) as seat_no,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

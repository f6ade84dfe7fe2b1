with

source as (

    select * from {{ source('flights', 'ticket_flights') }}

),

renamed as (

    select
        cast(ticket_no as varchar(13)) as ticket_no,
        cast(flight_id as bigint) as flight_id,
        cast(fare_conditions as varchar(10)) as fare_conditions,
        cast(amount as decimal(10, 2)) as amount,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

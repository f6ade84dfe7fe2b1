with

source as (

    select * from {{ source('travel', 'ticket_passenger') }}

),

renamed as (

    select
        cast(ticket_id as bigint) as ticket_id,
        cast(passenger_id as bigint) as passenger_id,
        cast(created_at as timestamp) as created_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

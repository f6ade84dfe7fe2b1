with

source as (

    select * from {{ source('flights', 'tickets') }}

),

renamed as (

    select
        cast(ticket_no as varchar(13)) as ticket_no,
        cast(book_ref as varchar(6)) as book_ref,
        cast(passenger_id as varchar(20)) as passenger_id,
        -- JSON text with name, phone and email; parsed in dim_passenger.
        cast(contact_data as varchar) as contact_data,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

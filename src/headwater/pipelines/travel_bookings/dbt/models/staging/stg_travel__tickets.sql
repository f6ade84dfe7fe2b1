with

source as (

    select * from {{ source('travel', 'ticket') }}

),

renamed as (

    select
        cast(ticket_id as bigint) as ticket_id,
        cast(booking_id as bigint) as booking_id,
        cast(vendor_code as varchar) as vendor_code,
        cast(booking_currency as varchar(3)) as booking_currency,
        -- DOUBLE when the source is SQLite, NUMERIC(12,2) from Postgres: one type here.
        cast(booking_price as decimal(12, 2)) as booking_price,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

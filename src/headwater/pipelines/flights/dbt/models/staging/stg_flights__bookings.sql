with

source as (

    select * from {{ source('flights', 'bookings') }}

),

renamed as (

    select
        cast(book_ref as varchar(6)) as book_ref,
        cast(book_date as timestamp) as booked_at,
        -- DOUBLE when the source is SQLite, NUMERIC(12,2) from Postgres: one type here.
        cast(total_amount as decimal(12, 2)) as total_amount,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

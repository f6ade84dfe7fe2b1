-- Bronze: the delivered rows as they are (text), with the load timestamp silver merges on.
with source as (

    select * from {{ source('forex', 'transactions') }}

),

renamed as (

    select
        transaction_id,
        customer_id,
        transaction_date,
        product_id,
        product_name,
        quantity,
        price,
        tax,
        first_name,
        last_name,
        email,
        phone,
        country,
        city,
        _source_file as source_file,
        _loaded_at as load_timestamp
    from source

)

select * from renamed

with

source as (

    select * from {{ source('travel', 'booking') }}

),

renamed as (

    select
        cast(booking_id as bigint) as booking_id,
        cast(user_selected_currency as varchar(3)) as user_selected_currency,
        cast(partner_id_offer as varchar) as partner_id_offer,
        cast(status as varchar) as booking_status,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

with

source as (

    select * from {{ source('flights', 'airports') }}

),

renamed as (

    select
        cast(airport_code as varchar(3)) as airport_code,
        cast(airport_name as varchar) as airport_name,
        cast(city as varchar) as city,
        cast(country as varchar) as country,
        cast(latitude as double precision) as latitude,
        cast(longitude as double precision) as longitude,
        cast(timezone as varchar) as timezone,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        cast(_loaded_at as timestamp) as loaded_at,
        cast(_run_id as varchar) as load_run_id

    from source

)

select * from renamed

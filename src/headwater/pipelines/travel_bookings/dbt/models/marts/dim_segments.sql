with

segments as (

    select * from {{ ref('stg_travel__segments') }}

),

final as (

    select
        segment_id,
        booking_id,
        carrier_name,
        travel_mode,
        departure_at,
        arrival_at,
        cast(departure_at as date) as departure_date,
        cast(arrival_at as date) as arrival_date,
        {{ dbt.datediff('departure_at', 'arrival_at', 'minute') }} as duration_minutes,
        created_at,
        updated_at
    from segments

)

select * from final

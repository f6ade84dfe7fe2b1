-- One row per airport, with its IANA time zone and the UTC offsets it has in winter and in
-- summer (local times in the facts come from the time zone itself, DST included).

with

airports as (

    select * from {{ ref('stg_flights__airports') }}

),

offsets as (

    select
        *,
        {{ headwater_common.minutes_between(
            "cast('2025-01-15 12:00:00' as timestamp)",
            headwater_common.utc_to_local("cast('2025-01-15 12:00:00' as timestamp)", 'timezone')
        ) }} as winter_utc_offset_minutes,
        {{ headwater_common.minutes_between(
            "cast('2025-07-15 12:00:00' as timestamp)",
            headwater_common.utc_to_local("cast('2025-07-15 12:00:00' as timestamp)", 'timezone')
        ) }} as summer_utc_offset_minutes
    from airports

),

final as (

    select
        airport_code,
        airport_name,
        city,
        country,
        latitude,
        longitude,
        timezone,
        winter_utc_offset_minutes,
        summer_utc_offset_minutes,
        created_at,
        updated_at
    from offsets

)

select * from final

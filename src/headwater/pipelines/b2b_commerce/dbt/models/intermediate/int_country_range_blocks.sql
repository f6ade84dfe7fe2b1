-- The country ranges as integers, each spread over the /16 blocks it touches (one row per
-- range and block). An address finds its range by an equality on its block and a between
-- on the few ranges of that block: the join scales with the number of requests, not with
-- requests x ranges, and never compares text.

with

ranges as (

    select
        country_code,
        country_name,
        start_ip,
        {{ ipv4_to_bigint('start_ip') }} as start_int,
        {{ ipv4_to_bigint('end_ip') }} as end_int
    from {{ ref('stg_b2b__country_ranges') }}

),

blocks as (

    select
        country_code,
        country_name,
        start_ip,
        start_int,
        end_int,
        {{ bucket_series(
            'cast(floor(start_int / 65536.0) as bigint)',
            'cast(floor(end_int / 65536.0) as bigint)'
        ) }} as block
    from ranges

)

select * from blocks

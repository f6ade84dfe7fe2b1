-- Every request of the journey is in at most one country's range: counted here from the
-- ranges themselves (every range holding the address, by the same block-and-between rule),
-- not from the fact's own country column.

with

events as (

    select source_file, source_line, {{ ipv4_to_bigint('ip') }} as ip_int
    from {{ ref('fct_user_journey') }}

),

blocks as (

    select start_ip, start_int, end_int, block
    from {{ ref('int_country_range_blocks') }}

)

select
    events.source_file,
    events.source_line,
    count(distinct blocks.start_ip) as ranges_holding_it
from events
inner join blocks
    on blocks.block = cast(floor(events.ip_int / 65536.0) as bigint)
    and events.ip_int between blocks.start_int and blocks.end_int
group by events.source_file, events.source_line
having count(distinct blocks.start_ip) > 1

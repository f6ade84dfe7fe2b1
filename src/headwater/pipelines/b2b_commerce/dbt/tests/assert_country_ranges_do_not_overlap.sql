-- Ranges must not overlap: if they did, an address could fall in two countries and the
-- journey's range join would fan out. Fails on every range that starts at or before the end
-- of the range before it.

with

ranges as (

    select distinct start_ip, start_int, end_int
    from {{ ref('int_country_range_blocks') }}

),

ordered as (

    select
        start_ip,
        start_int,
        lag(end_int) over (order by start_int, end_int) as previous_end
    from ranges

)

select start_ip, start_int, previous_end
from ordered
where start_int <= previous_end

-- Which territory each salesperson covered when: one row per (salesperson, start, territory).

select
    businessentityid as sales_person_id,
    territoryid as territory_id,
    startdate as started_at,
    enddate as ended_at,
    enddate is null as is_current
from {{ ref('stg_pacbikes__sales_territory_history') }}

-- Each salesperson's quota from each quota date on: one row per (salesperson, quota date).

select
    quotas.businessentityid as sales_person_id,
    quotas.quotadate as quota_at,
    cast(quotas.quotadate as date) as quota_date,
    quotas.salesquota as sales_quota,
    sales_persons.territoryid as territory_id
from {{ ref('stg_pacbikes__sales_person_quota_history') }} as quotas
left join {{ ref('stg_pacbikes__sales_persons') }} as sales_persons
    on sales_persons.businessentityid = quotas.businessentityid

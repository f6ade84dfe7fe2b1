-- Sales per country the transactions name.
select
    l.country,
    count(distinct f.customer_id) as customers,
    count(*) as transactions,
    sum(f.quantity) as units,
    sum(f.revenue) as revenue,
    sum(f.total) as total
from {{ ref('fct_transactions') }} as f
join {{ ref('dim_location') }} as l on l.location_key = f.location_key
group by l.country

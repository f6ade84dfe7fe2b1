-- Sales per known customer (transactions delivered without a customer_id are left out:
-- they belong to nobody we can name).
select
    c.customer_id,
    c.first_name,
    c.last_name,
    c.email,
    c.country,
    count(*) as transactions,
    sum(f.quantity) as units,
    sum(f.revenue) as revenue,
    sum(f.total) as total
from {{ ref('fct_transactions') }} as f
join {{ ref('dim_customer') }} as c on c.customer_id = f.customer_id
group by c.customer_id, c.first_name, c.last_name, c.email, c.country

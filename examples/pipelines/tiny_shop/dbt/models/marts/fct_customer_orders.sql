-- One row per customer: how many orders and how much they spent (customers without orders: 0).
select c.customer_id, c.name, count(o.order_id) as orders, coalesce(sum(o.amount), 0) as amount
from {{ ref('stg_customers') }} as c
left join {{ ref('stg_orders') }} as o on o.customer_id = c.customer_id
group by c.customer_id, c.name

-- Why customers bought: one row per (order, sales reason). Left join to the order: a reason
-- whose order is missing keeps its row (and fails the relationship test) instead of vanishing.

select
    reasons.salesorderid as sales_order_id,
    reasons.salesreasonid as sales_reason_id,
    cast(headers.orderdate as date) as order_date,
    headers.customerid as customer_id,
    headers.territoryid as territory_id
from {{ ref('stg_pacbikes__sales_order_header_sales_reasons') }} as reasons
left join {{ ref('stg_pacbikes__sales_order_headers') }} as headers
    on headers.salesorderid = reasons.salesorderid

-- Every order line of the raw table (its staging view, one row per raw row) is in the fact, once: the seed's inner joins on nullable
-- keys (salesperson, currency rate) silently dropped orders. Fails on each raw line missing
-- from fct_sales_order_line.

select
    raw.salesorderid,
    raw.salesorderdetailid
from {{ ref('stg_pacbikes__sales_order_details') }} as raw
left join {{ ref('fct_sales_order_line') }} as fact
    on fact.sales_order_id = raw.salesorderid
    and fact.sales_order_detail_id = raw.salesorderdetailid
where fact.sales_order_id is null

-- Each order line joins exactly one product version, the one valid at the order's moment:
-- fails on lines with no version or with several (overlapping versions would fan out).

select
    fact.sales_order_id,
    fact.sales_order_detail_id,
    count(versions.dbt_scd_id) as versions
from {{ ref('fct_sales_order_line') }} as fact
left join {{ ref('product_snapshot') }} as versions
    on versions.productid = fact.product_id
    and fact.ordered_at >= versions.dbt_valid_from
    and (fact.ordered_at < versions.dbt_valid_to or versions.dbt_valid_to is null)
group by fact.sales_order_id, fact.sales_order_detail_id
having count(versions.dbt_scd_id) <> 1

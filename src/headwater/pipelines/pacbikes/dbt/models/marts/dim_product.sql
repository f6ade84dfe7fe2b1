-- Products as they are now: the current version (dbt_valid_to is null) of product_snapshot,
-- one row per product. Price history lives in the snapshot; facts join it by order date.

select
    productid as product_id,
    name as product_name,
    productnumber as product_number,
    productline as product_line,
    color,
    standardcost as standard_cost,
    listprice as list_price,
    dbt_valid_from as current_since
from {{ ref('product_snapshot') }}
where dbt_valid_to is null

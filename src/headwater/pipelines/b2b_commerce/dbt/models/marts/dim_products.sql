-- The catalogue as the dashboards name it: one row per product, current list price.

select
    product_id,
    product_name,
    category,
    price,
    updated_at
from {{ ref('stg_b2b__products') }}

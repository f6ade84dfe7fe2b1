{{ config(unique_key='product_id') }}
-- Gold: one row per product, its name and unit price as of its latest transaction.
select
    product_id,
    product_name,
    unit_price as latest_unit_price,
    last_loaded as load_timestamp
from ({{ forex.latest_per('product_id') }}) as latest

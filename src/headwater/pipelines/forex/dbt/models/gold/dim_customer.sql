{{ config(unique_key='customer_id') }}
-- Gold: one row per customer, with the name, email and place of their latest transaction.
-- Emails repeat across customers (families, shared accounts): never a key, never unique.
select
    customer_id,
    first_name,
    last_name,
    email,
    phone,
    country,
    city,
    last_loaded as load_timestamp
from ({{ forex.latest_per('customer_id') }}) as latest

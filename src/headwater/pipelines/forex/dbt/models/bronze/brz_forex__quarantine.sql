-- Bronze: the delivered rows that cannot be used, with the reason (their latest delivery;
-- a correction that makes a row usable takes it out of here and into silver).
select
    transaction_id,
    quarantine_reason as reason,
    customer_id_text as customer_id,
    transaction_date_text as transaction_date,
    product_id_text as product_id,
    quantity_text as quantity,
    price_text as price,
    tax_text as tax,
    source_file,
    load_timestamp
from {{ ref('brz_forex__transactions_read') }}
where quarantine_reason is not null

{{
    config(
        unique_key='transaction_id',
        post_hook="delete from {{ this }} where transaction_id not in (select transaction_id from {{ ref('slv_forex__transactions') }})",
    )
}}
-- Gold: one row per usable transaction, keyed by the source's own transaction_id. A row whose
-- correction made it unusable left silver; the post-hook removes it here too. A transaction
-- without a customer_id keeps a NULL customer key (no fake "unknown" customer row).
select
    transaction_id,
    {{ headwater_common.date_key('transaction_date') }} as date_key,
    transaction_date,
    customer_id,
    product_id,
    case when country is not null and city is not null then md5(country || '|' || city) end as location_key,
    quantity,
    unit_price,
    tax,
    cast(quantity * unit_price as numeric(14, 2)) as revenue,
    cast(quantity * unit_price + tax as numeric(14, 2)) as total,
    date_is_ambiguous,
    load_timestamp
from ({{ changed_silver() }}) as changed

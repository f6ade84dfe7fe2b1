{{
    config(
        unique_key='transaction_id',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where transaction_id in (select transaction_id from {{ ref('brz_forex__quarantine') }})",
    )
}}
-- Silver: usable transactions, cleaned and typed, merged incrementally on load_timestamp (a
-- correction delivered later replaces the row). A row whose correction made it unusable
-- leaves silver (post-hook) and is found in bronze's quarantine instead.
with read as (

    select * from {{ ref('brz_forex__transactions_read') }}
    where quarantine_reason is null
    {% if is_incremental() %}
        and load_timestamp > (select coalesce(max(load_timestamp), cast('1900-01-01' as timestamp)) from {{ this }})
    {% endif %}

)

select
    transaction_id,
    customer_id_value as customer_id,
    transaction_date_value as transaction_date,
    date_format,
    date_format = 'ambiguous_read_day_first' as date_is_ambiguous,
    product_id_value as product_id,
    {{ forex.proper_case('product_name_text') }} as product_name,
    quantity_value as quantity,
    price_value as unit_price,
    tax_value as tax,
    price_in_words,
    tax_in_words,
    {{ forex.proper_case('first_name_text') }} as first_name,
    {{ forex.proper_case('last_name_text') }} as last_name,
    lower(email_text) as email,
    phone_text as phone,
    {{ forex.proper_case('country_text') }} as country,
    {{ forex.proper_case('city_text') }} as city,
    source_file,
    load_timestamp
from read

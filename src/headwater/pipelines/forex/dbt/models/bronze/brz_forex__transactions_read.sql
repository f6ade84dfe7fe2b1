{{ config(materialized='table') }}
-- Bronze: every delivered value read by the cleaning rules (macros/forex_cleaning.sql), and
-- the reason a row cannot be used, if any. NULL means "could not be read", never a guess.
-- A table, not a view: the quarantine model, silver and their tests all read it.
with delivered as (

    select * from {{ ref('brz_forex__transactions') }}

),

cleaned as (

    select
        transaction_id,
        {% for column in ['customer_id', 'transaction_date', 'product_id', 'product_name', 'quantity',
                          'price', 'tax', 'first_name', 'last_name', 'email', 'phone', 'country', 'city'] %}
        {{ forex.clean_text(column) }} as {{ column }}_text,
        {% endfor %}
        source_file,
        load_timestamp
    from delivered

),

read as (

    select
        *,
        {{ forex.normal_words('price_text') }} as price_words,
        {{ forex.normal_words('tax_text') }} as tax_words,
        {{ forex.date_format_of('transaction_date_text') }} as date_format
    from cleaned

),

parsed as (

    select
        *,
        {{ forex.integer_id('customer_id_text') }} as customer_id_value,
        {{ forex.integer_id('product_id_text') }} as product_id_value,
        case when {{ headwater_common.regex_full_match('quantity_text', '[0-9]+') }}
             then cast(quantity_text as integer) end as quantity_value,
        {{ forex.amount('price_text', 'price_words') }} as price_value,
        {{ forex.amount('tax_text', 'tax_words') }} as tax_value,
        coalesce({{ forex.is_number_words('price_words') }}, false) as price_in_words,
        coalesce({{ forex.is_number_words('tax_words') }}, false) as tax_in_words,
        {{ forex.parse_date('transaction_date_text', 'date_format') }} as transaction_date_value
    from read

)

select
    *,
    case
        when quantity_text is null then 'missing quantity'
        when quantity_value is null then 'quantity is not a whole number'
        when transaction_date_value is null then 'unparseable transaction_date'
        when price_value is null then 'price is not a number or number words'
        when tax_value is null then 'tax is not a number or number words'
        when product_id_value is null then 'missing product_id'
    end as quarantine_reason
from parsed

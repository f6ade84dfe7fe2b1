-- Currencies as the currency API lists them.

select
    currencycode as currency_code,
    name as currency_name,
    modifieddate as modified_at
from {{ ref('stg_pacbikes__currencies') }}

-- Daily USD exchange rates.

select
    currencyrateid as currency_rate_id,
    cast(currencyratedate as date) as rate_date,
    fromcurrencycode as from_currency_code,
    tocurrencycode as to_currency_code,
    averagerate as average_rate,
    endofdayrate as end_of_day_rate
from {{ ref('stg_pacbikes__currency_rates') }}

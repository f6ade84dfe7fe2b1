-- One row per day from the first order, rate or quota day to the last (at least today), with
-- PacBikes' fiscal year and quarter from the fiscal_months seed.

with

calendar as (

    {{ headwater_common.date_dimension(
        dates=[
            [ref('stg_pacbikes__sales_order_headers'), 'orderdate'],
            [ref('stg_pacbikes__currency_rates'), 'currencyratedate'],
            [ref('stg_pacbikes__sales_person_quota_history'), 'quotadate'],
        ],
    ) }}

),

fiscal as (

    select * from {{ ref('fiscal_months') }}

)

select
    calendar.*,
    calendar.year_number + fiscal.fiscal_year_offset as fiscal_year,
    fiscal.fiscal_quarter,
    fiscal.season
from calendar
left join fiscal on calendar.month_number = fiscal.month_number

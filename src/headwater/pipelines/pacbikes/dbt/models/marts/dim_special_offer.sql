select
    specialofferid as special_offer_id,
    description as special_offer_description,
    discountpct as discount_pct,
    type as offer_type,
    category as offer_category,
    startdate as start_date,
    enddate as end_date,
    minqty as min_qty,
    maxqty as max_qty
from {{ ref('stg_pacbikes__special_offers') }}

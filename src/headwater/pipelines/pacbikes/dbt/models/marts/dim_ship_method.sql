select
    shipmethodid as ship_method_id,
    name as ship_method_name,
    shipbase as ship_base,
    shiprate as ship_rate
from {{ ref('stg_pacbikes__ship_methods') }}

select
    territoryid as territory_id,
    name as territory_name,
    countryregioncode as country_region_code,
    territorygroup as territory_group
from {{ ref('stg_pacbikes__sales_territories') }}

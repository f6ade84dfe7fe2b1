-- Stores (resellers) with their salesperson, if they have one (left join: null otherwise).

select
    stores.businessentityid as store_id,
    stores.name as store_name,
    stores.salespersonid as sales_person_id
from {{ ref('stg_pacbikes__stores') }} as stores

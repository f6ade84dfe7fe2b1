select
    salesreasonid as sales_reason_id,
    name as sales_reason_name,
    reasontype as reason_type
from {{ ref('stg_pacbikes__sales_reasons') }}

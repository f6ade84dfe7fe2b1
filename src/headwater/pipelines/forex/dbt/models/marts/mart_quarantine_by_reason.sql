-- Where the delivered rows went: usable (silver) or quarantined, by reason, with their share.
-- Lines the EL engine could not key or read (no transaction_id, broken CSV) count too.
with outcomes as (

    select 'usable' as outcome, count(*) as rows_count from {{ ref('slv_forex__transactions') }}
    union all
    select reason, count(*) from {{ ref('brz_forex__quarantine') }} group by reason
    union all
    select reason, count(*) from {{ source('headwater', 'quarantine') }}
    where pipeline = 'forex' and table_name = 'transactions'
    group by reason

)

select
    outcome,
    rows_count,
    cast(rows_count as double precision) / sum(rows_count) over () as share
from outcomes

-- Nobody can have boarded a flight that has not left: fails on every boarding pass whose
-- flight is not departed or arrived, and on every pass recorded before the actual departure.

select
    passes.ticket_no,
    passes.flight_id,
    flights.status,
    flights.actual_departure,
    passes.boarded_at
from {{ ref('fct_boarding_pass') }} as passes
left join {{ ref('fct_flight_activity') }} as flights
    on passes.flight_id = flights.flight_id
where flights.status is null
    or flights.status not in ('departed', 'arrived')
    or passes.boarded_at < flights.actual_departure

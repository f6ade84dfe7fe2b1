{{ config(severity='warn') }}
-- Requests from an address in no country's range (a proxy, a range missing from
-- country_codes): they stay in the journey with a null country; this warning lists them by
-- log file and line.

select source_file, source_line, ip
from {{ ref('fct_user_journey') }}
where country_code is null

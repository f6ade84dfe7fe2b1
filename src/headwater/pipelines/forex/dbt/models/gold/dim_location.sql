{{ config(unique_key='location_key') }}
-- Gold: one row per (country, city) a transaction names.
select
    md5(country || '|' || city) as location_key,
    country,
    city,
    max(load_timestamp) as load_timestamp
from ({{ changed_silver() }}) as changed
where country is not null and city is not null
group by country, city

-- One row per access-log request (file and line): who made it (the logged-in username's
-- customer), what it was (login, product view, cart, checkout), the product when the path
-- names one, and the country whose IPv4 range holds the address. Incremental on the request
-- time (the logs are append-only): a run adds the new lines and re-reads a look-back window.
--
-- The range join: addresses and ranges as integers, equal /16 block, then between. Ranges do
-- not overlap (tested), so a request gets at most one country (tested too), and a request in
-- no range keeps a null country instead of being dropped.

with

requests as (

    select *
    from (
        select
            source_file,
            source_line,
            cast(requested_at at time zone 'UTC' as timestamp) as requested_at,
            ip,
            {{ ipv4_to_bigint('ip') }} as ip_int,
            username,
            http_method,
            path,
            status,
            case
                when {{ headwater_common.regex_full_match('path', '/products/[0-9]{1,18}') }}
                    then cast(split_part(path, '/', 3) as bigint)
            end as path_product_id
        from {{ ref('stg_b2b__web_requests') }}
    ) as typed
    {{ headwater_common.incremental_lookback('requested_at', var('fct_lookback_hours')) }}

),

blocks as (

    select * from {{ ref('int_country_range_blocks') }}

),

located as (

    select
        requests.source_file,
        requests.source_line,
        blocks.country_code,
        blocks.country_name
    from requests
    inner join blocks
        on blocks.block = cast(floor(requests.ip_int / 65536.0) as bigint)
        and requests.ip_int between blocks.start_int and blocks.end_int

),

customers as (

    select customer_id, username from {{ ref('stg_b2b__customers') }}

),

products as (

    select product_id from {{ ref('stg_b2b__products') }}

),

final as (

    select
        requests.source_file,
        requests.source_line,
        requests.requested_at,
        cast(requests.requested_at as date) as request_date,
        requests.ip,
        requests.username,
        customers.customer_id,
        case
            when requests.path = '/login' then 'login'
            when requests.path_product_id is not null then 'product_view'
            when requests.path = '/cart' then 'cart'
            when requests.path = '/checkout' then 'checkout'
            else 'other'
        end as event_type,
        products.product_id,
        located.country_code,
        located.country_name,
        requests.http_method,
        requests.path,
        requests.status,
        {{ dbt.current_timestamp() }} as transformed_at
    from requests
    left join located
        on requests.source_file = located.source_file
        and requests.source_line = located.source_line
    left join customers
        on requests.username = customers.username
    left join products
        on requests.path_product_id = products.product_id

)

select * from final

-- One row per lead: the campaign (channel, name), the customer it became (by username), the
-- order it led to and that order's revenue (APPROVED payments only, as in fct_sales).

with

leads as (

    select * from {{ ref('stg_b2b__leads') }}

),

customers as (

    select customer_id, username from {{ ref('stg_b2b__customers') }}

),

orders as (

    select order_id, payment_status, created_at from {{ ref('stg_b2b__orders') }}

),

order_amounts as (

    select
        order_id,
        sum(final_amount) as order_amount
    from {{ ref('stg_b2b__order_line_items') }}
    group by order_id

),

final as (

    select
        leads.lead_id,
        leads.first_contact_date,
        leads.campaign_channel,
        leads.campaign_name,
        leads.username,
        customers.customer_id,
        leads.product_id,
        leads.order_id,
        leads.order_id is not null as has_order,
        orders.created_at as ordered_at,
        orders.payment_status,
        coalesce(orders.payment_status = 'APPROVED', false) as is_paying,
        cast(coalesce(order_amounts.order_amount, 0) as decimal(14, 2)) as order_amount,
        cast(
            case when orders.payment_status = 'APPROVED' then order_amounts.order_amount else 0 end
            as decimal(14, 2)
        ) as revenue,
        leads.source_file
    from leads
    left join customers
        on leads.username = customers.username
    left join orders
        on leads.order_id = orders.order_id
    left join order_amounts
        on leads.order_id = order_amounts.order_id

)

select * from final

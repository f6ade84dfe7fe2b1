-- The incremental fact must agree with a recomputation from the current sources: fails on
-- every line missing from fct_sales, every line whose status or revenue there differs from
-- its current order (a stale row left behind by the incremental filter), and every fact row
-- whose line is gone.

with

expected as (

    select
        lines.line_item_id,
        orders.payment_status,
        orders.delivery_status,
        lines.final_amount,
        cast(
            case when orders.payment_status = 'APPROVED' then lines.final_amount else 0 end
            as decimal(14, 2)
        ) as revenue
    from {{ ref('stg_b2b__order_line_items') }} as lines
    left join {{ ref('stg_b2b__orders') }} as orders
        on lines.order_id = orders.order_id

)

{{ headwater_common.relation_differences(
    'expected',
    ref('fct_sales'),
    keys=['line_item_id'],
    compare=['payment_status', 'delivery_status', 'final_amount', 'revenue'],
    actual_name='fct_sales',
) }}

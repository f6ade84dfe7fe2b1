-- One row per order line, with the order's payment and delivery status. Revenue counts only
-- lines of APPROVED payments. Incremental (config in _marts__models.yml): a run rebuilds the
-- lines whose line or order changed since the newest source_updated_at in the table (minus a
-- look-back), so a status change reaches every line of its order. Rows are replaced by
-- line_item_id.

with

lines as (

    select * from {{ ref('stg_b2b__order_line_items') }}

),

orders as (

    select * from {{ ref('stg_b2b__orders') }}

),

joined as (

    select
        lines.line_item_id,
        lines.order_id,
        orders.customer_id,
        orders.supplier_id,
        lines.product_id,
        orders.created_at as ordered_at,
        cast(orders.created_at as date) as order_date,
        orders.payment_status,
        orders.delivery_status,
        lines.no_of_items,
        lines.unit_price,
        lines.final_amount,
        cast(
            case when orders.payment_status = 'APPROVED' then lines.final_amount else 0 end
            as decimal(14, 2)
        ) as revenue,
        {{ headwater_common.latest_change('lines.updated_at', ['orders.updated_at']) }}
            as source_updated_at
    from lines
    -- a left join: a line whose order is missing shows up with nulls and fails the
    -- not_null tests instead of disappearing
    left join orders
        on lines.order_id = orders.order_id

),

final as (

    select
        *,
        {{ dbt.current_timestamp() }} as transformed_at
    from joined
    {{ headwater_common.incremental_lookback('source_updated_at', var('fct_lookback_hours')) }}

)

select * from final

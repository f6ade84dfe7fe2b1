-- Sales per calendar month of transaction date.
select
    d.month_start_date as sales_month,
    count(*) as transactions,
    sum(f.quantity) as units,
    sum(f.revenue) as revenue,
    sum(f.tax) as tax,
    sum(f.total) as total
from {{ ref('fct_transactions') }} as f
join {{ ref('dim_date') }} as d on d.date_key = f.date_key
group by d.month_start_date

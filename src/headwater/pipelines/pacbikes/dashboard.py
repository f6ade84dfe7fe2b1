"""PacBikes (seed 002): monthly revenue and its growth, top customers, products and salespeople.

This folder's page and the SQL behind it (DuckDB dialect, warehouse attached read-only as
``wh``); the core's registry finds it here, and the marts' schemas come from dbt's manifest.
Revenue is the sum of order-line totals (after discounts, before tax and freight), in USD.
"""

from __future__ import annotations

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, ui
from headwater.dashboard.queries import frame

TITLE = "PacBikes"
ICON = ":material/pedal_bike:"
PAGE = ui.PipelinePage(
    __file__,
    ("fct_sales_order_line", "dim_customer", "dim_product", "dim_sales_person", "dim_sales_territory"),
)
PIPELINE = PAGE.pipeline
MARTS = PAGE.models
TOP = 10


# -- queries ---------------------------------------------------------------------------------


def monthly_revenue(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per calendar month of the order date: revenue, orders, and growth over the month before
    (None for the first month)."""
    return frame(
        con,
        f"""
        WITH m AS (
            SELECT date_trunc('month', order_date)::DATE AS month, sum(line_total)::DOUBLE AS revenue,
                count(DISTINCT sales_order_id) AS orders
            FROM {PAGE.mart("fct_sales_order_line")} GROUP BY 1
        )
        SELECT month, revenue, orders,
            revenue / nullif(lag(revenue) OVER (ORDER BY month), 0) - 1 AS growth
        FROM m ORDER BY month
        """,
    )


def top_customers(con: duckdb.DuckDBPyConnection, limit: int = TOP) -> pd.DataFrame:
    return frame(
        con,
        f"""
        SELECT f.customer_id, c.customer_name, c.customer_type, sum(f.line_total)::DOUBLE AS revenue,
            count(DISTINCT f.sales_order_id) AS orders
        FROM {PAGE.mart("fct_sales_order_line")} AS f
        LEFT JOIN {PAGE.mart("dim_customer")} AS c USING (customer_id)
        GROUP BY ALL ORDER BY revenue DESC, f.customer_id LIMIT ?
        """,
        [limit],
    )


def top_products(con: duckdb.DuckDBPyConnection, limit: int = TOP) -> pd.DataFrame:
    return frame(
        con,
        f"""
        SELECT f.product_id, p.product_name, sum(f.order_qty) AS units, sum(f.line_total)::DOUBLE AS revenue
        FROM {PAGE.mart("fct_sales_order_line")} AS f
        LEFT JOIN {PAGE.mart("dim_product")} AS p USING (product_id)
        GROUP BY ALL ORDER BY revenue DESC, f.product_id LIMIT ?
        """,
        [limit],
    )


def top_salespeople(con: duckdb.DuckDBPyConnection, limit: int = TOP) -> pd.DataFrame:
    """Salespeople by the revenue of their orders (online orders have none), with the
    territory they cover now."""
    return frame(
        con,
        f"""
        SELECT f.sales_person_id, s.sales_person_name, t.territory_name,
            sum(f.line_total)::DOUBLE AS revenue, count(DISTINCT f.sales_order_id) AS orders
        FROM {PAGE.mart("fct_sales_order_line")} AS f
        LEFT JOIN {PAGE.mart("dim_sales_person")} AS s USING (sales_person_id)
        LEFT JOIN {PAGE.mart("dim_sales_territory")} AS t ON t.territory_id = s.territory_id
        WHERE f.sales_person_id IS NOT NULL
        GROUP BY ALL ORDER BY revenue DESC, f.sales_person_id LIMIT ?
        """,
        [limit],
    )


# -- page ------------------------------------------------------------------------------------


def render() -> None:
    if not PAGE.opened(TITLE):
        return
    months, customers, products, people = PAGE.fetch(
        ("monthly_revenue",), ("top_customers", TOP), ("top_products", TOP), ("top_salespeople", TOP)
    )
    if months.empty:
        st.info(
            "**No orders yet.** The pipeline has run, but there are no order lines.",
            icon=":material/receipt:",
        )
        return
    st.caption("Revenue = order-line totals after discounts, before tax and freight (USD), by order date.")
    last = months.iloc[-1]
    ui.kpi_row(
        [
            ui.Kpi("Revenue", fmt.money(months["revenue"].sum(), "$"), months["revenue"].tolist(),
                   f"{fmt.count(months['orders'].sum())} orders", "bar"),
            ui.Kpi("Latest month", fmt.money(last["revenue"], "$"), months["revenue"].tail(2).tolist(),
                   str(last["month"])[:7], "bar"),
            ui.Kpi("Month-over-month", fmt.percent(last["growth"]), months["growth"].fillna(0).tolist(),
                   "the latest month against the one before"),
        ]
    )  # fmt: skip
    _monthly_chart(months)
    left, right = st.columns(2)
    with left:
        st.subheader(f"Top {TOP} customers", anchor=False)
        st.dataframe(
            _money(customers[["customer_name", "customer_type", "orders", "revenue"]]), hide_index=True
        )
    with right:
        st.subheader(f"Top {TOP} products", anchor=False)
        st.dataframe(_money(products[["product_name", "units", "revenue"]]), hide_index=True)
    st.subheader(f"Top {TOP} salespeople", anchor=False)
    st.dataframe(
        _money(people[["sales_person_name", "territory_name", "orders", "revenue"]]), hide_index=True
    )


def _money(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["revenue"] = out["revenue"].map(lambda v: fmt.money(v, "$"))
    return out


def _monthly_chart(months: pd.DataFrame) -> None:
    st.subheader("Monthly revenue and month-over-month growth", anchor=False)
    data = months.assign(month=pd.to_datetime(months["month"]))
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("revenue:Q", title="Revenue (USD)"),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("revenue:Q", format=",.2f"),
            ],
        )
    )
    growth = (
        alt.Chart(data)
        .mark_line(point=True, color="#d62728")
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("growth:Q", title="Growth", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("growth:Q", format=".1%")],
        )
    )
    st.altair_chart(alt.vconcat(bars.properties(height=220), growth.properties(height=140)), width="stretch")


if __name__ == "__main__":
    render()

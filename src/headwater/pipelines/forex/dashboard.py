"""Forex (seed 004): monthly sales, top customers, sales by country, and where the rows went.

This folder's page and the SQL behind it (DuckDB dialect, warehouse attached read-only as
``wh``); the marts' schemas come from dbt's manifest of the target the pipeline builds (dev by
default, see pipeline.yaml), so the page follows ``HEADWATER_DBT_TARGET`` without a change.
"""

from __future__ import annotations

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, ui
from headwater.dashboard.queries import frame

TITLE = "Forex"
ICON = ":material/currency_exchange:"
PAGE = ui.PipelinePage(
    __file__,
    ("mart_monthly_sales", "mart_sales_by_customer", "mart_sales_by_country", "mart_quarantine_by_reason"),
)
PIPELINE = PAGE.pipeline


# -- queries ---------------------------------------------------------------------------------


def monthly_sales(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per month of transaction date: transactions, units, revenue (quantity x price), tax, total."""
    return frame(
        con,
        f"SELECT sales_month, transactions, units, revenue::DOUBLE AS revenue, tax::DOUBLE AS tax, "
        f"total::DOUBLE AS total FROM {PAGE.mart('mart_monthly_sales')} ORDER BY sales_month",
    )


def top_customers(con: duckdb.DuckDBPyConnection, limit: int = 10) -> pd.DataFrame:
    """The ``limit`` customers with the highest total (revenue plus tax)."""
    return frame(
        con,
        f"SELECT customer_id, first_name || ' ' || last_name AS customer, email, country, transactions, "
        f"revenue::DOUBLE AS revenue, total::DOUBLE AS total FROM {PAGE.mart('mart_sales_by_customer')} "
        "ORDER BY total DESC, customer_id LIMIT ?",
        [limit],
    )


def sales_by_country(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return frame(
        con,
        f"SELECT country, customers, transactions, revenue::DOUBLE AS revenue, total::DOUBLE AS total "
        f"FROM {PAGE.mart('mart_sales_by_country')} ORDER BY total DESC, country",
    )


def quarantine_share(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Delivered rows by outcome: usable, or quarantined with a reason; with their share."""
    return frame(
        con,
        f"SELECT outcome, rows_count, share::DOUBLE AS share "
        f"FROM {PAGE.mart('mart_quarantine_by_reason')} ORDER BY outcome = 'usable' DESC, rows_count DESC",
    )


# -- page ------------------------------------------------------------------------------------


def render() -> None:
    if not PAGE.opened(TITLE):
        return
    months, customers, countries, outcomes = PAGE.fetch(
        ("monthly_sales",), ("top_customers", 10), ("sales_by_country",), ("quarantine_share",)
    )
    if months.empty:
        st.info("**No usable transactions yet.** The pipeline has run, but silver is empty.")
        return
    st.caption(
        "Transactions as delivered, cleaned by the dbt medallion: revenue = quantity x unit price, "
        "total = revenue + tax. Rows that cannot be used are quarantined with their reason."
    )
    usable = outcomes.loc[outcomes["outcome"] == "usable", "share"]
    ui.kpi_row(
        [
            ui.Kpi(
                "Transactions",
                fmt.count(months["transactions"].sum()),
                months["transactions"].tolist(),
                None,
                "bar",
            ),
            ui.Kpi("Revenue", fmt.money(months["revenue"].sum()), months["revenue"].tolist()),
            ui.Kpi("Total with tax", fmt.money(months["total"].sum()), months["total"].tolist()),
            ui.Kpi(
                "Usable rows",
                fmt.percent(usable.iloc[0] if len(usable) else None),
                [],
                f"{fmt.count(outcomes['rows_count'].sum())} delivered rows and lines",
            ),
        ]
    )
    _monthly_chart(months)
    left, right = st.columns(2)
    with left:
        st.subheader("Top customers", anchor=False)
        st.dataframe(customers, hide_index=True, width="stretch")
    with right:
        _country_chart(countries)
    _quarantine(outcomes)


def _monthly_chart(months: pd.DataFrame) -> None:
    st.subheader("Monthly sales", anchor=False)
    chart = (
        alt.Chart(months)
        .mark_bar(color="#2e6f9e", width=alt.RelativeBandSize(0.8))
        .encode(
            x=alt.X("yearmonth(sales_month):T", title=None, axis=alt.Axis(format="%b %Y", labelAngle=0)),
            y=alt.Y("total:Q", title="total"),
            tooltip=[
                alt.Tooltip("sales_month:T", title="month", format="%B %Y"),
                alt.Tooltip("transactions:Q", format=","),
                alt.Tooltip("revenue:Q", format=",.2f"),
                alt.Tooltip("total:Q", format=",.2f"),
            ],
        )
        .properties(height=220)
    )
    st.altair_chart(chart, width="stretch")


def _country_chart(countries: pd.DataFrame) -> None:
    if not ui.section("Sales by country", countries, "No sales by country yet."):
        return
    chart = (
        alt.Chart(countries)
        .mark_bar(color="#2e9e6a")
        .encode(
            y=alt.Y("country:N", sort="-x", title=None),
            x=alt.X("total:Q", title="total"),
            tooltip=[
                "country",
                alt.Tooltip("customers:Q", format=","),
                alt.Tooltip("total:Q", format=",.2f"),
            ],
        )
    )
    st.altair_chart(chart, width="stretch")


def _quarantine(outcomes: pd.DataFrame) -> None:
    st.subheader("Where the delivered rows went", anchor=False)
    shown = outcomes.assign(share=outcomes["share"].map(lambda v: fmt.percent(v, 2)))
    st.dataframe(shown, hide_index=True, width="stretch")


if __name__ == "__main__":
    render()

"""B2B commerce (seed 001): the four questions of the seed, from the marts.

1. Promotion attribution: paying orders and revenue by campaign channel (fct_leads);
2. the top 10 products by revenue, approved payments only (fct_sales);
3. the top 10 countries users log in from (fct_user_journey, country by IPv4 range);
4. revenue by month for the 12 months up to the latest order in the data (never a fixed year).

Revenue counts APPROVED payments only, everywhere. Streamlit runs this file as the page.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, ui
from headwater.dashboard.queries import frame

TITLE = "B2B commerce"
ICON = ":material/storefront:"
PAGE = ui.PipelinePage(__file__, ("fct_sales", "fct_leads", "fct_user_journey", "dim_products"))
PIPELINE = PAGE.pipeline
CHANNEL_COLOURS = {
    "Facebook": "#3b5998",
    "Instagram": "#c13584",
    "Organic": "#2e9e6a",
    "Paid Search": "#e8912d",
    "Google Ads": "#4285f4",
    "Offline": "#7f8c8d",
}


# -- queries ---------------------------------------------------------------------------------


def sales_totals(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Orders, paying orders, revenue and the latest order date over all the data."""
    row = con.execute(
        f"""
        SELECT count(DISTINCT order_id)::BIGINT,
            count(DISTINCT order_id) FILTER (WHERE payment_status = 'APPROVED')::BIGINT,
            coalesce(sum(revenue), 0)::DECIMAL(18, 2),
            max(order_date)
        FROM {PAGE.mart("fct_sales")}
        """
    ).fetchone()
    names = ["orders", "paying_orders", "revenue", "latest_order_date"]
    return dict(zip(names, row, strict=True)) if row else dict.fromkeys(names)


def channel_attribution(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per campaign channel: leads, leads that ordered, paying orders and their revenue."""
    return frame(
        con,
        f"""
        SELECT campaign_channel,
            count(*)::BIGINT AS leads,
            count(order_id)::BIGINT AS leads_with_order,
            count(DISTINCT order_id) FILTER (WHERE is_paying)::BIGINT AS paying_orders,
            sum(revenue)::DECIMAL(18, 2) AS revenue
        FROM {PAGE.mart("fct_leads")}
        GROUP BY campaign_channel
        ORDER BY revenue DESC, campaign_channel
        """,
    )


def top_products(con: duckdb.DuckDBPyConnection, n: int = 10) -> pd.DataFrame:
    """The ``n`` products with the most revenue from approved payments (ties by product id)."""
    return frame(
        con,
        f"""
        SELECT s.product_id, p.product_name, p.category,
            sum(s.revenue)::DECIMAL(18, 2) AS revenue,
            sum(s.no_of_items)::BIGINT AS items,
            count(DISTINCT s.order_id)::BIGINT AS orders
        FROM {PAGE.mart("fct_sales")} AS s
        JOIN {PAGE.mart("dim_products")} AS p USING (product_id)
        WHERE s.payment_status = 'APPROVED'
        GROUP BY s.product_id, p.product_name, p.category
        ORDER BY revenue DESC, s.product_id
        LIMIT ?
        """,
        [n],
    )


def top_login_countries(con: duckdb.DuckDBPyConnection, n: int = 10) -> pd.DataFrame:
    """The ``n`` countries with the most logins (by the address's range), and their users."""
    return frame(
        con,
        f"""
        SELECT country_code, country_name,
            count(*)::BIGINT AS logins,
            count(DISTINCT username)::BIGINT AS users
        FROM {PAGE.mart("fct_user_journey")}
        WHERE event_type = 'login' AND country_code IS NOT NULL
        GROUP BY country_code, country_name
        ORDER BY logins DESC, country_code
        LIMIT ?
        """,
        [n],
    )


def monthly_revenue(con: duckdb.DuckDBPyConnection, months: int = 12) -> pd.DataFrame:
    """Revenue per month for the ``months`` months up to the month of the latest order in the
    data (so a demo generated years ago still shows its last year), months without sales as 0."""
    return frame(
        con,
        f"""
        WITH latest AS (
            SELECT date_trunc('month', max(order_date))::DATE AS m FROM {PAGE.mart("fct_sales")}
        ),
        calendar AS (
            SELECT (m - to_months(i::INTEGER))::DATE AS month
            FROM latest, range(0, ?) AS t(i)
            WHERE m IS NOT NULL
        ),
        sales AS (
            SELECT date_trunc('month', order_date)::DATE AS month,
                sum(revenue)::DECIMAL(18, 2) AS revenue,
                count(DISTINCT order_id) FILTER (WHERE payment_status = 'APPROVED')::BIGINT
                    AS paying_orders
            FROM {PAGE.mart("fct_sales")}
            GROUP BY 1
        )
        SELECT calendar.month,
            coalesce(sales.revenue, 0)::DECIMAL(18, 2) AS revenue,
            coalesce(sales.paying_orders, 0)::BIGINT AS paying_orders
        FROM calendar
        LEFT JOIN sales USING (month)
        ORDER BY calendar.month
        """,
        [months],
    )


def journey_events(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Requests per event type: all, by logged-in customers, placed in a country."""
    return frame(
        con,
        f"""
        SELECT event_type, count(*)::BIGINT AS requests,
            count(customer_id)::BIGINT AS by_customers,
            count(country_code)::BIGINT AS located
        FROM {PAGE.mart("fct_user_journey")}
        GROUP BY event_type
        ORDER BY requests DESC, event_type
        """,
    )


# -- page ------------------------------------------------------------------------------------


def render() -> None:
    if not PAGE.opened(TITLE):
        return
    ui.style()
    totals, channels, products, countries, months, events = PAGE.fetch(
        ("sales_totals",),
        ("channel_attribution",),
        ("top_products", 10),
        ("top_login_countries", 10),
        ("monthly_revenue", 12),
        ("journey_events",),
    )
    if not totals["orders"]:
        st.info("**No orders yet.** The pipeline has run, but the source had no orders.",
                icon=":material/hourglass_empty:")  # fmt: skip
        return
    st.caption(
        f"Revenue counts approved payments only. Data up to {totals['latest_order_date']:%Y-%m-%d} "
        "(the latest order); campaigns from the leads workbooks, countries from the web logs' "
        "addresses."
    )
    _kpis(totals, months, events)
    left, right = st.columns(2)
    with left:
        _channels(channels)
    with right:
        _monthly(months)
    left, right = st.columns(2)
    with left:
        _products(products)
    with right:
        _countries(countries)
    with st.expander("Web requests by event type"):
        st.dataframe(events, hide_index=True, width="stretch")


def _kpis(totals: dict, months: pd.DataFrame, events: pd.DataFrame) -> None:
    last_year = float(months["revenue"].astype(float).sum()) if not months.empty else 0.0
    ui.kpi_row(
        [
            ui.Kpi("Orders", fmt.count(int(totals["orders"])), [],
                   "All orders in the data, whatever their payment status"),
            ui.Kpi("Paying orders", fmt.count(int(totals["paying_orders"])), months["paying_orders"].tolist(),
                   "Orders whose payment is approved; the sparkline: per month, last 12 months"),
            ui.Kpi("Revenue, last 12 months", fmt.money(last_year, cents=False),
                   months["revenue"].astype(float).tolist(), "Approved payments, per month", "bar"),
            ui.Kpi("Web requests", fmt.count(int(events["requests"].sum()) if not events.empty else 0), [],
                   "Access-log lines in the journey (IPv4; broken lines are quarantined)"),
        ]
    )  # fmt: skip


def _channels(channels: pd.DataFrame) -> None:
    if not ui.section("Paying orders and revenue by campaign channel", channels, "No leads yet."):
        return
    df = channels.assign(revenue=channels["revenue"].astype(float))
    bars = (
        alt.Chart(df)
        .mark_bar(cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("campaign_channel:N", sort=df["campaign_channel"].tolist(), title=None),
            x=alt.X("revenue:Q", title="revenue", axis=alt.Axis(format=",.0f", tickCount=5)),
            color=alt.Color(
                "campaign_channel:N",
                scale=alt.Scale(domain=list(CHANNEL_COLOURS), range=list(CHANNEL_COLOURS.values())),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("campaign_channel:N", title="channel"),
                alt.Tooltip("leads:Q", format=","),
                alt.Tooltip("paying_orders:Q", title="paying orders", format=","),
                alt.Tooltip("revenue:Q", format=",.2f"),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=4, color="#444").encode(
        text=alt.Text("paying_orders:Q", format=","), color=alt.value("#444")
    )
    st.altair_chart(alt.layer(bars, labels).properties(height=alt.Step(32)), width="stretch")
    st.caption("Bar length: revenue; the number: paying orders that came through the channel's leads.")


def _monthly(months: pd.DataFrame) -> None:
    if not ui.section("Revenue by month, last 12 months", months, "No sales yet."):
        return
    df = months.assign(revenue=months["revenue"].astype(float))
    chart = (
        alt.Chart(df)
        .mark_bar(color="#3b6fb6")
        .encode(
            x=alt.X("yearmonth(month):O", title=None, axis=alt.Axis(format="%b %y", labelAngle=0)),
            y=alt.Y("revenue:Q", title="revenue", axis=alt.Axis(format=",.0f", tickCount=5)),
            tooltip=[
                alt.Tooltip("month:T", format="%B %Y"),
                alt.Tooltip("revenue:Q", format=",.2f"),
                alt.Tooltip("paying_orders:Q", title="paying orders", format=","),
            ],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def _products(products: pd.DataFrame) -> None:
    if not ui.section("Top 10 products by revenue", products, "No approved sales yet."):
        return
    df = products.assign(revenue=products["revenue"].astype(float))
    order = df["product_name"].tolist()
    chart = (
        alt.Chart(df)
        .mark_bar(color="#2e9e6a", cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("product_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X("revenue:Q", title="revenue", axis=alt.Axis(format=",.0f", tickCount=5)),
            tooltip=[
                alt.Tooltip("product_name:N", title="product"),
                alt.Tooltip("category:N"),
                alt.Tooltip("revenue:Q", format=",.2f"),
                alt.Tooltip("orders:Q", format=","),
                alt.Tooltip("items:Q", format=","),
            ],
        )
        .properties(height=alt.Step(26))
    )
    st.altair_chart(chart, width="stretch")


def _countries(countries: pd.DataFrame) -> None:
    if not ui.section("Top 10 countries users log in from", countries, "No logins yet."):
        return
    order = countries["country_name"].tolist()
    chart = (
        alt.Chart(countries)
        .mark_bar(color="#e8912d", cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("country_name:N", sort=order, title=None),
            x=alt.X("logins:Q", title="logins", axis=alt.Axis(format=",d", tickCount=5)),
            tooltip=[
                alt.Tooltip("country_name:N", title="country"),
                alt.Tooltip("logins:Q", format=","),
                alt.Tooltip("users:Q", format=","),
            ],
        )
        .properties(height=alt.Step(26))
    )
    st.altair_chart(chart, width="stretch")
    st.caption("Each login's country is the one whose IPv4 range holds its address.")


if __name__ == "__main__":
    render()

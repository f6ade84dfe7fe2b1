"""Travel bookings (seed 000): the daily booking summary, passenger mix, modes, carriers.

The page and its queries, found by the dashboard in this folder. Every figure is by booking
date; revenue is in EUR and leaves out cancelled bookings. Streamlit runs this file as the page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, ui
from headwater.dashboard.queries import frame

TITLE = "Travel bookings"
ICON = ":material/luggage:"
PAGE = ui.PipelinePage(
    __file__,
    (
        "rep_booking_summary",
        "fct_ticket_sales",
        "dim_bookings",
        "dim_passengers",
        "dim_segments",
        "bridge_ticket_segments",
    ),
)
PIPELINE = PAGE.pipeline
MARTS = PAGE.models
MODE_COLOURS = {"flight": "#3b6fb6", "train": "#2e9e6a", "bus": "#e8912d"}
PASSENGER_COLOURS = {"adult": "#3b6fb6", "child": "#8cb6e6", "infant": "#f2b36b"}


# -- queries ---------------------------------------------------------------------------------
# travel bookings (seed 000). Every figure is by booking date (the day the booking was made).
# Revenue counts tickets of bookings that are not cancelled, in EUR, as rep_booking_summary.


def travel_date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    row = con.execute(
        f"SELECT min(booking_date), max(booking_date) FROM {PAGE.mart('rep_booking_summary')}"
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def daily_bookings(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """The seed's booking summary, one row per booking day in [start, end]."""
    return frame(
        con,
        f"""
        SELECT booking_date, bookings, tickets, passengers, segments,
            revenue_eur::DOUBLE AS revenue_eur,
            avg_ticket_price_eur::DOUBLE AS avg_ticket_price_eur,
            cancelled_bookings
        FROM {PAGE.mart("rep_booking_summary")}
        WHERE booking_date BETWEEN ? AND ?
        ORDER BY booking_date
        """,
        [start, end],
    )


def booking_totals(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, Any]:
    """Totals for [start, end]: bookings, tickets, passengers, segments, cancelled, revenue,
    and the average price of a (non-cancelled) ticket over the whole range."""
    row = con.execute(
        f"""
        WITH summary AS (
            SELECT coalesce(sum(bookings), 0)::BIGINT AS bookings,
                coalesce(sum(tickets), 0)::BIGINT AS tickets,
                coalesce(sum(passengers), 0)::BIGINT AS passengers,
                coalesce(sum(segments), 0)::BIGINT AS segments,
                coalesce(sum(cancelled_bookings), 0)::BIGINT AS cancelled_bookings,
                coalesce(sum(revenue_eur), 0)::DECIMAL(18, 2) AS revenue_eur
            FROM {PAGE.mart("rep_booking_summary")}
            WHERE booking_date BETWEEN ? AND ?
        ),
        prices AS (
            SELECT avg(price_eur)::DOUBLE AS avg_ticket_price_eur
            FROM {PAGE.mart("fct_ticket_sales")}
            WHERE booking_date BETWEEN ? AND ? AND booking_status <> 'cancelled'
        )
        SELECT * FROM summary, prices
        """,
        [start, end, start, end],
    ).fetchone()
    names = [
        "bookings",
        "tickets",
        "passengers",
        "segments",
        "cancelled_bookings",
        "revenue_eur",
        "avg_ticket_price_eur",
    ]
    return dict(zip(names, row, strict=True)) if row else dict.fromkeys(names)


def passenger_mix(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Passengers by type (adult/child/infant) in bookings made in [start, end], with shares."""
    return frame(
        con,
        f"""
        SELECT p.passenger_type, count(*) AS passengers,
            count(*) / sum(count(*)) OVER () AS share
        FROM {PAGE.mart("dim_passengers")} AS p
        JOIN {PAGE.mart("dim_bookings")} AS b USING (booking_id)
        WHERE b.booking_date BETWEEN ? AND ?
        GROUP BY p.passenger_type
        ORDER BY passengers DESC, p.passenger_type
        """,
        [start, end],
    )


# A ticket covers every segment of its booking; its price is split equally over the segments
# it is linked to, so carrier and mode revenue add up to the total revenue.
def _segment_revenue() -> str:
    return f"""
    SELECT s.segment_id, s.carrier_name, s.travel_mode, f.ticket_id,
        f.price_eur::DOUBLE / count(*) OVER (PARTITION BY f.ticket_id) AS revenue_eur
    FROM {PAGE.mart("fct_ticket_sales")} AS f
    JOIN {PAGE.mart("bridge_ticket_segments")} AS link USING (ticket_id)
    JOIN {PAGE.mart("dim_segments")} AS s USING (segment_id)
    WHERE f.booking_date BETWEEN ? AND ? AND f.booking_status <> 'cancelled'
"""


def travel_mode_split(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Per travel mode: segments booked in [start, end] (all bookings) and revenue (EUR)."""
    return frame(
        con,
        f"""
        WITH segments AS (
            SELECT s.travel_mode, count(*) AS segments
            FROM {PAGE.mart("dim_segments")} AS s
            JOIN {PAGE.mart("dim_bookings")} AS b USING (booking_id)
            WHERE b.booking_date BETWEEN ? AND ?
            GROUP BY s.travel_mode
        ),
        revenue AS (
            SELECT travel_mode, sum(revenue_eur) AS revenue_eur
            FROM ({_segment_revenue()}) GROUP BY travel_mode
        )
        SELECT segments.travel_mode, segments.segments,
            segments.segments / sum(segments.segments) OVER () AS segment_share,
            coalesce(revenue.revenue_eur, 0) AS revenue_eur
        FROM segments LEFT JOIN revenue USING (travel_mode)
        ORDER BY segments.segments DESC, segments.travel_mode
        """,
        [start, end, start, end],
    )


def carriers_by_revenue(
    con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int = 10, mode: str | None = None
) -> pd.DataFrame:
    """The ``limit`` carriers (of one travel ``mode``, or all) with the most revenue from
    bookings made in [start, end]; segments and tickets count the paid ones."""
    return frame(
        con,
        f"""
        SELECT carrier_name, travel_mode, count(DISTINCT segment_id) AS segments,
            count(DISTINCT ticket_id) AS tickets, sum(revenue_eur) AS revenue_eur
        FROM ({_segment_revenue()})
        WHERE ?::VARCHAR IS NULL OR travel_mode = ?
        GROUP BY carrier_name, travel_mode
        ORDER BY revenue_eur DESC, carrier_name
        LIMIT ?
        """,
        [start, end, mode, mode, limit],
    )


# -- page ------------------------------------------------------------------------------------


def render() -> None:
    if not PAGE.opened(TITLE):
        return
    lo, hi = PAGE.fetch_one("travel_date_bounds")
    if lo is None:
        st.info(
            "**No bookings yet.** The pipeline has run, but the source had no bookings.",
            icon=":material/hourglass_empty:",
        )
        return
    st.caption(
        "By booking date (the day a booking was made). Revenue and prices are in EUR and leave "
        "out cancelled bookings; volumes count every booking."
    )
    start, end = ui.date_range("Booking dates", lo, hi, key="travel-dates")
    daily, totals, mix, modes = PAGE.fetch(
        ("daily_bookings", start, end),
        ("booking_totals", start, end),
        ("passenger_mix", start, end),
        ("travel_mode_split", start, end),
    )
    if daily.empty:
        st.info("No bookings were made in the chosen dates.", icon=":material/event_busy:")
        return
    _kpis(totals, daily)
    _daily_charts(daily)
    left, right = st.columns(2)
    with left:
        _passenger_mix(mix)
    with right:
        _mode_split(modes)
    _carriers(start, end)
    with st.expander("Daily numbers (the booking summary)"):
        st.dataframe(
            daily,
            hide_index=True,
            width="stretch",
            column_config={
                "booking_date": st.column_config.DateColumn("booking date", format="YYYY-MM-DD"),
                "revenue_eur": st.column_config.NumberColumn("revenue (EUR)", format="€ %.2f"),
                "avg_ticket_price_eur": st.column_config.NumberColumn("avg ticket (EUR)", format="€ %.2f"),
                "cancelled_bookings": st.column_config.NumberColumn("cancelled"),
            },
        )


def _kpis(totals: dict, daily: pd.DataFrame) -> None:
    bookings = int(totals["bookings"] or 0)
    cancelled = int(totals["cancelled_bookings"] or 0)
    revenue = totals["revenue_eur"]
    ui.kpi_row(
        [
            ui.Kpi(
                "Bookings",
                fmt.count(bookings),
                daily["bookings"].tolist(),
                "Bookings made in the chosen dates, cancelled ones included",
                "bar",
            ),
            ui.Kpi(
                "Tickets",
                fmt.count(totals["tickets"]),
                daily["tickets"].tolist(),
                "Tickets issued in those bookings (one per passenger)",
                "bar",
            ),
            ui.Kpi(
                "Revenue",
                fmt.money(revenue),
                daily["revenue_eur"].tolist(),
                f"{fmt.money(revenue, cents=True)}: tickets of bookings not cancelled, in EUR",
                "area",
            ),
            ui.Kpi(
                "Average ticket price",
                fmt.money(totals["avg_ticket_price_eur"], cents=True),
                daily["avg_ticket_price_eur"].fillna(0).tolist(),
                "Mean EUR price of a ticket in a booking that is not cancelled",
            ),
            ui.Kpi(
                "Cancelled",
                fmt.percent(cancelled / bookings if bookings else None),
                daily["cancelled_bookings"].tolist(),
                f"{fmt.count(cancelled)} of {fmt.count(bookings)} bookings were cancelled",
                "bar",
            ),
        ]
    )


def _daily_charts(daily: pd.DataFrame) -> None:
    base = alt.Chart(daily).encode(x=ui.day_x("booking_date"))
    volumes = daily.melt(
        id_vars="booking_date", value_vars=["bookings", "tickets"], var_name="what", value_name="count"
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Bookings and tickets per day", anchor=False)
        chart = (
            alt.Chart(volumes)
            .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone")
            .encode(
                x=ui.day_x("booking_date"),
                y=alt.Y("count:Q", title=None),
                color=ui.top_legend("what", {"bookings": "#3b6fb6", "tickets": "#e8912d"}),
                tooltip=[
                    ui.day_tooltip("booking_date"),
                    alt.Tooltip("what:N", title=""),
                    alt.Tooltip("count:Q", format=","),
                ],
            )
            .properties(height=260)
        )
        st.altair_chart(chart, width="stretch")
    with right:
        st.subheader("Revenue and average price per day", anchor=False)
        bars = base.mark_bar(color="#8cb6e6", opacity=0.9).encode(
            y=alt.Y("revenue_eur:Q", title="revenue (EUR)", axis=alt.Axis(format=",.0f", tickCount=5)),
            tooltip=[
                ui.day_tooltip("booking_date"),
                alt.Tooltip("revenue_eur:Q", title="revenue (EUR)", format=",.2f"),
                alt.Tooltip("avg_ticket_price_eur:Q", title="average ticket (EUR)", format=",.2f"),
            ],
        )
        line = base.mark_line(color="#c0392b", strokeWidth=2, interpolate="monotone").encode(
            y=alt.Y(
                "avg_ticket_price_eur:Q",
                title="average ticket (EUR)",
                axis=alt.Axis(titleColor="#c0392b", format=",.0f"),
            ),
        )
        chart = alt.layer(bars, line).resolve_scale(y="independent").properties(height=260)
        st.altair_chart(chart, width="stretch")


def _donut(df: pd.DataFrame, field: str, value: str, colours: dict[str, str], title: str) -> alt.Chart:
    domain = [k for k in colours if k in set(df[field])] + sorted(set(df[field]) - set(colours))
    return (
        alt.Chart(df)
        .mark_arc(innerRadius=60, stroke="white")
        .encode(
            theta=alt.Theta(f"{value}:Q"),
            color=alt.Color(
                f"{field}:N",
                title=title,
                scale=alt.Scale(domain=domain, range=[colours.get(d, "#999999") for d in domain]),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                alt.Tooltip(f"{field}:N", title=title),
                alt.Tooltip(f"{value}:Q", format=","),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(height=240)
    )


def _passenger_mix(mix: pd.DataFrame) -> None:
    if not ui.section("Passenger mix", mix, "No passengers in these bookings."):
        return
    st.altair_chart(_donut(mix, "passenger_type", "passengers", PASSENGER_COLOURS, "passenger"))
    st.caption(
        " · ".join(
            f"**{r.passenger_type}** {fmt.count(r.passengers)} ({fmt.percent(r.share)})"
            for r in mix.itertuples()
        )
    )


def _mode_split(modes: pd.DataFrame) -> None:
    if not ui.section("Travel-mode split", modes, "No segments in these bookings."):
        return
    total_revenue = modes["revenue_eur"].sum()
    df = modes.assign(
        share=modes["segment_share"],
        revenue_share=modes["revenue_eur"] / total_revenue if total_revenue else 0.0,
    )
    st.altair_chart(_donut(df, "travel_mode", "segments", MODE_COLOURS, "mode"))
    st.caption(
        " · ".join(
            f"**{r.travel_mode}** {fmt.count(r.segments)} segments ({fmt.percent(r.segment_share)}), "
            f"{fmt.money(r.revenue_eur, cents=False)} revenue"
            for r in df.itertuples()
        )
    )


def _carriers(start, end) -> None:
    st.subheader("Top carriers by revenue", anchor=False)
    choice = st.segmented_control(
        "Travel mode",
        ["all modes", *MODE_COLOURS],
        default="all modes",
        key="travel-carrier-mode",
        label_visibility="collapsed",
    )
    mode = None if choice in (None, "all modes") else choice
    carriers = PAGE.fetch_one("carriers_by_revenue", start, end, 10, mode)
    st.caption("A ticket's price is split equally over the segments it covers.")
    if carriers.empty:
        st.caption("No revenue in these bookings.")
        return
    order = carriers["carrier_name"].tolist()
    bars = (
        alt.Chart(carriers)
        .mark_bar(cornerRadiusTopRight=3, cornerRadiusBottomRight=3)
        .encode(
            y=alt.Y("carrier_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=240)),
            x=alt.X("revenue_eur:Q", title="revenue (EUR)", axis=alt.Axis(format=",.0f", tickCount=6)),
            color=alt.Color(
                "travel_mode:N",
                title="mode",
                scale=alt.Scale(domain=list(MODE_COLOURS), range=list(MODE_COLOURS.values())),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("carrier_name:N", title="carrier"),
                alt.Tooltip("travel_mode:N", title="mode"),
                alt.Tooltip("revenue_eur:Q", title="revenue (EUR)", format=",.2f"),
                alt.Tooltip("tickets:Q", format=","),
                alt.Tooltip("segments:Q", format=","),
            ],
        )
    )
    labels = bars.mark_text(align="left", dx=4, color="#444").encode(
        text=alt.Text("revenue_eur:Q", format=",.0f"), color=alt.value("#444")
    )
    st.altair_chart(alt.layer(bars, labels).properties(height=alt.Step(30)), width="stretch")


if __name__ == "__main__":
    render()

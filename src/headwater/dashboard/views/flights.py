"""Flights (seed 003): on-time performance and delays by route and day, seats, busiest airports."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, queries, ui

PIPELINE = "flights"
TITLE = "Flights"


def render() -> None:
    st.title(TITLE)
    ui.sidebar()
    missing, missing_cols = ui.fetch(
        ("missing_tables", queries.FLIGHTS_TABLES),
        ("missing_columns", queries.FLIGHTS_CORE, queries.FLIGHT_COLUMNS),
    )
    if missing:
        ui.not_run_yet(PIPELINE, TITLE, missing)
        return
    if missing_cols:
        st.warning(
            "**The flights marts do not have the columns this page reads**: "
            + ", ".join(f"`{c}`" for c in missing_cols)
            + ". The dbt models and this page disagree; update `headwater/dashboard/queries.py`.",
            icon=":material/schema:",
        )
        return
    lo, hi, last_flown = ui.fetch_one("flights_date_bounds")
    if lo is None:
        st.info(
            "**No flights yet.** The pipeline has run, but there are no flights.", icon=":material/flight:"
        )
        return
    st.caption(
        f"By flight date (local date of the scheduled departure). On time = arrived less than "
        f"{queries.ON_TIME_MINUTES} minutes late; delays are averaged over the flights that have "
        "departed or arrived. Dates after the last arrival are only scheduled so far."
    )
    start, end = ui.date_range("Flight dates", lo, hi, key="flights-dates", default=(lo, last_flown or hi))
    totals, daily, routes, seats, airports = ui.fetch(
        ("flight_totals", start, end),
        ("on_time_by_day", start, end),
        ("route_performance", start, end, 15),
        ("seat_occupancy_by_day", start, end),
        ("busiest_airports", start, end, 10),
    )
    if daily.empty:
        st.info("No flights were scheduled in the chosen dates.", icon=":material/event_busy:")
        return
    _kpis(totals, daily, seats)
    left, right = st.columns(2)
    with left:
        _on_time_chart(daily)
    with right:
        _seat_chart(seats)
    _routes(routes)
    _airports(airports)


def _kpis(totals: dict, daily: pd.DataFrame, seats: pd.DataFrame) -> None:
    c = st.columns(5)
    c[0].metric(
        "Flights",
        fmt.count(totals["flights"]),
        help=f"{fmt.count(totals['arrived'])} have arrived; {fmt.count(totals['cancelled'])} cancelled",
        chart_data=daily["flights"].tolist(),
        chart_type="bar",
        border=True,
    )
    c[1].metric(
        "On time",
        fmt.percent(totals["on_time_share"]),
        help=f"{fmt.count(totals['on_time'])} of {fmt.count(totals['arrived'])} arrived flights",
        chart_data=daily["on_time_share"].fillna(0).tolist(),
        border=True,
    )
    c[2].metric(
        "Avg departure delay",
        _minutes(totals["avg_departure_delay_minutes"]),
        chart_data=daily["avg_departure_delay_minutes"].fillna(0).tolist(),
        border=True,
    )
    c[3].metric(
        "Avg arrival delay",
        _minutes(totals["avg_arrival_delay_minutes"]),
        chart_data=daily["avg_arrival_delay_minutes"].fillna(0).tolist(),
        border=True,
    )
    occupied, total = seats["occupied_seats"].sum(), seats["total_seats"].sum()
    c[4].metric(
        "Seat occupancy",
        fmt.percent(occupied / total if total else None),
        help=f"{fmt.count(occupied)} of {fmt.count(total)} seats occupied",
        chart_data=seats["occupancy"].fillna(0).tolist(),
        chart_type="area",
        border=True,
    )


def _minutes(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:,.1f} min"


def _on_time_chart(daily: pd.DataFrame) -> None:
    st.subheader("On-time performance and delays per day", anchor=False)
    x = alt.X("flight_date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0))
    day = alt.Tooltip("flight_date:T", title="day", format="%a %d %b %Y")
    share = (
        alt.Chart(daily)
        .mark_bar(color="#2e9e6a", opacity=0.85)
        .encode(
            x=x,
            y=alt.Y(
                "on_time_share:Q",
                title="on time",
                axis=alt.Axis(format="%", tickCount=4),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                day,
                alt.Tooltip("arrived:Q", title="flights arrived", format=","),
                alt.Tooltip("on_time:Q", title="on time", format=","),
                alt.Tooltip("on_time_share:Q", title="on-time share", format=".1%"),
            ],
        )
        .properties(height=130)
    )
    delays = daily.melt(
        id_vars="flight_date",
        value_vars=["avg_departure_delay_minutes", "avg_arrival_delay_minutes"],
        var_name="delay",
        value_name="minutes",
    ).replace({"delay": {"avg_departure_delay_minutes": "departure", "avg_arrival_delay_minutes": "arrival"}})
    delay = (
        alt.Chart(delays)
        .mark_line(point=alt.OverlayMarkDef(size=16), strokeWidth=2)
        .encode(
            x=x,
            y=alt.Y("minutes:Q", title="avg delay (min)", axis=alt.Axis(tickCount=4)),
            color=alt.Color(
                "delay:N",
                title=None,
                scale=alt.Scale(domain=["departure", "arrival"], range=["#e8912d", "#c0392b"]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[day, alt.Tooltip("delay:N"), alt.Tooltip("minutes:Q", format=".1f")],
        )
        .properties(height=130)
    )
    st.altair_chart(alt.vconcat(share, delay, spacing=8), width="stretch")


def _seat_chart(seats: pd.DataFrame) -> None:
    st.subheader("Seats occupied and empty per day", anchor=False)
    if seats.empty:
        st.caption("No seat data for these dates.")
        return
    long = seats.melt(
        id_vars=["flight_date", "occupancy"],
        value_vars=["occupied_seats", "empty_seats"],
        var_name="seats",
        value_name="count",
    ).replace({"seats": {"occupied_seats": "occupied", "empty_seats": "empty"}})
    long["stack_order"] = (long["seats"] == "empty").astype(int)  # occupied at the bottom
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("flight_date:T", title=None, axis=alt.Axis(format="%d %b", labelAngle=0)),
            y=alt.Y("count:Q", title="seats", axis=alt.Axis(format=",.0f", tickCount=5), stack="zero"),
            order=alt.Order("stack_order:Q"),
            color=alt.Color(
                "seats:N",
                title=None,
                scale=alt.Scale(domain=["occupied", "empty"], range=["#3b6fb6", "#d5e3f5"]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("flight_date:T", title="day", format="%a %d %b %Y"),
                alt.Tooltip("seats:N"),
                alt.Tooltip("count:Q", format=","),
                alt.Tooltip("occupancy:Q", format=".1%"),
            ],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def _routes(routes: pd.DataFrame) -> None:
    st.subheader("Busiest routes: on-time share and average arrival delay", anchor=False)
    if routes.empty:
        st.caption("No routes flown in these dates.")
        return
    order = routes["route"].tolist()
    height = max(220, 26 * len(routes))
    share = (
        alt.Chart(routes)
        .mark_bar(color="#2e9e6a")
        .encode(
            y=alt.Y("route:N", sort=order, title=None),
            x=alt.X(
                "on_time_share:Q", title="on time", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])
            ),
            tooltip=[
                "route:N",
                alt.Tooltip("flights:Q", format=","),
                alt.Tooltip("on_time_share:Q", title="on time", format=".1%"),
                alt.Tooltip("avg_departure_delay_minutes:Q", title="avg departure delay (min)", format=".1f"),
                alt.Tooltip("avg_arrival_delay_minutes:Q", title="avg arrival delay (min)", format=".1f"),
            ],
        )
        .properties(height=height)
    )
    delay = (
        alt.Chart(routes)
        .mark_bar(color="#c0392b")
        .encode(
            y=alt.Y("route:N", sort=order, title=None, axis=None),
            x=alt.X("avg_arrival_delay_minutes:Q", title="avg arrival delay (min)"),
            tooltip=["route:N", alt.Tooltip("avg_arrival_delay_minutes:Q", format=".1f")],
        )
        .properties(height=height)
    )
    st.altair_chart(alt.hconcat(share, delay).resolve_scale(y="shared"), width="stretch")


def _airports(airports: pd.DataFrame) -> None:
    st.subheader("Busiest airports", anchor=False)
    if airports.empty:
        st.caption("No flights in these dates.")
        return
    labelled = airports.assign(
        label=airports["airport_code"] + airports["city"].fillna("").map(lambda c: f" · {c}" if c else "")
    )
    order = labelled["label"].tolist()  # busiest first, as the query sorted them
    df = labelled.melt(
        id_vars=["label", "movements"],
        value_vars=["departures", "arrivals"],
        var_name="direction",
        value_name="flights",
    )
    chart = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=order, title=None),
            x=alt.X("flights:Q", title="flights", stack="zero", axis=alt.Axis(tickCount=8)),
            color=alt.Color(
                "direction:N",
                title=None,
                scale=alt.Scale(domain=["departures", "arrivals"], range=["#3b6fb6", "#e8912d"]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=["label:N", "direction:N", alt.Tooltip("flights:Q", format=","), "movements:Q"],
        )
        .properties(height=alt.Step(26))
    )
    st.altair_chart(chart, width="stretch")


if __name__ == "__main__":
    render()

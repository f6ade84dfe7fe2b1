"""Flights (seed 003): on-time performance and delays by route and day, seats, busiest airports.

This pipeline's dashboard page and the queries behind it. Discovered by the dashboard from this
folder (no core file names the pipeline); Streamlit runs the file as the page. The marts are
found through dbt's manifest (:mod:`headwater.dashboard.marts`), never by a schema written here.
Each query takes a DuckDB connection with the warehouse attached read-only as ``wh``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import altair as alt
import duckdb
import pandas as pd
import streamlit as st

from headwater.dashboard import fmt, marts, ui
from headwater.dashboard.queries import frame

PIPELINE = Path(__file__).resolve().parent.name
TITLE = "Flights"
ICON = ":material/flight_takeoff:"
MARTS: tuple[str, ...] = ("fct_flight_activity", "fct_seat_occupied_daily", "dim_airport")
"""The models this page reads; missing ones show the page's "not run yet" state."""


def _mart(model: str) -> str:
    return marts.relation(PIPELINE, model)


def _activity() -> str:
    """One row per flight: schedule, status and delays (the page's main mart)."""
    return _mart("fct_flight_activity")


def fetch(*calls: tuple[Any, ...]) -> list[Any]:
    return ui.fetch(*calls, pipeline=PIPELINE)


def fetch_one(name: str, *args: Any) -> Any:
    return fetch((name, *args))[0]


# -- queries ---------------------------------------------------------------------------------
# flights (seed 003), by flight date (the local date of the scheduled departure). On time =
# arrived less than ON_TIME_MINUTES after the schedule (the usual 15-minute rule, the same
# threshold as the marts' is_delayed); delays are averaged over the flights that have actually
# departed (departure delay) or arrived (arrival delay): the marts leave them null until then.

ON_TIME_MINUTES = 15

FLIGHT_COLUMNS: dict[str, tuple[str, ...]] = {
    "fct_flight_activity": (
        "flight_id",
        "flight_date",
        "departure_airport",
        "arrival_airport",
        "status",
        "departure_delay_minutes",
        "arrival_delay_minutes",
    ),
    "fct_seat_occupied_daily": ("flight_date", "total_seats", "occupied_seats", "empty_seats"),
    "dim_airport": ("airport_code", "airport_name", "city"),
}


def flights_date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None, date | None]:
    """First and last flight date in the timetable, and the last date a flight has arrived
    (later dates are only scheduled: published up to two weeks ahead)."""
    row = con.execute(
        f"SELECT min(flight_date), max(flight_date), "
        f"max(flight_date) FILTER (WHERE arrival_delay_minutes IS NOT NULL) FROM {_activity()}"
    ).fetchone()
    return (row[0], row[1], row[2]) if row else (None, None, None)


def _on_time_columns() -> str:
    return f"""
        count(*) AS flights,
        count(arrival_delay_minutes) AS arrived,
        count(*) FILTER (WHERE arrival_delay_minutes < {ON_TIME_MINUTES}) AS on_time,
        count(*) FILTER (WHERE arrival_delay_minutes < {ON_TIME_MINUTES})
            / nullif(count(arrival_delay_minutes), 0) AS on_time_share,
        avg(departure_delay_minutes)::DOUBLE AS avg_departure_delay_minutes,
        avg(arrival_delay_minutes)::DOUBLE AS avg_arrival_delay_minutes,
        count(*) FILTER (WHERE lower(status) = 'cancelled') AS cancelled
    """


def flight_totals(con: duckdb.DuckDBPyConnection, start: date, end: date) -> dict[str, Any]:
    """Flights scheduled in [start, end], how many arrived, on-time share, average delays."""
    cur = con.execute(
        f"SELECT {_on_time_columns()} FROM {_activity()} WHERE flight_date BETWEEN ? AND ?",
        [start, end],
    )
    row = cur.fetchone()
    names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True)) if row else dict.fromkeys(names)


def on_time_by_day(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    return frame(
        con,
        f"""
        SELECT flight_date, {_on_time_columns()}
        FROM {_mart("fct_flight_activity")} WHERE flight_date BETWEEN ? AND ?
        GROUP BY flight_date ORDER BY flight_date
        """,
        [start, end],
    )


def route_performance(
    con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int = 15
) -> pd.DataFrame:
    """The ``limit`` busiest routes (departure -> arrival airport) with on-time share and delays."""
    return frame(
        con,
        f"""
        SELECT departure_airport || ' → ' || arrival_airport AS route,
            departure_airport, arrival_airport, {_on_time_columns()}
        FROM {_mart("fct_flight_activity")} WHERE flight_date BETWEEN ? AND ?
        GROUP BY departure_airport, arrival_airport
        ORDER BY flights DESC, route
        LIMIT ?
        """,
        [start, end, limit],
    )


def seat_occupancy_by_day(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    return frame(
        con,
        f"""
        SELECT flight_date, sum(total_seats)::BIGINT AS total_seats,
            sum(occupied_seats)::BIGINT AS occupied_seats, sum(empty_seats)::BIGINT AS empty_seats,
            sum(occupied_seats) / nullif(sum(total_seats), 0) AS occupancy
        FROM {_mart("fct_seat_occupied_daily")} WHERE flight_date BETWEEN ? AND ?
        GROUP BY flight_date ORDER BY flight_date
        """,
        [start, end],
    )


def busiest_airports(con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int = 10) -> pd.DataFrame:
    """Airports by flights (not cancelled) departing plus arriving, flight dates in [start, end]."""
    flights = f"{_activity()} WHERE flight_date BETWEEN ? AND ? AND lower(status) <> 'cancelled'"
    return frame(
        con,
        f"""
        WITH movements AS (
            SELECT departure_airport AS airport_code, 1 AS departures, 0 AS arrivals FROM {flights}
            UNION ALL
            SELECT arrival_airport, 0, 1 FROM {flights}
        )
        SELECT m.airport_code, any_value(a.airport_name) AS airport_name, any_value(a.city) AS city,
            sum(m.departures)::BIGINT AS departures, sum(m.arrivals)::BIGINT AS arrivals,
            count(*) AS movements
        FROM movements AS m LEFT JOIN {_mart("dim_airport")} AS a USING (airport_code)
        GROUP BY m.airport_code
        ORDER BY movements DESC, m.airport_code
        LIMIT ?
        """,
        [start, end, start, end, limit],
    )


# -- page ------------------------------------------------------------------------------------


def render() -> None:
    st.title(TITLE)
    ui.sidebar()
    missing, missing_cols = fetch(
        ("missing_tables", tuple(marts.located(PIPELINE, MARTS))),
        ("missing_columns", marts.located(PIPELINE, MARTS)[0][0], FLIGHT_COLUMNS),
    )
    if missing:
        ui.not_run_yet(PIPELINE, TITLE, missing)
        return
    if missing_cols:
        st.warning(
            "**The flights marts do not have the columns this page reads**: "
            + ", ".join(f"`{c}`" for c in missing_cols)
            + ". The dbt models and this page disagree; update this pipeline's `dashboard.py`.",
            icon=":material/schema:",
        )
        return
    lo, hi, last_flown = fetch_one("flights_date_bounds")
    if lo is None:
        st.info(
            "**No flights yet.** The pipeline has run, but there are no flights.", icon=":material/flight:"
        )
        return
    st.caption(
        f"By flight date (local date of the scheduled departure). On time = arrived less than "
        f"{ON_TIME_MINUTES} minutes late; delays are averaged over the flights that have "
        "departed or arrived. Dates after the last arrival are only scheduled so far."
    )
    start, end = ui.date_range("Flight dates", lo, hi, key="flights-dates", default=(lo, last_flown or hi))
    totals, daily, routes, seats, airports = fetch(
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

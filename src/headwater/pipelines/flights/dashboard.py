"""Flights (seed 003): on-time performance and delays by route and day, seats, busiest airports.

This folder's page and the SQL behind it (DuckDB dialect, warehouse attached read-only as
``wh``); the core's registry finds it here, and the marts' schemas come from dbt's manifest.
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

TITLE = "Flights"
ICON = ":material/flight_takeoff:"
PAGE = ui.PipelinePage(__file__, ("fct_flight_activity", "fct_seat_occupied_daily", "dim_airport"))
PIPELINE = PAGE.pipeline
MARTS = PAGE.models


def _activity() -> str:
    """One row per flight: schedule, status and delays (the page's main mart)."""
    return PAGE.mart("fct_flight_activity")


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
        FROM {PAGE.mart("fct_flight_activity")} WHERE flight_date BETWEEN ? AND ?
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
        FROM {PAGE.mart("fct_flight_activity")} WHERE flight_date BETWEEN ? AND ?
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
        FROM {PAGE.mart("fct_seat_occupied_daily")} WHERE flight_date BETWEEN ? AND ?
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
        FROM movements AS m LEFT JOIN {PAGE.mart("dim_airport")} AS a USING (airport_code)
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
    missing, missing_cols = PAGE.fetch(
        ("missing_tables", PAGE.located()),
        ("missing_columns", PAGE.located()[0][0], FLIGHT_COLUMNS),
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
    lo, hi, last_flown = PAGE.fetch_one("flights_date_bounds")
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
    totals, daily, routes, seats, airports = PAGE.fetch(
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
    occupied, total = seats["occupied_seats"].sum(), seats["total_seats"].sum()
    arrived = fmt.count(totals["arrived"])
    ui.kpi_row(
        [
            ui.Kpi(
                "Flights",
                fmt.count(totals["flights"]),
                daily["flights"].tolist(),
                f"{arrived} have arrived; {fmt.count(totals['cancelled'])} cancelled",
                "bar",
            ),
            ui.Kpi(
                "On time",
                fmt.percent(totals["on_time_share"]),
                daily["on_time_share"].fillna(0).tolist(),
                f"{fmt.count(totals['on_time'])} of {arrived} arrived flights",
            ),
            ui.Kpi(
                "Avg departure delay",
                _minutes(totals["avg_departure_delay_minutes"]),
                daily["avg_departure_delay_minutes"].fillna(0).tolist(),
            ),
            ui.Kpi(
                "Avg arrival delay",
                _minutes(totals["avg_arrival_delay_minutes"]),
                daily["avg_arrival_delay_minutes"].fillna(0).tolist(),
            ),
            ui.Kpi(
                "Seat occupancy",
                fmt.percent(occupied / total if total else None),
                seats["occupancy"].fillna(0).tolist(),
                f"{fmt.count(occupied)} of {fmt.count(total)} seats occupied",
                "area",
            ),
        ]
    )


def _minutes(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:,.1f} min"


def _on_time_chart(daily: pd.DataFrame) -> None:
    st.subheader("On-time performance and delays per day", anchor=False)
    x = ui.day_x("flight_date")
    day = ui.day_tooltip("flight_date")
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
            color=ui.top_legend("delay", {"departure": "#e8912d", "arrival": "#c0392b"}),
            tooltip=[day, alt.Tooltip("delay:N"), alt.Tooltip("minutes:Q", format=".1f")],
        )
        .properties(height=130)
    )
    st.altair_chart(alt.vconcat(share, delay, spacing=8), width="stretch")


def _seat_chart(seats: pd.DataFrame) -> None:
    if not ui.section("Seats occupied and empty per day", seats, "No seat data for these dates."):
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
            x=ui.day_x("flight_date"),
            y=alt.Y("count:Q", title="seats", axis=alt.Axis(format=",.0f", tickCount=5), stack="zero"),
            order=alt.Order("stack_order:Q"),
            color=ui.top_legend("seats", {"occupied": "#3b6fb6", "empty": "#d5e3f5"}),
            tooltip=[
                ui.day_tooltip("flight_date"),
                alt.Tooltip("seats:N"),
                alt.Tooltip("count:Q", format=","),
                alt.Tooltip("occupancy:Q", format=".1%"),
            ],
        )
        .properties(height=260)
    )
    st.altair_chart(chart, width="stretch")


def _routes(routes: pd.DataFrame) -> None:
    if not ui.section(
        "Busiest routes: on-time share and average arrival delay", routes, "No routes flown in these dates."
    ):
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
    if not ui.section("Busiest airports", airports, "No flights in these dates."):
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
            color=ui.top_legend("direction", {"departures": "#3b6fb6", "arrivals": "#e8912d"}),
            tooltip=["label:N", "direction:N", alt.Tooltip("flights:Q", format=","), "movements:Q"],
        )
        .properties(height=alt.Step(26))
    )
    st.altair_chart(chart, width="stretch")


if __name__ == "__main__":
    render()

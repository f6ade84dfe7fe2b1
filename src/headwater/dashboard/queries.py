"""The SQL behind every chart and number of the dashboards, as plain functions.

Each function takes a DuckDB connection on which the warehouse is attached read-only as
``wh`` (see :mod:`headwater.dashboard.db`) and returns a pandas DataFrame or a small dict, so
tests can call them directly and compare with figures computed from the source. Queries are
written in DuckDB's dialect; on a Postgres warehouse DuckDB's postgres extension reads the
tables. Date ranges are inclusive on both ends. Nothing here writes.

A pipeline that has not run yet has no tables: :func:`missing_tables` tells the pages so
they can show an empty state instead of failing on a missing relation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from headwater.dashboard.db import ALIAS

META = "headwater"
TRAVEL_CORE = "travel_bookings_core"
TRAVEL_REPORTS = "travel_bookings_reports"
FLIGHTS_CORE = "flights_core"

TRAVEL_TABLES: tuple[tuple[str, str], ...] = (
    (TRAVEL_REPORTS, "rep_booking_summary"),
    (TRAVEL_CORE, "fct_ticket_sales"),
    (TRAVEL_CORE, "dim_bookings"),
    (TRAVEL_CORE, "dim_passengers"),
    (TRAVEL_CORE, "dim_segments"),
    (TRAVEL_CORE, "bridge_ticket_segments"),
)
FLIGHTS_TABLES: tuple[tuple[str, str], ...] = (
    (FLIGHTS_CORE, "fct_flight_activity"),
    (FLIGHTS_CORE, "fct_seat_occupied_daily"),
    (FLIGHTS_CORE, "dim_airport"),
)

FAILED_STATUSES = ("fail", "error", "runtime error")


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# --------------------------------------------------------------------------------------------
# catalog


def relations(con: duckdb.DuckDBPyConnection, schemas: Iterable[str] | None = None) -> set[tuple[str, str]]:
    """(schema, name) of every table and view in the warehouse (optionally in ``schemas``)."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "UNION SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ?",
        [ALIAS, ALIAS],
    ).fetchall()
    wanted = set(schemas) if schemas is not None else None
    return {(s, t) for s, t in rows if wanted is None or s in wanted}


def missing_tables(
    con: duckdb.DuckDBPyConnection, required: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The ``required`` (schema, table) pairs that do not exist (yet)."""
    required = list(required)
    present = relations(con, {s for s, _ in required})
    return [r for r in required if r not in present]


def has_metadata(con: duckdb.DuckDBPyConnection) -> bool:
    return not missing_tables(con, [(META, "load_ledger"), (META, "dbt_results"), (META, "quarantine")])


# --------------------------------------------------------------------------------------------
# overview: runs, rows moved, freshness, quarantine, dbt results (the metadata schema)

OVERVIEW_COLUMNS = [
    "pipeline",
    "run_id",
    "run_started_at",
    "run_finished_at",
    "tables_loaded",
    "rows_moved",
    "rows_changed",
    "rows_quarantined_run",
    "last_loaded_at",
    "newest_data_at",
    "quarantined_total",
    "models_built",
    "models_failed",
    "tests_passed",
    "tests_warned",
    "tests_failed",
    "freshness_status",
]


def pipeline_overview(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per pipeline that has run: its latest run and what it did.

    The latest run is the one with the newest load or dbt result. ``rows_*`` and the dbt
    counts are for that run (a run whose extracts were all skipped moved 0 rows);
    ``last_loaded_at`` is the last time any row was loaded, ``newest_data_at`` the newest
    timestamp watermark (how recent the source data is), ``quarantined_total`` every row
    ever quarantined. ``models_built`` counts the staging and core models built (as the
    ``headwater run`` summary does), ``models_failed`` any seed, snapshot or model that
    errored. ``freshness_status`` is dbt's source freshness result of that run
    (``pass``/``warn``/``error``, None when the step did not run). Timestamps are UTC.
    """
    if not has_metadata(con):
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    m = f"{ALIAS}.{META}"
    failed = ", ".join(f"'{s}'" for s in FAILED_STATUSES)
    watermarks = (
        f"""
        SELECT pipeline, max(TRY_CAST(watermark AS TIMESTAMP)) AS newest_data_at
        FROM {m}.watermarks
        WHERE cursor_type ILIKE 'TIMESTAMP%' OR cursor_type ILIKE 'DATE%'
        GROUP BY pipeline
        """
        if (META, "watermarks") in relations(con, [META])
        else "SELECT NULL::VARCHAR AS pipeline, NULL::TIMESTAMP AS newest_data_at WHERE false"
    )
    return _df(
        con,
        f"""
        WITH events AS (
            SELECT pipeline, run_id, loaded_at AS event_at FROM {m}.load_ledger
            UNION ALL
            SELECT pipeline, run_id, recorded_at FROM {m}.dbt_results
        ),
        runs AS (
            SELECT pipeline, run_id, min(event_at) AS run_started_at, max(event_at) AS run_finished_at
            FROM events GROUP BY pipeline, run_id
        ),
        latest AS (
            SELECT * FROM runs
            QUALIFY row_number() OVER (PARTITION BY pipeline ORDER BY run_finished_at DESC, run_id DESC) = 1
        ),
        loads AS (
            SELECT l.pipeline,
                count(DISTINCT l.table_name) AS tables_loaded,
                sum(l.rows_in_batch) AS rows_moved,
                sum(l.rows_changed) AS rows_changed,
                sum(l.rows_quarantined) AS rows_quarantined_run
            FROM {m}.load_ledger AS l JOIN latest USING (pipeline, run_id)
            GROUP BY l.pipeline
        ),
        ever_loaded AS (
            SELECT pipeline, max(loaded_at) AS last_loaded_at FROM {m}.load_ledger GROUP BY pipeline
        ),
        dbt AS (
            SELECT d.pipeline,
                count(*) FILTER (WHERE d.step IN ('staging', 'core')
                                 AND d.status = 'success') AS models_built,
                count(*) FILTER (WHERE d.step IN ('staging', 'core', 'snapshot', 'seed')
                                 AND d.status IN ({failed})) AS models_failed,
                count(*) FILTER (WHERE d.step IN ('source_tests', 'test_all')
                                 AND d.status = 'pass') AS tests_passed,
                count(*) FILTER (WHERE d.step IN ('source_tests', 'test_all')
                                 AND d.status = 'warn') AS tests_warned,
                count(*) FILTER (WHERE d.step IN ('source_tests', 'test_all')
                                 AND d.status IN ({failed})) AS tests_failed,
                CASE
                    WHEN count(*) FILTER (WHERE d.step = 'source_freshness') = 0 THEN NULL
                    WHEN bool_or(d.step = 'source_freshness' AND d.status IN ('error', 'runtime error'))
                        THEN 'error'
                    WHEN bool_or(d.step = 'source_freshness' AND d.status = 'warn') THEN 'warn'
                    ELSE 'pass'
                END AS freshness_status
            FROM {m}.dbt_results AS d JOIN latest USING (pipeline, run_id)
            GROUP BY d.pipeline
        ),
        quarantined AS (
            SELECT pipeline, count(*) AS quarantined_total FROM {m}.quarantine GROUP BY pipeline
        ),
        wm AS ({watermarks})
        SELECT latest.pipeline, latest.run_id, latest.run_started_at, latest.run_finished_at,
            coalesce(loads.tables_loaded, 0) AS tables_loaded,
            coalesce(loads.rows_moved, 0)::BIGINT AS rows_moved,
            coalesce(loads.rows_changed, 0)::BIGINT AS rows_changed,
            coalesce(loads.rows_quarantined_run, 0)::BIGINT AS rows_quarantined_run,
            ever_loaded.last_loaded_at,
            wm.newest_data_at,
            coalesce(quarantined.quarantined_total, 0) AS quarantined_total,
            coalesce(dbt.models_built, 0) AS models_built,
            coalesce(dbt.models_failed, 0) AS models_failed,
            coalesce(dbt.tests_passed, 0) AS tests_passed,
            coalesce(dbt.tests_warned, 0) AS tests_warned,
            coalesce(dbt.tests_failed, 0) AS tests_failed,
            dbt.freshness_status
        FROM latest
        LEFT JOIN loads USING (pipeline)
        LEFT JOIN ever_loaded USING (pipeline)
        LEFT JOIN wm USING (pipeline)
        LEFT JOIN quarantined USING (pipeline)
        LEFT JOIN dbt USING (pipeline)
        ORDER BY latest.pipeline
        """,
    )[OVERVIEW_COLUMNS]


def load_history(con: duckdb.DuckDBPyConnection, pipeline: str, limit: int = 20) -> pd.DataFrame:
    """Rows moved per run (the ``limit`` most recent runs that loaded anything), oldest first."""
    if not has_metadata(con):
        return pd.DataFrame(columns=["run_id", "loaded_at", "rows_moved", "rows_changed", "seconds"])
    return _df(
        con,
        f"""
        SELECT * FROM (
            SELECT run_id, min(loaded_at) AS loaded_at,
                sum(rows_in_batch)::BIGINT AS rows_moved,
                sum(rows_changed)::BIGINT AS rows_changed,
                sum(duration_seconds) AS seconds
            FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ?
            GROUP BY run_id ORDER BY loaded_at DESC LIMIT ?
        ) ORDER BY loaded_at
        """,
        [pipeline, limit],
    )


def run_tables(con: duckdb.DuckDBPyConnection, pipeline: str, run_id: str) -> pd.DataFrame:
    """What each table's load did in one run."""
    return _df(
        con,
        f"""
        SELECT table_name, mode, rows_in_batch, rows_changed, rows_deleted, rows_quarantined,
            watermark_after AS watermark, loaded_at, duration_seconds
        FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? AND run_id = ?
        ORDER BY table_name
        """,
        [pipeline, run_id],
    )


def dbt_problems(con: duckdb.DuckDBPyConnection, pipeline: str, run_id: str) -> pd.DataFrame:
    """The dbt nodes of one run that did not simply pass: warnings, failures, errors."""
    return _df(
        con,
        f"""
        SELECT step, resource_type, unique_id, status, failures, message
        FROM {ALIAS}.{META}.dbt_results
        WHERE pipeline = ? AND run_id = ? AND status NOT IN ('success', 'pass', 'skipped', 'no op')
        ORDER BY CASE WHEN status = 'warn' THEN 1 ELSE 0 END, step, unique_id
        """,
        [pipeline, run_id],
    )


def quarantine_summary(con: duckdb.DuckDBPyConnection, pipeline: str | None = None) -> pd.DataFrame:
    """Quarantined rows per pipeline, table and reason, with the last time one arrived."""
    if not has_metadata(con):
        return pd.DataFrame(columns=["pipeline", "table_name", "reason", "rows", "last_at"])
    where, params = ("WHERE pipeline = ?", [pipeline]) if pipeline else ("", [])
    return _df(
        con,
        f"""
        SELECT pipeline, table_name, reason, count(*) AS rows, max(quarantined_at) AS last_at
        FROM {ALIAS}.{META}.quarantine {where}
        GROUP BY ALL ORDER BY pipeline, table_name, reason
        """,
        params,
    )


# --------------------------------------------------------------------------------------------
# travel bookings (seed 000). Every figure is by booking date (the day the booking was made).
# Revenue counts tickets of bookings that are not cancelled, in EUR, as rep_booking_summary.


def travel_date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    row = con.execute(
        f"SELECT min(booking_date), max(booking_date) FROM {ALIAS}.{TRAVEL_REPORTS}.rep_booking_summary"
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def daily_bookings(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """The seed's booking summary, one row per booking day in [start, end]."""
    return _df(
        con,
        f"""
        SELECT booking_date, bookings, tickets, passengers, segments,
            revenue_eur::DOUBLE AS revenue_eur,
            avg_ticket_price_eur::DOUBLE AS avg_ticket_price_eur,
            cancelled_bookings
        FROM {ALIAS}.{TRAVEL_REPORTS}.rep_booking_summary
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
            FROM {ALIAS}.{TRAVEL_REPORTS}.rep_booking_summary
            WHERE booking_date BETWEEN ? AND ?
        ),
        prices AS (
            SELECT avg(price_eur)::DOUBLE AS avg_ticket_price_eur
            FROM {ALIAS}.{TRAVEL_CORE}.fct_ticket_sales
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
    return _df(
        con,
        f"""
        SELECT p.passenger_type, count(*) AS passengers,
            count(*) / sum(count(*)) OVER () AS share
        FROM {ALIAS}.{TRAVEL_CORE}.dim_passengers AS p
        JOIN {ALIAS}.{TRAVEL_CORE}.dim_bookings AS b USING (booking_id)
        WHERE b.booking_date BETWEEN ? AND ?
        GROUP BY p.passenger_type
        ORDER BY passengers DESC, p.passenger_type
        """,
        [start, end],
    )


# A ticket covers every segment of its booking; its price is split equally over the segments
# it is linked to, so carrier and mode revenue add up to the total revenue.
_SEGMENT_REVENUE = f"""
    SELECT s.segment_id, s.carrier_name, s.travel_mode, f.ticket_id,
        f.price_eur::DOUBLE / count(*) OVER (PARTITION BY f.ticket_id) AS revenue_eur
    FROM {ALIAS}.{TRAVEL_CORE}.fct_ticket_sales AS f
    JOIN {ALIAS}.{TRAVEL_CORE}.bridge_ticket_segments AS link USING (ticket_id)
    JOIN {ALIAS}.{TRAVEL_CORE}.dim_segments AS s USING (segment_id)
    WHERE f.booking_date BETWEEN ? AND ? AND f.booking_status <> 'cancelled'
"""


def travel_mode_split(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    """Per travel mode: segments booked in [start, end] (all bookings) and revenue (EUR)."""
    return _df(
        con,
        f"""
        WITH segments AS (
            SELECT s.travel_mode, count(*) AS segments
            FROM {ALIAS}.{TRAVEL_CORE}.dim_segments AS s
            JOIN {ALIAS}.{TRAVEL_CORE}.dim_bookings AS b USING (booking_id)
            WHERE b.booking_date BETWEEN ? AND ?
            GROUP BY s.travel_mode
        ),
        revenue AS (
            SELECT travel_mode, sum(revenue_eur) AS revenue_eur
            FROM ({_SEGMENT_REVENUE}) GROUP BY travel_mode
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
    return _df(
        con,
        f"""
        SELECT carrier_name, travel_mode, count(DISTINCT segment_id) AS segments,
            count(DISTINCT ticket_id) AS tickets, sum(revenue_eur) AS revenue_eur
        FROM ({_SEGMENT_REVENUE})
        WHERE ?::VARCHAR IS NULL OR travel_mode = ?
        GROUP BY carrier_name, travel_mode
        ORDER BY revenue_eur DESC, carrier_name
        LIMIT ?
        """,
        [start, end, mode, mode, limit],
    )


# --------------------------------------------------------------------------------------------
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


def missing_columns(
    con: duckdb.DuckDBPyConnection, schema: str, wanted: dict[str, tuple[str, ...]]
) -> list[str]:
    """``table.column`` for every wanted column that the (existing) tables do not have."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ?",
        [ALIAS, schema],
    ).fetchall()
    present = set(rows)
    return [f"{t}.{c}" for t, cols in wanted.items() for c in cols if (t, c) not in present]


_FA = f"{ALIAS}.{FLIGHTS_CORE}.fct_flight_activity"
_SEATS = f"{ALIAS}.{FLIGHTS_CORE}.fct_seat_occupied_daily"
_AIRPORTS = f"{ALIAS}.{FLIGHTS_CORE}.dim_airport"


def flights_date_bounds(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None, date | None]:
    """First and last flight date in the timetable, and the last date a flight has arrived
    (later dates are only scheduled: published up to two weeks ahead)."""
    row = con.execute(
        f"SELECT min(flight_date), max(flight_date), "
        f"max(flight_date) FILTER (WHERE arrival_delay_minutes IS NOT NULL) FROM {_FA}"
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
        f"SELECT {_on_time_columns()} FROM {_FA} WHERE flight_date BETWEEN ? AND ?", [start, end]
    )
    row = cur.fetchone()
    names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True)) if row else dict.fromkeys(names)


def on_time_by_day(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    return _df(
        con,
        f"""
        SELECT flight_date, {_on_time_columns()}
        FROM {_FA} WHERE flight_date BETWEEN ? AND ?
        GROUP BY flight_date ORDER BY flight_date
        """,
        [start, end],
    )


def route_performance(
    con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int = 15
) -> pd.DataFrame:
    """The ``limit`` busiest routes (departure -> arrival airport) with on-time share and delays."""
    return _df(
        con,
        f"""
        SELECT departure_airport || ' → ' || arrival_airport AS route,
            departure_airport, arrival_airport, {_on_time_columns()}
        FROM {_FA} WHERE flight_date BETWEEN ? AND ?
        GROUP BY departure_airport, arrival_airport
        ORDER BY flights DESC, route
        LIMIT ?
        """,
        [start, end, limit],
    )


def seat_occupancy_by_day(con: duckdb.DuckDBPyConnection, start: date, end: date) -> pd.DataFrame:
    return _df(
        con,
        f"""
        SELECT flight_date, sum(total_seats)::BIGINT AS total_seats,
            sum(occupied_seats)::BIGINT AS occupied_seats, sum(empty_seats)::BIGINT AS empty_seats,
            sum(occupied_seats) / nullif(sum(total_seats), 0) AS occupancy
        FROM {_SEATS} WHERE flight_date BETWEEN ? AND ?
        GROUP BY flight_date ORDER BY flight_date
        """,
        [start, end],
    )


def busiest_airports(con: duckdb.DuckDBPyConnection, start: date, end: date, limit: int = 10) -> pd.DataFrame:
    """Airports by flights (not cancelled) departing plus arriving, flight dates in [start, end]."""
    flights = f"{_FA} WHERE flight_date BETWEEN ? AND ? AND lower(status) <> 'cancelled'"
    return _df(
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
        FROM movements AS m LEFT JOIN {_AIRPORTS} AS a USING (airport_code)
        GROUP BY m.airport_code
        ORDER BY movements DESC, m.airport_code
        LIMIT ?
        """,
        [start, end, start, end, limit],
    )

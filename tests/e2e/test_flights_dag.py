"""The flights DAG, run for real by Airflow (``airflow dags test``), end to end.

Embedded default (SQLite source, Parquet lake, DuckDB warehouse) and production-like
(Postgres source and warehouse). Every expected figure is computed from the source database
with its own driver (and Python's own time zone database for local dates), never read back
from what the pipeline produced.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from headwater.orchestration.local import run_dag
from headwater.pipelines.flights import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse

pytestmark = pytest.mark.e2e
SPEC = load_spec("flights")
CORE = "wh.flights_core"


class Source:
    """Reads the source database directly (sqlite3 or psycopg), for expected values."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.url.startswith("sqlite:///"):
            con = sqlite3.connect(self.url[len("sqlite:///") :])
            try:
                return [tuple(_parse(v) for v in r) for r in con.execute(sql, params).fetchall()]
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.url, options="-c search_path=flights") as con:
            return [
                tuple(_parse(v) for v in r) for r in con.execute(sql.replace("?", "%s"), params).fetchall()
            ]


def _parse(value):
    """SQLite hands timestamps back as 'YYYY-MM-DD HH:MM:SS' text."""
    if isinstance(value, str) and len(value) == 19 and value[4] == "-" and value[10] == " ":
        return datetime.fromisoformat(value)
    return value


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds() // 60)


def expected_flights(src: Source) -> dict[int, dict]:
    """Per flight: status, delays, travel time and local flight date, from the source."""
    zones = dict(src.rows("SELECT airport_code, timezone FROM airports"))
    out = {}
    for fid, dep, arr, status, s_dep, s_arr, a_dep, a_arr in src.rows(
        "SELECT flight_id, departure_airport, arrival_airport, status, scheduled_departure, "
        "scheduled_arrival, actual_departure, actual_arrival FROM flights"
    ):
        out[fid] = {
            "route": (dep, arr),
            "status": status,
            "flight_date": s_dep.replace(tzinfo=UTC).astimezone(ZoneInfo(zones[dep])).date(),
            "departure_delay_minutes": _minutes(s_dep, a_dep),
            "arrival_delay_minutes": _minutes(s_arr, a_arr),
            "actual_duration_minutes": _minutes(a_dep, a_arr),
        }
    return out


def actual_flights(wh) -> dict[int, dict]:
    rows = wh.query(
        "SELECT flight_id, departure_airport, arrival_airport, status, flight_date, departure_delay_minutes, "
        f"arrival_delay_minutes, actual_duration_minutes FROM {CORE}.fct_flight_activity"
    )
    return {
        r[0]: {
            "route": (r[1], r[2]),
            "status": r[3],
            "flight_date": r[4],
            "departure_delay_minutes": r[5],
            "arrival_delay_minutes": r[6],
            "actual_duration_minutes": r[7],
        }
        for r in rows
    }


def route_delays(flights: dict[int, dict]) -> dict[tuple[str, str], tuple[int, float | None, float | None]]:
    """(flights, average departure delay, average arrival delay) per route, over flights flown."""
    by_route: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for f in flights.values():
        by_route[f["route"]].append(f)
    out = {}
    for route, fs in by_route.items():
        dep = [f["departure_delay_minutes"] for f in fs if f["departure_delay_minutes"] is not None]
        arr = [f["arrival_delay_minutes"] for f in fs if f["arrival_delay_minutes"] is not None]
        out[route] = (
            len(fs),
            round(sum(dep) / len(dep), 6) if dep else None,
            round(sum(arr) / len(arr), 6) if arr else None,
        )
    return out


def expected_occupancy(src: Source, flights: dict[int, dict]) -> dict[int, tuple]:
    """Per departed flight: (flight date, total seats, sold, occupied, empty) from the source."""
    seats = dict(src.rows("SELECT aircraft_code, count(*) FROM seats GROUP BY aircraft_code"))
    aircraft = dict(src.rows("SELECT flight_id, aircraft_code FROM flights"))
    sold = dict(src.rows("SELECT flight_id, count(*) FROM ticket_flights GROUP BY flight_id"))
    boarded = dict(src.rows("SELECT flight_id, count(*) FROM boarding_passes GROUP BY flight_id"))
    out = {}
    for fid, f in flights.items():
        if f["status"] in ("departed", "arrived"):
            total = seats[aircraft[fid]]
            occupied = boarded.get(fid, 0)
            out[fid] = (f["flight_date"], total, sold.get(fid, 0), occupied, total - occupied)
    return out


def actual_occupancy(wh) -> dict[int, tuple]:
    rows = wh.query(
        "SELECT flight_id, flight_date, total_seats, seats_sold, occupied_seats, empty_seats "
        f"FROM {CORE}.fct_seat_occupied_daily"
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def expected_contacts(src: Source) -> dict[str, tuple]:
    """Per passenger: (name, phone, email) of the most recently changed ticket."""
    latest: dict[str, tuple] = {}
    for pid, ticket_no, updated_at, contact in src.rows(
        "SELECT passenger_id, ticket_no, updated_at, contact_data FROM tickets"
    ):
        if pid not in latest or (updated_at, ticket_no) > latest[pid][:2]:
            latest[pid] = (updated_at, ticket_no, contact)
    out = {}
    for pid, (_, _, contact) in latest.items():
        c = json.loads(contact)
        out[pid] = (c["name"], c.get("phone"), c.get("email"))
    return out


def actual_contacts(wh) -> dict[str, tuple]:
    rows = wh.query(f"SELECT passenger_id, passenger_name, phone, email FROM {CORE}.dim_passenger")
    return {r[0]: tuple(r[1:]) for r in rows}


def check_marts_against_source(wh, src: Source) -> dict[int, dict]:
    flights = expected_flights(src)
    got = actual_flights(wh)
    assert got == flights
    assert route_delays(got) == route_delays(flights)
    assert actual_occupancy(wh) == expected_occupancy(src, flights)
    assert actual_contacts(wh) == expected_contacts(src)
    counts = {
        "fct_booking_ticket": ("ticket_flights", "count(DISTINCT ticket_no || '/' || flight_id)"),
        "fct_boarding_pass": ("boarding_passes", "count(DISTINCT ticket_no || '/' || flight_id)"),
        "fct_flight_activity": ("flights", "count(DISTINCT flight_id)"),
        "dim_passenger": ("tickets", "count(DISTINCT passenger_id)"),
        "dim_seat": ("seats", "count(DISTINCT aircraft_code || '/' || seat_no)"),
    }
    for mart, (table, distinct) in counts.items():
        n_source = src.rows(f"SELECT {distinct} FROM {table}")[0][0]
        n_mart, n_distinct = wh.query(f"SELECT count(*), {distinct} FROM {CORE}.{mart}")[0]
        assert n_mart == n_distinct == n_source, mart
    amounts = wh.query(f"SELECT sum(amount) FROM {CORE}.fct_booking_ticket")[0][0]
    assert float(amounts) == float(src.rows("SELECT sum(amount) FROM ticket_flights")[0][0])
    return flights


def test_embedded_default_end_to_end(hw_home: Path):
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
    settings = Settings.from_env()
    url = SPEC.source_url(settings.home)
    generator.generate(url, scale=0.2, seed=11, as_of=as_of)
    _end_to_end(settings, Source(url), as_of, seed=11)


@pytest.mark.postgres
def test_postgres_source_and_warehouse_end_to_end(hw_home: Path, pg_database: str, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_URL", pg_database)
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", pg_database)
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
    generator.generate(pg_database, scale=0.2, seed=12, as_of=as_of)
    _end_to_end(Settings.from_env(), Source(pg_database), as_of, seed=12)


def _end_to_end(settings: Settings, src: Source, as_of: datetime, seed: int) -> None:
    wh = open_warehouse(settings.warehouse_url)

    first = run_dag(settings, "flights")
    assert first.state == "success", f"first run failed; log: {first.log}\n{first.tasks}"
    assert first.tasks["dbt_docs"] == "success"
    assert (settings.home / "dbt" / "flights" / "target" / "index.html").exists()
    dbt_failures = wh.query(
        "SELECT count(*) FROM wh.headwater.dbt_results WHERE run_id = ? AND status IN ('fail', 'error')",
        [first.run_id],
    )
    assert dbt_failures == [(0,)]
    before = check_marts_against_source(wh, src)
    watermarks = {t: s.watermark for t, s in wh.watermarks("flights").items()}

    # Advance the source by most of a day: flights depart and arrive, new ones are published,
    # bookings come in, some passengers change their contact data.
    result = generator.advance(src.url, seed=seed, as_of=as_of + timedelta(hours=23), update_fraction=0.02)
    assert result["updated_flights"] > 0 and result["new_bookings"] > 0 and result["updated_tickets"] > 0
    second = run_dag(settings, "flights")
    assert second.state == "success", f"second run failed; log: {second.log}\n{second.tasks}"

    # Only what changed moved: per table, the rows at or after the previous watermark, and
    # nothing (a skipped extract) where no row is newer than the watermark.
    moved = dict(
        wh.query(
            "SELECT table_name, sum(rows_in_batch) FROM wh.headwater.load_ledger WHERE run_id = ? GROUP BY 1",
            [second.run_id],
        )
    )
    for t in SPEC.tables:
        mark = datetime.fromisoformat(watermarks[t.name])
        at_or_after, after_mark = src.rows(
            f'SELECT count(*), count(*) FILTER (WHERE "{t.cursor}" > ?) '
            f'FROM "{t.name}" WHERE "{t.cursor}" >= ?',
            (mark, mark),
        )[0]
        assert moved.get(t.name, 0) == (at_or_after if after_mark else 0), t.name
    assert moved["flights"] > 0 and moved["boarding_passes"] > 0
    for reference in ("aircrafts", "airports", "seats"):
        assert second.tasks[f"extract[{reference}]"] == "skipped"

    # Updated flights reached the fact: delays appeared where flights departed or arrived.
    after = check_marts_against_source(wh, src)
    changed = {fid for fid, f in after.items() if fid in before and f != before[fid]}
    assert changed and {after[fid]["status"] for fid in changed} >= {"arrived"}
    newly_flown = [
        fid
        for fid in changed
        if before[fid]["departure_delay_minutes"] is None
        and after[fid]["departure_delay_minutes"] is not None
    ]
    assert newly_flown, "some flights departed between the runs"
    assert all(
        after[fid]["arrival_delay_minutes"] is not None
        for fid in changed
        if after[fid]["status"] == "arrived"
    )

    # The snapshot closed the old versions of changed flights; exactly one current version each.
    versions = dict(
        wh.query(
            "SELECT flight_id, count(*) FROM wh.flights_snapshots.flights_snapshot GROUP BY flight_id "
            "HAVING count(*) FILTER (WHERE dbt_valid_to IS NULL) = 1"
        )
    )
    assert set(versions) == set(after)
    assert all(versions[fid] >= 2 for fid in changed)

    # A third run with nothing new skips every extract, and dbt steps can be switched off.
    third = run_dag(settings, "flights", {"run_docs": False, "run_seed": False})
    assert third.state == "success", f"third run failed; log: {third.log}\n{third.tasks}"
    extracts = {k: v for k, v in third.tasks.items() if k.startswith("extract[")}
    assert len(extracts) == len(SPEC.tables) and set(extracts.values()) == {"skipped"}
    assert third.tasks["dbt_docs"] == "skipped" and third.tasks["dbt_seed"] == "skipped"
    assert third.tasks["dbt_test_all"] == "success"
    assert check_marts_against_source(wh, src) == after

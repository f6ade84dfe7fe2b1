"""Figures the flights marts must show, computed independently from the source.

Read by the end-to-end test (tests/e2e/test_pipelines.py), which runs the DAG three times
(first load, after ``advance``, with nothing new) and compares ``from_marts`` with
``from_source`` after each. Local flight dates come from Python's own time zone database,
delays and seats from plain arithmetic on the source rows; ``mart(model)`` is the model's
relation, found in dbt's manifest.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

GENERATE: dict[str, Any] = {"scale": 0.2}
"""Arguments to the generator for the end-to-end runs (small: CI time matters)."""
ADVANCE: dict[str, Any] = {"update_fraction": 0.02}
AS_OF_LAG = timedelta(days=1)
"""The source ends a day before now; the advance moves it most of a day: flights depart and
arrive, new ones are published, bookings come in, passengers change their contact data."""
ADVANCE_BY = timedelta(hours=23)
AS_OF_HOUR = 12
"""The source ends at noon (of the day AS_OF_LAG puts it on, or the day before). Flights are
published and sold by day, so whether the advance's schedule review finds an unsold flight to
withdraw depends on the hour the source ends at; at noon it does, on every day."""

# mart -> (source table, what makes a row distinct): the marts hold one row per source entity
COUNTS = {
    "fct_booking_ticket": ("ticket_flights", "count(DISTINCT ticket_no || '/' || flight_id)"),
    "fct_boarding_pass": ("boarding_passes", "count(DISTINCT ticket_no || '/' || flight_id)"),
    "fct_flight_activity": ("flights", "count(DISTINCT flight_id)"),
    "dim_passenger": ("tickets", "count(DISTINCT passenger_id)"),
    "dim_seat": ("seats", "count(DISTINCT aircraft_code || '/' || seat_no)"),
}


def _ts(value):
    """SQLite hands timestamps back as 'YYYY-MM-DD HH:MM:SS' text."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _minutes(start, end) -> int | None:
    start, end = _ts(start), _ts(end)
    return None if start is None or end is None else int((end - start).total_seconds() // 60)


def _flights(src) -> dict[int, dict]:
    zones = dict(src.rows("SELECT airport_code, timezone FROM airports"))
    out = {}
    for fid, dep, arr, status, s_dep, s_arr, a_dep, a_arr in src.rows(
        "SELECT flight_id, departure_airport, arrival_airport, status, scheduled_departure, "
        "scheduled_arrival, actual_departure, actual_arrival FROM flights"
    ):
        out[fid] = {
            "route": (dep, arr),
            "status": status,
            "flight_date": _ts(s_dep).replace(tzinfo=UTC).astimezone(ZoneInfo(zones[dep])).date(),
            "departure_delay_minutes": _minutes(s_dep, a_dep),
            "arrival_delay_minutes": _minutes(s_arr, a_arr),
            "actual_duration_minutes": _minutes(a_dep, a_arr),
        }
    return out


def _route_delays(flights: dict[int, dict]) -> dict[tuple[str, str], tuple]:
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


def _occupancy(src, flights: dict[int, dict]) -> dict[int, tuple]:
    """Per departed flight: (flight date, total seats, sold, occupied, empty)."""
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


def _contacts(src) -> dict[str, tuple]:
    """Per passenger: (name, phone, email) of the most recently changed ticket."""
    latest: dict[str, tuple] = {}
    for pid, ticket_no, updated_at, contact in src.rows(
        "SELECT passenger_id, ticket_no, updated_at, contact_data FROM tickets"
    ):
        key = (_ts(updated_at), ticket_no)
        if pid not in latest or key > latest[pid][:2]:
            latest[pid] = (*key, contact)
    out = {}
    for pid, (_, _, contact) in latest.items():
        c = json.loads(contact)
        out[pid] = (c["name"], c.get("phone"), c.get("email"))
    return out


def from_source(src) -> dict[str, Any]:
    flights = _flights(src)
    out: dict[str, Any] = {
        "flights": flights,
        "route delays": _route_delays(flights),
        "seat occupancy": _occupancy(src, flights),
        "passenger contacts": _contacts(src),
        "booked amount": float(src.rows("SELECT sum(amount) FROM ticket_flights")[0][0]),
    }
    for mart, (table, distinct) in COUNTS.items():
        n = src.rows(f"SELECT {distinct} FROM {table}")[0][0]
        out[f"{mart} rows (all, distinct)"] = (n, n)
    return out


def from_marts(wh, mart) -> dict[str, Any]:
    flights = {
        r[0]: {
            "route": (r[1], r[2]),
            "status": r[3],
            "flight_date": r[4],
            "departure_delay_minutes": r[5],
            "arrival_delay_minutes": r[6],
            "actual_duration_minutes": r[7],
        }
        for r in wh.query(
            "SELECT flight_id, departure_airport, arrival_airport, status, flight_date, "
            "departure_delay_minutes, arrival_delay_minutes, actual_duration_minutes "
            f"FROM {mart('fct_flight_activity')}"
        )
    }
    occupancy = wh.query(
        "SELECT flight_id, flight_date, total_seats, seats_sold, occupied_seats, empty_seats "
        f"FROM {mart('fct_seat_occupied_daily')}"
    )
    contacts = wh.query(f"SELECT passenger_id, passenger_name, phone, email FROM {mart('dim_passenger')}")
    out: dict[str, Any] = {
        "flights": flights,
        "route delays": _route_delays(flights),
        "seat occupancy": {r[0]: tuple(r[1:]) for r in occupancy},
        "passenger contacts": {r[0]: tuple(r[1:]) for r in contacts},
        "booked amount": float(wh.query(f"SELECT sum(amount) FROM {mart('fct_booking_ticket')}")[0][0]),
    }
    for name, (_table, distinct) in COUNTS.items():
        out[f"{name} rows (all, distinct)"] = tuple(
            wh.query(f"SELECT count(*), {distinct} FROM {mart(name)}")[0]
        )
    return out


def check_after_advance(wh, mart, before: dict[str, Any], after: dict[str, Any], run) -> None:
    """Flights departed and arrived between the runs, and the snapshot kept their history.

    ``run`` is the second DAG run: ``run.advanced`` (what the generator changed), ``run.moved``
    (rows loaded per table) and ``run.tasks`` (task states).
    """
    adv = run.advanced
    assert adv["updated_flights"] > 0 and adv["new_bookings"] > 0 and adv["updated_tickets"] > 0
    assert run.moved["flights"] > 0 and run.moved["boarding_passes"] > 0
    for reference in ("aircrafts", "airports", "seats"):  # nothing new: their extracts skip
        assert run.tasks[f"extract[{reference}]"] == "skipped"
    old, new = before["flights"], after["flights"]
    changed = {fid for fid, f in new.items() if fid in old and f != old[fid]}
    assert changed and {new[fid]["status"] for fid in changed} >= {"arrived"}
    assert any(
        old[fid]["departure_delay_minutes"] is None and new[fid]["departure_delay_minutes"] is not None
        for fid in changed
    ), "some flights departed between the runs"
    assert all(
        new[fid]["arrival_delay_minutes"] is not None for fid in changed if new[fid]["status"] == "arrived"
    )
    versions = dict(
        wh.query(
            f"SELECT flight_id, count(*) FROM {mart('flights_snapshot')} GROUP BY flight_id "
            "HAVING count(*) FILTER (WHERE dbt_valid_to IS NULL) = 1"
        )
    )
    assert set(versions) == set(new)
    assert all(versions[fid] >= 2 for fid in changed)
    # flights withdrawn from the schedule: gone from the source, marked in raw, snapshot closed
    withdrawn = set(old) - set(new)
    assert withdrawn and len(withdrawn) == adv["withdrawn_flights"]
    closed = wh.query(
        f"SELECT flight_id FROM {mart('flights_snapshot')} GROUP BY flight_id "
        "HAVING count(*) FILTER (WHERE dbt_valid_to IS NULL) = 0"
    )
    assert {r[0] for r in closed} == withdrawn
    marked = wh.query("SELECT flight_id FROM wh.raw_flights.flights WHERE _deleted_at IS NOT NULL")
    assert {r[0] for r in marked} == withdrawn

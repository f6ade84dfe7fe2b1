"""The flights synthetic source: schema, invariants, realism, determinism, advance, Postgres.

Every check reads the generated database independently (sqlite3 / psycopg) with its own SQL,
never through the generator's own helpers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.pipelines.flights import generator

AS_OF = dt.datetime(2025, 6, 1, 12, 0, 0)
PG_URL = os.environ.get("HEADWATER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
STATUSES = ("scheduled", "on_time", "delayed", "departed", "arrived", "cancelled")
RANK = {s: i for i, s in enumerate(STATUSES)}

EXPECTED_COLUMNS = {
    "aircrafts": [
        ("aircraft_code", "varchar(3)", True),
        ("model", "varchar(64)", True),
        ("range_km", "integer", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "airports": [
        ("airport_code", "varchar(3)", True),
        ("airport_name", "varchar(64)", True),
        ("city", "varchar(64)", True),
        ("country", "varchar(64)", True),
        ("latitude", "doubleprecision", True),
        ("longitude", "doubleprecision", True),
        ("timezone", "varchar(64)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "seats": [
        ("aircraft_code", "varchar(3)", True),
        ("seat_no", "varchar(4)", True),
        ("fare_conditions", "varchar(10)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "flights": [
        ("flight_id", "bigint", True),
        ("flight_no", "varchar(6)", True),
        ("scheduled_departure", "timestamp", True),
        ("scheduled_arrival", "timestamp", True),
        ("departure_airport", "varchar(3)", True),
        ("arrival_airport", "varchar(3)", True),
        ("status", "varchar(10)", True),
        ("aircraft_code", "varchar(3)", True),
        ("actual_departure", "timestamp", False),
        ("actual_arrival", "timestamp", False),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "bookings": [
        ("book_ref", "varchar(6)", True),
        ("book_date", "timestamp", True),
        ("total_amount", "numeric(12,2)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "tickets": [
        ("ticket_no", "varchar(13)", True),
        ("book_ref", "varchar(6)", True),
        ("passenger_id", "varchar(20)", True),
        ("contact_data", "text", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "ticket_flights": [
        ("ticket_no", "varchar(13)", True),
        ("flight_id", "bigint", True),
        ("fare_conditions", "varchar(10)", True),
        ("amount", "numeric(10,2)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "boarding_passes": [
        ("ticket_no", "varchar(13)", True),
        ("flight_id", "bigint", True),
        ("boarding_no", "integer", True),
        ("seat_no", "varchar(4)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
}
PRIMARY_KEYS = {
    "aircrafts": ["aircraft_code"],
    "airports": ["airport_code"],
    "seats": ["aircraft_code", "seat_no"],
    "flights": ["flight_id"],
    "bookings": ["book_ref"],
    "tickets": ["ticket_no"],
    "ticket_flights": ["ticket_no", "flight_id"],
    "boarding_passes": ["ticket_no", "flight_id"],
}


# ------------------------------------------------------------------------------------------
# helpers


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def scalar(con, sql: str, params=()):
    return con.execute(sql, params).fetchone()[0]


def ts(value) -> str:
    """A timestamp as the 'YYYY-MM-DD HH:MM:SS' text SQLite stores (datetimes from Postgres)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else value


def normalise(value, declared: str):
    if isinstance(value, dt.datetime):
        return ts(value)
    if declared.startswith("numeric") or declared == "doubleprecision":
        # SQLite's NUMERIC affinity stores 75.00 as the integer 75
        return f"{Decimal(str(value)):.4f}"
    return value


def table_rows(con, table: str, schema: str | None = None) -> list[tuple]:
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    order = ", ".join(PRIMARY_KEYS[table])
    declared = [d for _, d, _ in EXPECTED_COLUMNS[table]]
    rows = con.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()
    return [tuple(normalise(v, d) for v, d in zip(row, declared, strict=True)) for row in rows]


def checksums(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return {t: hashlib.sha256(repr(table_rows(con, t)).encode()).hexdigest() for t in generator.TABLES}


def user_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def newest(con) -> str:
    return max(scalar(con, f"SELECT max(updated_at) FROM {t}") for t in generator.TABLES)


def check_invariants(path: Path, as_of: dt.datetime, generated_as_of: dt.datetime = AS_OF) -> None:
    """Every rule the data must obey, as SQL over the SQLite file; fails with the rule's name."""
    a = ts(as_of)
    start = ts(generated_as_of.replace(hour=0, minute=0, second=0) - dt.timedelta(days=30))
    horizon = ts(as_of + dt.timedelta(days=14))
    zero_checks = {
        "updated_at < created_at": [
            f"SELECT count(*) FROM {t} WHERE updated_at < created_at" for t in generator.TABLES
        ],
        "timestamp after as_of": [
            f"SELECT count(*) FROM {t} WHERE created_at > '{a}' OR updated_at > '{a}'"
            for t in generator.TABLES
        ]
        + [
            f"SELECT count(*) FROM flights WHERE actual_departure > '{a}' OR actual_arrival > '{a}'",
            f"SELECT count(*) FROM bookings WHERE book_date > '{a}'",
        ],
        "timestamp not 'YYYY-MM-DD HH:MM:SS'": [
            f"SELECT count(*) FROM {t} WHERE typeof({c}) <> 'text' OR length({c}) <> 19"
            for t in generator.TABLES
            for c in ("created_at", "updated_at")
        ],
        "flight outside the window": [
            f"SELECT count(*) FROM flights WHERE scheduled_departure < '{start}' "
            f"OR scheduled_departure > '{horizon}'"
        ],
        "flight not published 14 days ahead": [
            "SELECT count(*) FROM flights WHERE created_at <> datetime(scheduled_departure, '-14 days')"
        ],
        "scheduled arrival not after departure": [
            "SELECT count(*) FROM flights WHERE scheduled_arrival <= scheduled_departure"
        ],
        "bad route": [
            "SELECT count(*) FROM flights WHERE departure_airport = arrival_airport",
            "SELECT count(*) FROM (SELECT flight_no FROM flights GROUP BY 1 HAVING "
            "count(DISTINCT departure_airport || arrival_airport || aircraft_code) > 1)",
            "SELECT count(*) FROM (SELECT 1 FROM flights GROUP BY flight_no, date(scheduled_departure) "
            "HAVING count(*) > 1)",
            "SELECT count(*) FROM flights WHERE departure_airport NOT IN (SELECT airport_code FROM airports) "
            "OR arrival_airport NOT IN (SELECT airport_code FROM airports) "
            "OR aircraft_code NOT IN (SELECT aircraft_code FROM aircrafts)",
        ],
        "bad enum": [
            f"SELECT count(*) FROM flights WHERE status NOT IN ({', '.join(repr(s) for s in STATUSES)})",
            "SELECT count(*) FROM seats WHERE fare_conditions NOT IN ('Business', 'Comfort', 'Economy')",
            "SELECT count(*) FROM ticket_flights "
            "WHERE fare_conditions NOT IN ('Business', 'Comfort', 'Economy')",
        ],
        "actual times do not match the status": [
            "SELECT count(*) FROM flights WHERE (actual_departure IS NOT NULL) "
            "<> (status IN ('departed', 'arrived')) OR (actual_arrival IS NOT NULL) <> (status = 'arrived')"
        ],
        "status does not match the clock": [
            # not yet in the 24 hours before departure, yet past 'scheduled'; or the reverse
            f"SELECT count(*) FROM flights WHERE status IN ('on_time', 'delayed') "
            f"AND datetime(scheduled_departure, '-1 day') > '{a}'",
            f"SELECT count(*) FROM flights WHERE status = 'scheduled' "
            f"AND datetime(scheduled_departure, '-1 day') <= '{a}'",
            "SELECT count(*) FROM flights WHERE status = 'delayed' "
            "AND datetime(scheduled_departure, '-2 hours') <> updated_at",
            "SELECT count(*) FROM flights WHERE status = 'scheduled' AND updated_at <> created_at",
            "SELECT count(*) FROM flights WHERE status = 'on_time' "
            "AND updated_at <> datetime(scheduled_departure, '-1 day')",
            "SELECT count(*) FROM flights WHERE status = 'departed' AND updated_at <> actual_departure",
            "SELECT count(*) FROM flights WHERE status = 'arrived' AND updated_at <> actual_arrival",
            # a flight without an announced delay leaves within 15 minutes of its schedule
            f"SELECT count(*) FROM flights WHERE status IN ('scheduled', 'on_time') "
            f"AND datetime(scheduled_departure, '+15 minutes') <= '{a}'",
        ],
        "arrival not after departure": [
            "SELECT count(*) FROM flights WHERE actual_arrival <= actual_departure"
        ],
        "departure far too early or late": [
            "SELECT count(*) FROM flights "
            "WHERE actual_departure < datetime(scheduled_departure, '-10 minutes') "
            "OR actual_departure > datetime(scheduled_departure, '+8 hours')"
        ],
        "aircraft without seat map": [
            "SELECT count(*) FROM aircrafts WHERE aircraft_code NOT IN (SELECT aircraft_code FROM seats)"
        ],
        "oversold": [
            "SELECT count(*) FROM (SELECT tf.flight_id, tf.fare_conditions, count(*) AS sold, "
            "(SELECT count(*) FROM seats s JOIN flights f2 ON f2.aircraft_code = s.aircraft_code "
            " WHERE f2.flight_id = tf.flight_id AND s.fare_conditions = tf.fare_conditions) AS seats "
            "FROM ticket_flights tf GROUP BY 1, 2) WHERE sold > seats"
        ],
        "coupon sold outside the booking window": [
            "SELECT count(*) FROM ticket_flights tf JOIN flights f USING (flight_id) "
            "WHERE tf.created_at >= datetime(f.scheduled_departure, '-1 hour') "
            "OR tf.created_at < f.created_at",
            "SELECT count(*) FROM ticket_flights tf JOIN flights f USING (flight_id) "
            "WHERE f.status = 'cancelled' AND tf.created_at >= f.updated_at",
        ],
        "dangling reference": [
            "SELECT count(*) FROM ticket_flights WHERE ticket_no NOT IN (SELECT ticket_no FROM tickets) "
            "OR flight_id NOT IN (SELECT flight_id FROM flights)",
            "SELECT count(*) FROM tickets WHERE book_ref NOT IN (SELECT book_ref FROM bookings)",
            "SELECT count(*) FROM seats WHERE aircraft_code NOT IN (SELECT aircraft_code FROM aircrafts)",
            "SELECT count(*) FROM boarding_passes bp WHERE NOT EXISTS (SELECT 1 FROM ticket_flights tf "
            "WHERE tf.ticket_no = bp.ticket_no AND tf.flight_id = bp.flight_id)",
        ],
        "booking without tickets or ticket without flights": [
            "SELECT count(*) FROM bookings WHERE book_ref NOT IN (SELECT book_ref FROM tickets)",
            "SELECT count(*) FROM tickets WHERE ticket_no NOT IN (SELECT ticket_no FROM ticket_flights)",
        ],
        "child created apart from its booking": [
            "SELECT count(*) FROM tickets t JOIN bookings b USING (book_ref) "
            "WHERE t.created_at <> b.created_at OR b.created_at <> b.book_date",
            "SELECT count(*) FROM ticket_flights tf JOIN tickets t USING (ticket_no) "
            "WHERE tf.created_at <> t.created_at",
        ],
        "tickets of one booking on different flights": [
            "SELECT count(*) FROM (SELECT t.book_ref FROM ticket_flights tf "
            "JOIN tickets t USING (ticket_no) GROUP BY t.book_ref "
            "HAVING count(*) <> count(DISTINCT tf.ticket_no) * count(DISTINCT tf.flight_id))"
        ],
        "booking total differs from its coupons": [
            "SELECT count(*) FROM bookings b LEFT JOIN (SELECT t.book_ref, sum(tf.amount) AS s "
            "FROM ticket_flights tf JOIN tickets t USING (ticket_no) GROUP BY 1) x USING (book_ref) "
            "WHERE x.s IS NULL OR abs(b.total_amount - x.s) > 0.001"
        ],
        "amount not a positive whole number": [
            "SELECT count(*) FROM ticket_flights WHERE amount <= 0 OR amount <> round(amount)"
        ],
        "itinerary out of sequence or not a return": [
            "SELECT count(*) FROM (SELECT tf.ticket_no, f.scheduled_departure, f.departure_airport, "
            "lag(f.scheduled_arrival) OVER w AS prev_arr, lag(f.arrival_airport) OVER w AS prev_to, "
            "lag(f.departure_airport) OVER w AS prev_from, f.arrival_airport "
            "FROM ticket_flights tf JOIN flights f USING (flight_id) "
            "WINDOW w AS (PARTITION BY tf.ticket_no ORDER BY f.scheduled_departure)) "
            "WHERE prev_arr IS NOT NULL AND (scheduled_departure <= prev_arr "
            "OR departure_airport <> prev_to OR arrival_airport <> prev_from)",
            "SELECT count(*) FROM (SELECT ticket_no FROM ticket_flights GROUP BY 1 HAVING count(*) > 2)",
        ],
        "boarding pass on a flight that has not departed": [
            "SELECT count(*) FROM boarding_passes bp JOIN flights f USING (flight_id) "
            "WHERE f.status NOT IN ('departed', 'arrived')",
            "SELECT count(*) FROM boarding_passes bp JOIN flights f USING (flight_id) "
            "WHERE bp.created_at <> f.actual_departure OR bp.updated_at <> bp.created_at",
        ],
        "seat not in the aircraft's cabin paid for": [
            "SELECT count(*) FROM boarding_passes bp JOIN flights f USING (flight_id) "
            "JOIN ticket_flights tf ON tf.ticket_no = bp.ticket_no AND tf.flight_id = bp.flight_id "
            "LEFT JOIN seats s ON s.aircraft_code = f.aircraft_code AND s.seat_no = bp.seat_no "
            "WHERE s.seat_no IS NULL OR s.fare_conditions <> tf.fare_conditions"
        ],
        "seat or boarding number taken twice": [
            "SELECT count(*) FROM (SELECT 1 FROM boarding_passes GROUP BY flight_id, seat_no "
            "HAVING count(*) > 1)",
            "SELECT count(*) FROM (SELECT flight_id FROM boarding_passes GROUP BY flight_id "
            "HAVING min(boarding_no) <> 1 OR max(boarding_no) <> count(*) "
            "OR count(DISTINCT boarding_no) <> count(*))",
        ],
        "departed flight without boarding passes": [
            "SELECT count(*) FROM flights f WHERE f.status IN ('departed', 'arrived') "
            "AND EXISTS (SELECT 1 FROM ticket_flights tf WHERE tf.flight_id = f.flight_id) "
            "AND NOT EXISTS (SELECT 1 FROM boarding_passes bp WHERE bp.flight_id = f.flight_id)"
        ],
        "contact data not a JSON object with a name": [
            "SELECT count(*) FROM tickets WHERE NOT json_valid(contact_data) "
            "OR json_type(contact_data) <> 'object' OR json_extract(contact_data, '$.name') IS NULL"
        ],
        "malformed phone or e-mail": [
            "SELECT count(*) FROM tickets WHERE json_extract(contact_data, '$.email') NOT GLOB '?*@?*.?*' "
            "OR json_extract(contact_data, '$.phone') NOT GLOB '+[0-9]* [0-9]*[0-9]'"
        ],
    }
    with sqlite3.connect(path) as con:
        failures = {
            rule: n
            for rule, queries in zero_checks.items()
            for n in [sum(scalar(con, q) for q in queries)]
            if n
        }
        boarded, sold = con.execute(
            "SELECT (SELECT count(*) FROM boarding_passes), (SELECT count(*) FROM ticket_flights tf "
            "JOIN flights f USING (flight_id) WHERE f.status IN ('departed', 'arrived'))"
        ).fetchone()
    assert failures == {}
    # no-shows: a few percent of the coupons of departed flights
    assert 0.9 * sold <= boarded <= sold


# ------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """One scale-0.3 source (three route pairs) shared by the read-only tests."""
    path = tmp_path_factory.mktemp("flights") / "nested" / "dir" / "flights.sqlite"
    counts = generator.generate(sqlite_url(path), scale=0.3, seed=7, as_of=AS_OF)
    return path, counts


def copy_of(source: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(source, target)
    return target


# ------------------------------------------------------------------------------------------
# generate


def test_tables_have_exactly_the_declared_schema_and_cursor_indexes(generated):
    path, _ = generated
    assert generator.TABLES == tuple(EXPECTED_COLUMNS)
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(generator.TABLES)
        for table, expected in EXPECTED_COLUMNS.items():
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            got = [
                (name, decl.replace(" ", "").lower(), bool(notnull)) for _, name, decl, notnull, _, _ in info
            ]
            assert got == expected, table
            assert [name for _, name, _, _, _, pk in sorted(info, key=lambda r: r[5]) if pk] == PRIMARY_KEYS[
                table
            ]
            index_names = [row[1] for row in con.execute(f"PRAGMA index_list({table})")]
            indexed = {
                tuple(col[2] for col in con.execute(f"PRAGMA index_info('{name}')")) for name in index_names
            }
            assert ("updated_at",) in indexed, f"no index on {table}.updated_at"


def test_spec_names_the_generator_tables_in_dependency_order():
    from headwater import discovery
    from headwater.spec import load_spec

    spec = load_spec("flights")
    assert [t.name for t in spec.tables] == list(generator.TABLES)
    assert {t.name: list(t.primary_key) for t in spec.tables} == PRIMARY_KEYS
    assert {t.cursor for t in spec.tables} == {"updated_at"}
    assert discovery.generator(spec) is generator  # the folder's generator.py
    deps = {t.name: set(t.depends_on) for t in spec.tables}
    assert deps["boarding_passes"] == {"ticket_flights"}
    assert deps["ticket_flights"] == {"tickets", "flights"}
    assert deps["tickets"] == {"bookings"} and deps["seats"] == {"aircrafts"}
    assert deps["flights"] == {"airports", "aircrafts"}


def test_counts_match_the_returned_counts_and_follow_the_scale(generated, tmp_path):
    path, counts = generated
    with sqlite3.connect(path) as con:
        actual = {t: scalar(con, f"SELECT count(*) FROM {t}") for t in generator.TABLES}
        pairs = scalar(
            con,
            "SELECT count(DISTINCT min(departure_airport, arrival_airport) || max(departure_airport, "
            "arrival_airport)) FROM flights",
        )
    assert actual == counts
    assert pairs == 3  # scale 0.3: three route pairs
    assert counts["aircrafts"] == 8 and counts["airports"] == 17
    # 30 days of history plus 14 published days of FRA-LHR (daily), -CDG and -BER (5 a week)
    assert 190 <= counts["flights"] <= 230
    assert 1.6 < counts["tickets"] / counts["bookings"] < 2.0
    assert 1.2 < counts["ticket_flights"] / counts["tickets"] < 1.6
    small = generator.generate(sqlite_url(tmp_path / "small.sqlite"), scale=0.1, seed=7, as_of=AS_OF)
    assert small["flights"] < counts["flights"] / 2 and small["bookings"] < 0.7 * counts["bookings"]


def test_invariants_hold_after_generate(generated):
    check_invariants(generated[0], AS_OF)


def test_values_are_realistic(generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        status = dict(con.execute("SELECT status, count(*) FROM flights GROUP BY 1").fetchall())
        assert status["arrived"] > 120 and status["scheduled"] > 50
        # delays vary by route: the busiest, most delay-prone route is clearly worse
        per_route = dict(
            con.execute(
                "SELECT departure_airport || arrival_airport, avg((julianday(actual_departure) "
                "- julianday(scheduled_departure)) * 1440) FROM flights WHERE actual_departure IS NOT NULL "
                "GROUP BY 1"
            ).fetchall()
        )
        assert len(per_route) == 6 and max(per_route.values()) - min(per_route.values()) > 5
        late = scalar(
            con,
            "SELECT avg(julianday(actual_departure) - julianday(scheduled_departure) >= 15 / 1440.0 - 1e-9) "
            "FROM flights WHERE actual_departure IS NOT NULL",
        )
        assert 0.08 < late < 0.45
        # departed flights are well but not over-filled; future ones are still filling up
        loads = dict(
            con.execute(
                "SELECT f.status IN ('departed', 'arrived'), avg(1.0 * sold / seats) FROM flights f "
                "JOIN (SELECT aircraft_code, count(*) AS seats FROM seats GROUP BY 1) s "
                "USING (aircraft_code) "
                "JOIN (SELECT flight_id, count(*) AS sold FROM ticket_flights GROUP BY 1) t "
                "USING (flight_id) "
                "WHERE f.status <> 'cancelled' GROUP BY 1"
            ).fetchall()
        )
        assert 0.6 < loads[1] < 0.95 and loads[0] < loads[1] - 0.2
        fares = dict(
            con.execute("SELECT fare_conditions, avg(amount) FROM ticket_flights GROUP BY 1").fetchall()
        )
        assert fares["Business"] > fares["Comfort"] > fares["Economy"] > 50
        classes = Counter(
            dict(con.execute("SELECT fare_conditions, count(*) FROM ticket_flights GROUP BY 1"))
        )
        assert 0.03 < classes["Business"] / sum(classes.values()) < 0.12
        # returns: about half the tickets fly out and back
        legs = Counter(
            n for (n,) in con.execute("SELECT count(*) FROM ticket_flights GROUP BY ticket_no").fetchall()
        )
        assert 0.2 < legs[2] / (legs[1] + legs[2]) < 0.6
        # repeat travellers share a document number (and a name)
        repeat = con.execute(
            "SELECT count(*), count(DISTINCT json_extract(contact_data, '$.name')) FROM tickets "
            "WHERE passenger_id IN (SELECT passenger_id FROM tickets GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()
        assert repeat[0] > 100
        contacts = [json.loads(c) for (c,) in con.execute("SELECT contact_data FROM tickets")]
        assert 0.85 < sum("email" in c for c in contacts) / len(contacts) < 0.97
        assert 0.9 < sum("phone" in c for c in contacts) / len(contacts) < 0.995
        changed = scalar(con, "SELECT avg(updated_at > created_at) FROM tickets")
        assert 0.01 < changed < 0.08
        # seat maps: every class of an A320 and only its own letters
        cabins = dict(
            con.execute(
                "SELECT fare_conditions, count(*) FROM seats WHERE aircraft_code = '320' GROUP BY 1"
            ).fetchall()
        )
        assert cabins == {"Business": 16, "Comfort": 18, "Economy": 144}
        assert scalar(con, "SELECT count(*) FROM seats WHERE seat_no LIKE '13_'") == 0


def test_same_seed_and_as_of_give_identical_data_other_seed_differs(tmp_path):
    a, b, c = (tmp_path / f"{n}.sqlite" for n in "abc")
    counts_a = generator.generate(sqlite_url(a), scale=0.1, seed=3, as_of=AS_OF)
    counts_b = generator.generate(sqlite_url(b), scale=0.1, seed=3, as_of=AS_OF)
    generator.generate(sqlite_url(c), scale=0.1, seed=4, as_of=AS_OF)
    assert counts_a == counts_b
    sums_a = checksums(a)
    assert sums_a == checksums(b)
    differing = {t for t, h in checksums(c).items() if h != sums_a[t]}
    # the fleet, airports and timetable are the airline's; everything that happens differs
    assert differing == {"flights", "bookings", "tickets", "ticket_flights", "boarding_passes"}


def test_regenerate_replaces_the_tables_and_aware_as_of_means_utc(tmp_path):
    path = tmp_path / "s.sqlite"
    generator.generate(sqlite_url(path), scale=0.2, seed=1, as_of=AS_OF)
    aware = AS_OF.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(hours=2)
    generator.generate(sqlite_url(path), scale=0.1, seed=1, as_of=aware)
    reference = tmp_path / "r.sqlite"
    generator.generate(sqlite_url(reference), scale=0.1, seed=1, as_of=AS_OF)
    assert checksums(path) == checksums(reference)


def test_default_as_of_is_now_in_utc(tmp_path):
    path = tmp_path / "now.sqlite"
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    generator.generate(sqlite_url(path), scale=0.1)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with sqlite3.connect(path) as con:
        latest = dt.datetime.fromisoformat(newest(con))
        first = dt.datetime.fromisoformat(scalar(con, "SELECT min(scheduled_departure) FROM flights"))
    assert before - dt.timedelta(hours=6) <= latest <= after
    assert first >= before.replace(hour=0, minute=0, second=0) - dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"scale": 0}, "scale"), ({"scale": -1}, "scale"), ({"scale": 1e6}, "scale"), ({"seed": 1.5}, "seed")],
)
def test_generate_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator.generate(sqlite_url(tmp_path / "x.sqlite"), as_of=AS_OF, **kwargs)


def test_generate_rejects_unsupported_urls(tmp_path):
    with pytest.raises(ValueError, match="SQLite or Postgres"):
        generator.generate(f"duckdb:///{tmp_path}/x.duckdb", as_of=AS_OF)


# ------------------------------------------------------------------------------------------
# advance


def test_advance_moves_flights_adds_bookings_and_boarding_passes(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "adv.sqlite")
    with sqlite3.connect(path) as con:
        before = {t: table_rows(con, t) for t in generator.TABLES}
        newest_before = newest(con)
        max_flight = scalar(con, "SELECT max(flight_id) FROM flights")
        max_ticket = scalar(con, "SELECT max(ticket_no) FROM tickets")
    as_of = AS_OF + dt.timedelta(hours=30)
    result = generator.advance(sqlite_url(path), seed=7, as_of=as_of, update_fraction=0.02)
    check_invariants(path, as_of)

    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(generator.TABLES)  # staging tables are gone
        after = {t: table_rows(con, t) for t in generator.TABLES}
    for t in ("aircrafts", "airports", "seats"):
        assert after[t] == before[t]

    # every new or changed row is stamped after the old newest timestamp, at most as_of
    for t in generator.TABLES:
        fresh = set(after[t]) - set(before[t])
        assert all(newest_before < r[-1] <= ts(as_of) for r in fresh), t

    # flights: new ones continue the ids; old ones only move forward through their statuses
    old_flights = {r[0]: r for r in before["flights"]}
    new_flights = [r for r in after["flights"] if r[0] not in old_flights]
    assert len(new_flights) == result["new_flights"] > 0
    assert sorted(r[0] for r in new_flights) == list(range(max_flight + 1, max_flight + 1 + len(new_flights)))
    changed = [
        (old_flights[r[0]], r) for r in after["flights"] if r[0] in old_flights and r != old_flights[r[0]]
    ]
    assert len(changed) == result["updated_flights"] > 0
    transitions = Counter((old[6], new[6]) for old, new in changed)
    assert all(RANK[b] > RANK[a] for a, b in transitions)
    assert transitions[("scheduled", "on_time")] > 0 and result["arrived_flights"] > 0
    for old, new in changed:
        assert old[:6] == new[:6] and old[7] == new[7] and old[10] == new[10]  # schedule, aircraft
        assert new[11] > old[11]
        if old[8] is not None:
            assert new[8] == old[8]  # an actual departure never moves

    # boarding passes: the old ones untouched, new ones exactly for the flights that departed now
    assert set(before["boarding_passes"]) <= set(after["boarding_passes"])
    flown = ("departed", "arrived")
    now_departed = {
        r[0]
        for r in after["flights"]
        if r[6] in flown and (r[0] not in old_flights or old_flights[r[0]][6] not in flown)
    }
    assert now_departed and result["departed_flights"] + result["arrived_flights"] >= len(now_departed) - len(
        [r for r in new_flights if r[6] in flown]
    )
    new_passes = set(after["boarding_passes"]) - set(before["boarding_passes"])
    assert {r[1] for r in new_passes} == now_departed and len(new_passes) == result["new_boarding_passes"]

    # bookings, tickets and coupons: new ones only, after the old ones
    for t, key in (("bookings", "book_ref"), ("tickets", "ticket_no")):
        old_keys = {r[0] for r in before[t]}
        assert len([r for r in after[t] if r[0] not in old_keys]) == result[f"new_{t}"] > 0, key
    old_ticket_nos = {r[0] for r in before["tickets"]}
    assert all(r[0] > max_ticket for r in after["tickets"] if r[0] not in old_ticket_nos)
    assert set(before["ticket_flights"]) <= set(after["ticket_flights"])
    assert len(after["ticket_flights"]) - len(before["ticket_flights"]) == result["new_ticket_flights"]

    # contact changes: only contact_data and updated_at of existing tickets
    old_tickets = {r[0]: r for r in before["tickets"]}
    updated = [
        (old_tickets[r[0]], r) for r in after["tickets"] if r[0] in old_tickets and r != old_tickets[r[0]]
    ]
    assert len(updated) == result["updated_tickets"] == round(0.02 * len(before["tickets"]))
    for old, new in updated:
        assert old[:3] == new[:3] and old[4] == new[4] and new[3] != old[3]
        o, n = json.loads(old[3]), json.loads(new[3])
        assert o["name"] == n["name"] and (
            o.get("email") != n.get("email") or o.get("phone") != n.get("phone")
        )


def test_advance_follows_the_same_world_as_a_later_generate(tmp_path):
    """Flights reached by advance look exactly as if generated at the later moment."""
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    later = AS_OF + dt.timedelta(days=2, hours=5)
    generator.generate(sqlite_url(a), scale=0.2, seed=9, as_of=AS_OF)
    generator.advance(sqlite_url(a), seed=9, as_of=AS_OF + dt.timedelta(hours=20))
    generator.advance(sqlite_url(a), seed=9, as_of=later)
    generator.generate(sqlite_url(b), scale=0.2, seed=9, as_of=later)
    query = (
        "SELECT flight_no, scheduled_departure, status, actual_departure, actual_arrival, created_at, "
        "updated_at FROM flights WHERE scheduled_departure >= ? ORDER BY 1, 2"
    )
    since = ts(later.replace(hour=0, minute=0, second=0) - dt.timedelta(days=30))
    with sqlite3.connect(a) as ca, sqlite3.connect(b) as cb:
        advanced, regenerated = ca.execute(query, (since,)).fetchall(), cb.execute(query, (since,)).fetchall()
    assert len(advanced) > 100 and advanced == regenerated
    check_invariants(a, later)


def test_advance_is_deterministic_and_can_be_repeated(generated, tmp_path):
    a = copy_of(generated[0], tmp_path, "a.sqlite")
    b = copy_of(generated[0], tmp_path, "b.sqlite")
    first = AS_OF + dt.timedelta(hours=6)
    second = AS_OF + dt.timedelta(days=3)
    for path in (a, b):
        generator.advance(sqlite_url(path), seed=7, as_of=first, new_fraction=0.5, update_fraction=0.05)
    assert checksums(a) == checksums(b)
    result = generator.advance(sqlite_url(a), seed=7, as_of=second)
    assert result["new_bookings"] > 0 and result["new_flights"] > 0 and result["new_boarding_passes"] > 0
    check_invariants(a, second)
    c = copy_of(generated[0], tmp_path, "c.sqlite")
    generator.advance(sqlite_url(c), seed=7, as_of=first, new_fraction=0.5, update_fraction=0.0)
    sums_b, sums_c = checksums(b), checksums(c)
    assert sums_c["tickets"] != sums_b["tickets"] and sums_c["bookings"] == sums_b["bookings"]


def test_advance_with_no_new_demand_still_moves_the_flights(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "quiet.sqlite")
    result = generator.advance(
        sqlite_url(path), seed=7, as_of=AS_OF + dt.timedelta(hours=12), new_fraction=0, update_fraction=0
    )
    assert result["new_bookings"] == result["updated_tickets"] == 0
    assert result["updated_flights"] > 0 and result["new_boarding_passes"] > 0
    check_invariants(path, AS_OF + dt.timedelta(hours=12))


def test_advance_rejects_an_as_of_that_is_not_after_the_data(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "past.sqlite")
    before = checksums(path)
    with sqlite3.connect(path) as con:
        latest = dt.datetime.fromisoformat(newest(con))
    for as_of in (AS_OF - dt.timedelta(days=1), latest):
        with pytest.raises(ValueError, match="not after the newest timestamp"):
            generator.advance(sqlite_url(path), as_of=as_of)
    assert checksums(path) == before
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(generator.TABLES)


def test_advance_rejects_bad_fractions_and_a_missing_source(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "f.sqlite")
    later = AS_OF + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="new_fraction"):
        generator.advance(sqlite_url(path), as_of=later, new_fraction=-0.1)
    with pytest.raises(ValueError, match="update_fraction"):
        generator.advance(sqlite_url(path), as_of=later, update_fraction=1.5)
    with pytest.raises(Exception, match="generate"):
        generator.advance(sqlite_url(tmp_path / "empty.sqlite"), as_of=later)


@pytest.mark.parametrize(
    ("corruption", "rule"),
    [
        ("UPDATE flights SET actual_arrival = actual_departure WHERE status = 'arrived' AND flight_id = "
         "(SELECT min(flight_id) FROM flights WHERE status = 'arrived')", "arrival not after departure"),
        ("UPDATE flights SET status = 'arrived' WHERE flight_id = (SELECT min(flight_id) FROM flights "
         "WHERE status = 'scheduled')", "actual times do not match"),
        ("UPDATE boarding_passes SET seat_no = '1A' WHERE rowid = 1", "seat"),
        ("DELETE FROM tickets WHERE rowid = 1", "dangling reference"),
        ("UPDATE bookings SET total_amount = total_amount + 1 WHERE rowid = 3", "booking total"),
        ("UPDATE tickets SET contact_data = '{\"phone\": \"+49 1\"}' WHERE rowid = 2", "contact data"),
    ],
)  # fmt: skip
def test_the_invariant_check_catches_broken_data(generated, tmp_path, corruption, rule):
    """Guards the guard: each rule above fails on data broken in exactly its way."""
    path = copy_of(generated[0], tmp_path, "broken.sqlite")
    with sqlite3.connect(path) as con:
        assert con.execute(corruption).rowcount >= 1
    with pytest.raises(AssertionError, match=rule):
        check_invariants(path, AS_OF)


# ------------------------------------------------------------------------------------------
# Postgres


@pytest.fixture
def pg_schema():
    psycopg = pytest.importorskip("psycopg")
    try:
        con = psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL} ({exc.__class__.__name__}); CI is not set")
    schema = f"hw_test_flights_{uuid.uuid4().hex[:10]}"
    try:
        yield con, schema
    finally:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.close()


@pytest.mark.postgres
def test_postgres_source_matches_sqlite_and_advances(pg_schema, tmp_path):
    con, schema = pg_schema
    counts = generator.generate(PG_URL, scale=0.1, seed=5, as_of=AS_OF, schema=schema)
    reference = tmp_path / "ref.sqlite"
    assert generator.generate(sqlite_url(reference), scale=0.1, seed=5, as_of=AS_OF) == counts

    type_names = {
        "bigint": "bigint",
        "integer": "integer",
        "timestamp without time zone": "timestamp",
        "character varying": "varchar",
        "numeric": "numeric",
        "text": "text",
        "double precision": "doubleprecision",
    }
    for table, expected in EXPECTED_COLUMNS.items():
        rows = con.execute(
            "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
            "is_nullable FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "ORDER BY ordinal_position",
            (schema, table),
        ).fetchall()
        got = []
        for name, dtype, length, precision, scale, nullable in rows:
            declared = type_names[dtype]
            if declared == "varchar":
                declared += f"({length})"
            elif declared == "numeric":
                declared += f"({precision},{scale})"
            got.append((name, declared, nullable == "NO"))
        assert got == expected, table
        indexed = con.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (schema, table)
        ).fetchall()
        assert any("(updated_at)" in d for (d,) in indexed), table

    with sqlite3.connect(reference) as lite:
        for table in generator.TABLES:
            assert table_rows(con, table, schema) == table_rows(lite, table), table

    as_of = AS_OF + dt.timedelta(hours=20)
    result = generator.advance(PG_URL, seed=5, as_of=as_of, schema=schema)
    lite_result = generator.advance(sqlite_url(reference), seed=5, as_of=as_of)
    assert result == lite_result and result["updated_flights"] > 0 and result["new_bookings"] > 0
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
    }
    assert tables == set(generator.TABLES)
    with sqlite3.connect(reference) as lite:
        for table in generator.TABLES:
            assert table_rows(con, table, schema) == table_rows(lite, table), table
    latest = max(con.execute(f'SELECT max(updated_at) FROM "{schema}"."{t}"').fetchone()[0] for t in tables)
    with pytest.raises(ValueError, match="not after the newest timestamp"):
        generator.advance(PG_URL, seed=5, as_of=latest, schema=schema)

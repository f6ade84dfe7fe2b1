"""The travel_bookings synthetic source: schema, invariants, determinism, advance.

Every check reads the generated database independently (sqlite3 / psycopg), never through the
generator's own helpers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.pipelines.travel_bookings import generator

AS_OF = dt.datetime(2025, 6, 1, 12, 0, 0)
CURRENCIES = {"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK"}
PG_URL = os.environ.get("HEADWATER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

EXPECTED_COLUMNS = {
    "booking": [
        ("booking_id", "bigint", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
        ("user_selected_currency", "varchar(3)", True),
        ("partner_id_offer", "varchar(16)", False),
        ("status", "varchar(16)", True),
    ],
    "ticket": [
        ("ticket_id", "bigint", True),
        ("booking_id", "bigint", True),
        ("booking_price", "numeric(12,2)", True),
        ("booking_currency", "varchar(3)", True),
        ("vendor_code", "varchar(16)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "segment": [
        ("segment_id", "bigint", True),
        ("booking_id", "bigint", True),
        ("carrier_name", "varchar(64)", True),
        ("departure_at", "timestamp", True),
        ("arrival_at", "timestamp", True),
        ("travel_mode", "varchar(8)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "passenger": [
        ("passenger_id", "bigint", True),
        ("booking_id", "bigint", True),
        ("type", "varchar(8)", True),
        ("created_at", "timestamp", True),
        ("updated_at", "timestamp", True),
    ],
    "ticket_passenger": [
        ("ticket_id", "bigint", True),
        ("passenger_id", "bigint", True),
        ("created_at", "timestamp", True),
    ],
    "ticket_segment": [
        ("ticket_id", "bigint", True),
        ("segment_id", "bigint", True),
        ("created_at", "timestamp", True),
    ],
}
PRIMARY_KEYS = {
    "booking": ["booking_id"],
    "ticket": ["ticket_id"],
    "segment": ["segment_id"],
    "passenger": ["passenger_id"],
    "ticket_passenger": ["ticket_id", "passenger_id"],
    "ticket_segment": ["ticket_id", "segment_id"],
}
CURSORS = {
    "booking": "updated_at",
    "ticket": "updated_at",
    "segment": "updated_at",
    "passenger": "updated_at",
    "ticket_passenger": "created_at",
    "ticket_segment": "created_at",
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
    if declared.startswith("numeric"):
        # SQLite's NUMERIC affinity stores 75.00 as the integer 75 and 75.5 as a REAL
        return f"{Decimal(str(value)):.2f}"
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


def check_invariants(path: Path, as_of: dt.datetime, generated_as_of: dt.datetime = AS_OF) -> None:
    """Every rule the data must obey, as SQL over the SQLite file; fails with the rule's name."""
    as_of_s = ts(as_of)
    start_s = ts(generated_as_of - dt.timedelta(days=90))
    zero_checks = {
        "updated_at < created_at": [
            f"SELECT count(*) FROM {t} WHERE updated_at < created_at"
            for t in ("booking", "ticket", "segment", "passenger")
        ],
        "timestamp after as_of": [
            f"SELECT count(*) FROM {t} WHERE {c} > '{as_of_s}'"
            for t in generator.TABLES
            for c in ("created_at", "updated_at")
            if c == "created_at" or CURSORS[t] == "updated_at"
        ],
        "booking before the 90-day window": [f"SELECT count(*) FROM booking WHERE created_at < '{start_s}'"],
        "arrival not after departure": ["SELECT count(*) FROM segment WHERE arrival_at <= departure_at"],
        "departure not after booking": [
            "SELECT count(*) FROM segment s JOIN booking b USING (booking_id) "
            "WHERE s.departure_at <= b.created_at"
        ],
        "segments out of sequence": [
            "SELECT count(*) FROM (SELECT departure_at, lag(arrival_at) OVER "
            "(PARTITION BY booking_id ORDER BY segment_id) AS prev_arrival FROM segment) "
            "WHERE departure_at <= prev_arrival"
        ],
        "booking without ticket/passenger/segment": [
            f"SELECT count(*) FROM booking WHERE booking_id NOT IN (SELECT booking_id FROM {t})"
            for t in ("ticket", "passenger", "segment")
        ],
        "child of a missing booking": [
            f"SELECT count(*) FROM {t} c WHERE NOT EXISTS "
            f"(SELECT 1 FROM booking b WHERE b.booking_id = c.booking_id)"
            for t in ("ticket", "passenger", "segment")
        ],
        "child created_at != booking created_at": [
            f"SELECT count(*) FROM {t} c JOIN booking b USING (booking_id) WHERE c.created_at <> b.created_at"
            for t in ("ticket", "passenger", "segment")
        ],
        "ticket_passenger across bookings or dangling": [
            "SELECT count(*) FROM ticket_passenger tp "
            "LEFT JOIN ticket t USING (ticket_id) LEFT JOIN passenger p USING (passenger_id) "
            "WHERE t.booking_id IS NULL OR p.booking_id IS NULL OR t.booking_id <> p.booking_id "
            "OR tp.created_at <> t.created_at",
        ],
        "ticket_segment across bookings or dangling": [
            "SELECT count(*) FROM ticket_segment ts "
            "LEFT JOIN ticket t USING (ticket_id) LEFT JOIN segment s USING (segment_id) "
            "WHERE t.booking_id IS NULL OR s.booking_id IS NULL OR t.booking_id <> s.booking_id "
            "OR ts.created_at <> t.created_at",
        ],
        "ticket without exactly one passenger": [
            "SELECT count(*) FROM ticket LEFT JOIN (SELECT ticket_id, count(*) AS n "
            "FROM ticket_passenger GROUP BY 1) AS x USING (ticket_id) WHERE coalesce(x.n, 0) <> 1",
            "SELECT count(*) FROM passenger LEFT JOIN (SELECT passenger_id, count(*) AS n "
            "FROM ticket_passenger GROUP BY 1) AS x USING (passenger_id) WHERE coalesce(x.n, 0) <> 1",
        ],
        "ticket not covering every segment of its booking": [
            # links are unique (primary key) and within one booking (checked above), so equal
            # counts mean every (ticket, segment of its booking) pair is present
            "SELECT abs((SELECT count(*) FROM ticket t JOIN segment s USING (booking_id)) "
            "- (SELECT count(*) FROM ticket_segment))",
        ],
        "bad currency": [
            "SELECT count(*) FROM booking WHERE user_selected_currency NOT IN "
            f"({', '.join(repr(c) for c in sorted(CURRENCIES))})",
            "SELECT count(*) FROM ticket WHERE booking_currency NOT IN "
            f"({', '.join(repr(c) for c in sorted(CURRENCIES))})",
        ],
        "bad enum": [
            "SELECT count(*) FROM booking WHERE status NOT IN ('pending', 'confirmed', 'cancelled')",
            "SELECT count(*) FROM segment WHERE travel_mode NOT IN ('flight', 'train', 'bus')",
            "SELECT count(*) FROM passenger WHERE type NOT IN ('adult', 'child', 'infant')",
        ],
        "price not positive with 2 decimals": [
            "SELECT count(*) FROM ticket WHERE booking_price <= 0 "
            "OR abs(booking_price * 100 - round(booking_price * 100)) > 1e-6",
        ],
        "first passenger not adult": [
            "SELECT count(*) FROM passenger p JOIN (SELECT min(passenger_id) AS first_id "
            "FROM passenger GROUP BY booking_id) AS f ON p.passenger_id = f.first_id "
            "WHERE p.type <> 'adult'"
        ],
        "timestamp not 'YYYY-MM-DD HH:MM:SS'": [
            f"SELECT count(*) FROM {t} WHERE typeof({c}) <> 'text' OR length({c}) <> 19"
            for t in generator.TABLES
            for c in ("created_at",)
        ],
    }
    with sqlite3.connect(path) as con:
        failures = {
            rule: n
            for rule, queries in zero_checks.items()
            for n in [sum(scalar(con, q) for q in queries)]
            if n
        }
        per_booking = con.execute(
            "SELECT coalesce(p.n, 0), coalesce(s.n, 0), coalesce(t.n, 0) FROM booking "
            "LEFT JOIN (SELECT booking_id, count(*) AS n FROM passenger GROUP BY 1) AS p USING (booking_id) "
            "LEFT JOIN (SELECT booking_id, count(*) AS n FROM segment GROUP BY 1) AS s USING (booking_id) "
            "LEFT JOIN (SELECT booking_id, count(*) AS n FROM ticket GROUP BY 1) AS t USING (booking_id)"
        ).fetchall()
        n_ticket_segment = scalar(con, "SELECT count(*) FROM ticket_segment")
        n_ticket_passenger = scalar(con, "SELECT count(*) FROM ticket_passenger")
    assert failures == {}
    assert all(1 <= p <= 4 and 1 <= s <= 3 and t == p for p, s, t in per_booking)
    assert n_ticket_segment == sum(p * s for p, s, _ in per_booking)
    assert n_ticket_passenger == sum(p for p, _, _ in per_booking)


# ------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """One scale-0.5 source (2,500 bookings) shared by the read-only tests."""
    path = tmp_path_factory.mktemp("travel") / "nested" / "dir" / "travel.sqlite"
    counts = generator.generate(sqlite_url(path), scale=0.5, seed=7, as_of=AS_OF)
    return path, counts


def copy_of(source: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(source, target)
    return target


# ------------------------------------------------------------------------------------------
# generate


def test_tables_have_exactly_the_declared_schema_and_cursor_indexes(generated):
    path, _ = generated
    assert generator.TABLES == (
        "booking",
        "ticket",
        "segment",
        "passenger",
        "ticket_passenger",
        "ticket_segment",
    )
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(generator.TABLES)
        for table, expected in EXPECTED_COLUMNS.items():
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            got = [
                (name, decl.replace(" ", "").lower(), bool(notnull)) for _, name, decl, notnull, _, _ in info
            ]
            # primary-key columns are NOT NULL too (SQLite would otherwise accept NULL keys)
            assert got == expected, table
            assert [name for _, name, _, _, _, pk in sorted(info, key=lambda r: r[5]) if pk] == PRIMARY_KEYS[
                table
            ]
            index_names = [row[1] for row in con.execute(f"PRAGMA index_list({table})")]
            indexed = {
                tuple(col[2] for col in con.execute(f"PRAGMA index_info('{name}')")) for name in index_names
            }
            assert (CURSORS[table],) in indexed, f"no index on {table}.{CURSORS[table]}"


def test_counts_follow_the_scale_and_match_the_returned_counts(generated):
    path, counts = generated
    with sqlite3.connect(path) as con:
        actual = {t: scalar(con, f"SELECT count(*) FROM {t}") for t in generator.TABLES}
        n_multi = scalar(
            con, "SELECT count(*) FROM (SELECT booking_id FROM passenger GROUP BY 1 HAVING count(*) > 1)"
        )
    assert actual == counts
    assert counts["booking"] == 2_500
    assert counts["ticket"] == counts["passenger"] == counts["ticket_passenger"]
    # 1-4 passengers weighted 35/35/20/10 (mean 2.05), 1-3 segments per booking
    assert 1.9 < counts["ticket"] / counts["booking"] < 2.2
    assert 1.3 < counts["segment"] / counts["booking"] < 1.9
    assert 0.55 < n_multi / counts["booking"] < 0.75


def test_invariants_hold_after_generate(generated):
    check_invariants(generated[0], AS_OF)


def test_values_are_realistic(generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        status = dict(con.execute("SELECT status, count(*) FROM booking GROUP BY 1").fetchall())
        assert set(status) == {"pending", "confirmed", "cancelled"}
        assert status["confirmed"] > 0.7 * sum(status.values())
        types = dict(con.execute("SELECT type, count(*) FROM passenger GROUP BY 1").fetchall())
        assert types["adult"] > types["child"] > types["infant"] > 0
        assert 0.5 < scalar(con, "SELECT avg(partner_id_offer IS NULL) FROM booking") < 0.7
        assert scalar(con, "SELECT max(length(partner_id_offer)) FROM booking") <= 16
        same_currency = scalar(
            con,
            "SELECT avg(t.booking_currency = b.user_selected_currency) "
            "FROM ticket t JOIN booking b USING (booking_id)",
        )
        assert 0.8 < same_currency < 1.0
        assert len({r[0] for r in con.execute("SELECT DISTINCT user_selected_currency FROM booking")}) >= 7
        # a carrier serves one mode only
        modes_per_carrier = con.execute(
            "SELECT carrier_name, count(DISTINCT travel_mode) FROM segment GROUP BY 1"
        ).fetchall()
        assert len(modes_per_carrier) >= 15
        assert all(n == 1 for _, n in modes_per_carrier)
        carriers = dict(
            con.execute("SELECT carrier_name, min(travel_mode) FROM segment GROUP BY 1").fetchall()
        )
        assert carriers.get("Lufthansa", "flight") == "flight"
        assert carriers.get("FlixBus", "bus") == "bus"
        # flights cost more than trains, trains more than buses (adult EUR tickets, one segment)
        avg_price = dict(
            con.execute(
                "SELECT s.travel_mode, avg(t.booking_price) FROM ticket t "
                "JOIN passenger p ON p.passenger_id = (SELECT passenger_id FROM ticket_passenger "
                "WHERE ticket_id = t.ticket_id) "
                "JOIN segment s ON s.booking_id = t.booking_id "
                "WHERE t.booking_currency = 'EUR' AND p.type = 'adult' "
                "AND t.booking_id IN (SELECT booking_id FROM segment GROUP BY 1 HAVING count(*) = 1) "
                "GROUP BY 1"
            ).fetchall()
        )
        assert avg_price["flight"] > 1.5 * avg_price["train"] > 1.5 * 1.5 * avg_price["bus"]
        assert scalar(con, "SELECT max(length(carrier_name)) FROM segment") <= 64
        assert scalar(con, "SELECT max(length(vendor_code)) FROM ticket") <= 16


def test_daily_volume_has_a_weekly_pattern_but_no_spike(generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        daily = dict(con.execute("SELECT date(created_at), count(*) FROM booking GROUP BY 1").fetchall())
    days = sorted(dt.date.fromisoformat(d) for d in daily)
    assert len(days) == 90 and days[-1] == AS_OF.date()
    counts = {d: daily[d.isoformat()] for d in days}
    # the dbt volume_spike test: a day > 1.5x the average of the 7 days before it
    for day in days[7:]:
        trailing = sum(counts.get(day - dt.timedelta(days=k), 0) for k in range(1, 8)) / 7
        assert counts[day] <= 1.5 * trailing, day
    full_days = days[:-1]  # the as_of day is partial
    by_weekday = Counter()
    for d in full_days:
        by_weekday[d.isoweekday()] += counts[d]
    assert by_weekday.most_common(1)[0][0] in (1, 2)  # busiest early in the week
    assert max(by_weekday.values()) / min(by_weekday.values()) < 1.5


def test_same_seed_and_as_of_give_identical_data_other_seed_differs(tmp_path):
    a, b, c = (tmp_path / f"{n}.sqlite" for n in "abc")
    counts_a = generator.generate(sqlite_url(a), scale=0.02, seed=3, as_of=AS_OF)
    counts_b = generator.generate(sqlite_url(b), scale=0.02, seed=3, as_of=AS_OF)
    generator.generate(sqlite_url(c), scale=0.02, seed=4, as_of=AS_OF)
    assert counts_a == counts_b and counts_a["booking"] == 100
    assert checksums(a) == checksums(b)
    differing = {t for t, h in checksums(c).items() if h != checksums(a)[t]}
    assert differing == set(generator.TABLES)


def test_regenerate_replaces_the_tables_and_aware_as_of_means_utc(tmp_path):
    path = tmp_path / "s.sqlite"
    generator.generate(sqlite_url(path), scale=0.04, seed=1, as_of=AS_OF)
    aware = AS_OF.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(hours=2)
    counts = generator.generate(sqlite_url(path), scale=0.02, seed=1, as_of=aware)
    reference = tmp_path / "r.sqlite"
    generator.generate(sqlite_url(reference), scale=0.02, seed=1, as_of=AS_OF)
    assert counts["booking"] == 100
    assert checksums(path) == checksums(reference)


def test_default_as_of_is_now_in_utc(tmp_path):
    path = tmp_path / "now.sqlite"
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    generator.generate(sqlite_url(path), scale=0.02)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with sqlite3.connect(path) as con:
        newest = dt.datetime.fromisoformat(scalar(con, "SELECT max(updated_at) FROM booking"))
        oldest = dt.datetime.fromisoformat(scalar(con, "SELECT min(created_at) FROM booking"))
    assert newest <= after
    assert before - dt.timedelta(days=90) <= oldest


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"scale": 0}, "scale"), ({"scale": -1}, "scale"), ({"seed": 1.5}, "seed")],
)
def test_generate_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator.generate(sqlite_url(tmp_path / "x.sqlite"), as_of=AS_OF, **kwargs)


def test_generate_rejects_unsupported_urls(tmp_path):
    with pytest.raises(Exception, match="(?i)unsupported|sqlite or postgres"):
        generator.generate(f"mysql://{tmp_path}/x", as_of=AS_OF)
    with pytest.raises(ValueError, match="SQLite or Postgres"):
        generator.generate(f"duckdb:///{tmp_path}/x.duckdb", as_of=AS_OF)


# ------------------------------------------------------------------------------------------
# advance


def test_advance_adds_new_bookings_and_updates_others(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "adv.sqlite")
    with sqlite3.connect(path) as con:
        before = {t: table_rows(con, t) for t in generator.TABLES}
        newest_before = max(scalar(con, f"SELECT max({CURSORS[t]}) FROM {t}") for t in generator.TABLES)
        max_ids = {
            t: scalar(con, f"SELECT max({t}_id) FROM {t}")
            for t in ("booking", "ticket", "passenger", "segment")
        }
    as_of = AS_OF + dt.timedelta(days=1)
    result = generator.advance(sqlite_url(path), seed=7, as_of=as_of)
    check_invariants(path, as_of)

    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(generator.TABLES)  # staging tables are gone
        after = {t: table_rows(con, t) for t in generator.TABLES}
        old_bookings = {r[0]: r for r in before["booking"]}
        new_bookings = [r for r in after["booking"] if r[0] not in old_bookings]
        assert len(new_bookings) == result["new_bookings"] == round(0.05 * 2_500)
        assert all(r[0] > max_ids["booking"] for r in new_bookings)
        assert all(newest_before < r[1] <= ts(as_of) for r in new_bookings)
        for t in ("ticket", "passenger", "segment"):
            fresh = scalar(con, f"SELECT count(*) FROM {t} WHERE {t}_id > ?", (max_ids[t],))
            assert fresh == result[f"new_{t}s"] > 0
            assert (
                scalar(
                    con,
                    f"SELECT count(*) FROM {t} WHERE {t}_id > ? AND booking_id <= ?",
                    (max_ids[t], max_ids["booking"]),
                )
                == 0
            )
        for t in ("ticket_passenger", "ticket_segment"):
            assert len(after[t]) - len(before[t]) == result[f"new_{t}s"]

        # updated bookings: allowed transitions only, strictly newer updated_at, <= as_of
        changed = {
            r[0]: (old_bookings[r[0]], r)
            for r in after["booking"]
            if r[0] in old_bookings and r != old_bookings[r[0]]
        }
        assert len(changed) == result["updated_bookings"] == round(0.05 * 2_500)
        transitions = Counter((old[5], new[5]) for old, new in changed.values())
        assert set(transitions) <= {
            ("pending", "confirmed"),
            ("confirmed", "cancelled"),
            ("confirmed", "confirmed"),
        }
        assert transitions[("confirmed", "cancelled")] == result["cancelled_bookings"] > 0
        for old, new in changed.values():
            assert old[:2] == new[:2] and old[3:5] == new[3:5]  # id, created_at, currency, partner
            assert old[2] < new[2] <= ts(as_of) and new[2] > newest_before

        old_tickets = {r[0]: r for r in before["ticket"]}
        repriced = [
            (old_tickets[r[0]], r) for r in after["ticket"] if r[0] in old_tickets and r != old_tickets[r[0]]
        ]
        assert len(repriced) == result["updated_tickets"] > 0
        for old, new in repriced:
            assert new[2] != old[2] and Decimal(new[2]) > 0  # the price changed
            assert old[:2] == new[:2] and old[3:6] == new[3:6]
            assert old[6] < new[6] <= ts(as_of) and new[6] > newest_before
            assert new[1] in changed and changed[new[1]][1][2] == new[6]
        # nothing else changed
        for t in ("segment", "passenger", "ticket_passenger", "ticket_segment"):
            assert set(before[t]) <= set(after[t])


def test_advance_is_deterministic_and_can_be_repeated(generated, tmp_path):
    a = copy_of(generated[0], tmp_path, "a.sqlite")
    b = copy_of(generated[0], tmp_path, "b.sqlite")
    first = AS_OF + dt.timedelta(hours=6)
    second = AS_OF + dt.timedelta(days=1)
    for path in (a, b):
        generator.advance(sqlite_url(path), seed=11, as_of=first, new_fraction=0.02, update_fraction=0.1)
    assert checksums(a) == checksums(b)
    result = generator.advance(sqlite_url(a), seed=11, as_of=second)
    assert result["new_bookings"] > 0 and result["updated_bookings"] > 0
    check_invariants(a, second)
    c = copy_of(generated[0], tmp_path, "c.sqlite")
    generator.advance(sqlite_url(c), seed=12, as_of=first, new_fraction=0.02, update_fraction=0.1)
    assert checksums(c)["booking"] != checksums(b)["booking"]


def test_advance_rejects_an_as_of_that_is_not_after_the_data(generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "past.sqlite")
    before = checksums(path)
    with sqlite3.connect(path) as con:
        newest = dt.datetime.fromisoformat(
            max(scalar(con, f"SELECT max({CURSORS[t]}) FROM {t}") for t in generator.TABLES)
        )
    for as_of in (AS_OF - dt.timedelta(days=1), newest):
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
    schema = f"hw_test_travel_{uuid.uuid4().hex[:10]}"
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
        "timestamp without time zone": "timestamp",
        "character varying": "varchar",
        "numeric": "numeric",
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
        assert any(f"({CURSORS[table]})" in d for (d,) in indexed), table

    with sqlite3.connect(reference) as lite:
        for table in generator.TABLES:
            assert table_rows(con, table, schema) == table_rows(lite, table), table

    as_of = AS_OF + dt.timedelta(days=1)
    result = generator.advance(PG_URL, seed=5, as_of=as_of, schema=schema)
    lite_result = generator.advance(sqlite_url(reference), seed=5, as_of=as_of)
    assert result == lite_result and result["new_bookings"] == 25
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
    with pytest.raises(ValueError, match="not after the newest timestamp"):
        generator.advance(PG_URL, seed=5, as_of=as_of, schema=schema)


@pytest.mark.parametrize(
    ("corruption", "rule"),
    [
        (
            "UPDATE booking SET updated_at = '2020-01-01 00:00:00' WHERE booking_id = 5",
            "updated_at < created_at",
        ),
        ("UPDATE segment SET arrival_at = departure_at WHERE segment_id = 3", "arrival not after departure"),
        ("DELETE FROM ticket_segment WHERE rowid = 7", "ticket not covering"),
        ("UPDATE ticket SET booking_currency = 'XXX' WHERE ticket_id = 2", "bad currency"),
        ("DELETE FROM segment WHERE booking_id = 9", "booking without"),
    ],
)
def test_the_invariant_check_catches_broken_data(generated, tmp_path, corruption, rule):
    """Guards the guard: each rule above fails on data broken in exactly its way."""
    path = copy_of(generated[0], tmp_path, "broken.sqlite")
    with sqlite3.connect(path) as con:
        assert con.execute(corruption).rowcount >= 1
    with pytest.raises(AssertionError, match=rule):
        check_invariants(path, AS_OF)

"""Synthetic source data for the ``travel_bookings`` pipeline (seed 000).

An online travel agency's application database: bookings, the tickets issued in them (one per
passenger), the passengers, the travel segments, and the two link tables. ``generate`` builds a
fresh 90-day history; ``advance`` plays one more period of business on top of it (new bookings,
status transitions, price changes), so incremental loads, snapshots and freshness have real
changes to work on.

How it is built, and why:

- The tables are declared through the native driver (``sqlite3`` / ``psycopg``) with one portable
  DDL, so the source carries exactly the declared types the EL engine and the dbt sources expect.
- Every row is computed set-based in an in-memory DuckDB and bulk-inserted through
  :func:`headwater.duck.attach`; no Python loop touches the data.
- Randomness is ``hash(key, seed, stream, salt)`` mapped to [0, 1), never ``random()``: the same
  (seed, scale, as_of) gives the same data, whatever the thread count. Money is summed in integer
  cents so that parallel aggregation cannot change a rounded price. ``hash`` is DuckDB's own, so
  the data is identical for a given DuckDB version (pinned exactly, see docs/STACK.md).
- Ids follow creation time, with the occasional gap a real sequence has (rolled-back
  inserts); ticket and passenger ids therefore drift apart and a join on the wrong key shows.
- ``advance`` stages its rows in the target, then applies inserts and updates through the native
  driver in one transaction: DuckDB's sqlite extension cannot bind timestamps in an UPDATE, and
  a half-applied advance would leave the source inconsistent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater import duck
from headwater.errors import SourceError
from headwater.synthetic import Target
from headwater.synthetic import as_datetime as _as_datetime
from headwater.synthetic import check_seed as _check_seed
from headwater.synthetic import count as _count
from headwater.synthetic import create_table_sql as _create_table_sql
from headwater.synthetic import lit as _lit
from headwater.synthetic import normalise_as_of as _normalise_as_of
from headwater.synthetic import sql_list as _list
from headwater.synthetic import ts as _ts
from headwater.synthetic import update_from_sql as _update_from_sql

TABLES: tuple[str, ...] = (
    "booking",
    "ticket",
    "segment",
    "passenger",
    "ticket_passenger",
    "ticket_segment",
)

BOOKINGS_PER_SCALE = 5_000
HISTORY_DAYS = 90

# name -> (columns as (name, declared type, nullable), primary key, cursor column)
_SCHEMA: dict[str, tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...], str]] = {
    "booking": (
        (
            ("booking_id", "bigint", False),
            ("created_at", "timestamp", False),
            ("updated_at", "timestamp", False),
            ("user_selected_currency", "varchar(3)", False),
            ("partner_id_offer", "varchar(16)", True),
            ("status", "varchar(16)", False),
        ),
        ("booking_id",),
        "updated_at",
    ),
    "ticket": (
        (
            ("ticket_id", "bigint", False),
            ("booking_id", "bigint", False),
            ("booking_price", "numeric(12,2)", False),
            ("booking_currency", "varchar(3)", False),
            ("vendor_code", "varchar(16)", False),
            ("created_at", "timestamp", False),
            ("updated_at", "timestamp", False),
        ),
        ("ticket_id",),
        "updated_at",
    ),
    "segment": (
        (
            ("segment_id", "bigint", False),
            ("booking_id", "bigint", False),
            ("carrier_name", "varchar(64)", False),
            ("departure_at", "timestamp", False),
            ("arrival_at", "timestamp", False),
            ("travel_mode", "varchar(8)", False),
            ("created_at", "timestamp", False),
            ("updated_at", "timestamp", False),
        ),
        ("segment_id",),
        "updated_at",
    ),
    "passenger": (
        (
            ("passenger_id", "bigint", False),
            ("booking_id", "bigint", False),
            ("type", "varchar(8)", False),
            ("created_at", "timestamp", False),
            ("updated_at", "timestamp", False),
        ),
        ("passenger_id",),
        "updated_at",
    ),
    "ticket_passenger": (
        (
            ("ticket_id", "bigint", False),
            ("passenger_id", "bigint", False),
            ("created_at", "timestamp", False),
        ),
        ("ticket_id", "passenger_id"),
        "created_at",
    ),
    "ticket_segment": (
        (
            ("ticket_id", "bigint", False),
            ("segment_id", "bigint", False),
            ("created_at", "timestamp", False),
        ),
        ("ticket_id", "segment_id"),
        "created_at",
    ),
}

# Staging tables of ``advance`` (same DDL helper; they live next to the real tables for the
# length of one call).
_UPDATE_SCHEMA: dict[str, tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]] = {
    "booking": (
        (
            ("booking_id", "bigint", False),
            ("status", "varchar(16)", False),
            ("updated_at", "timestamp", False),
        ),
        ("booking_id",),
    ),
    "ticket": (
        (
            ("ticket_id", "bigint", False),
            ("booking_price", "numeric(12,2)", False),
            ("updated_at", "timestamp", False),
        ),
        ("ticket_id",),
    ),
}
_NEW_PREFIX = "_hw_new_"
_UPD_PREFIX = "_hw_upd_"

# --- business constants (all literals that end up in SQL come from here, never from callers) ---

CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK")
_CURRENCY_WEIGHTS = (38, 10, 14, 8, 8, 6, 5, 7, 4)
# Units of the currency per EUR; the inverse of the eur_rate column of the dbt seed.
_PER_EUR = {
    "EUR": 1.0,
    "USD": 1 / 0.92,
    "GBP": 1 / 1.17,
    "CHF": 1 / 1.05,
    "SEK": 1 / 0.087,
    "NOK": 1 / 0.086,
    "DKK": 1 / 0.134,
    "PLN": 1 / 0.231,
    "CZK": 1 / 0.040,
}
_MODES = (("flight", 55), ("train", 30), ("bus", 15))
# When a segment is not in the booking's main mode (an airport train, a feeder bus).
_OTHER_MODE = {"flight": "train", "train": "bus", "bus": "train"}
_CARRIERS = {
    "flight": (
        "Lufthansa", "Air France", "KLM", "British Airways", "Ryanair", "easyJet", "Wizz Air",
        "SAS Scandinavian Airlines", "SWISS", "Iberia", "Norwegian", "LOT Polish Airlines",
        "Austrian Airlines", "TAP Air Portugal", "Vueling", "Finnair",
    ),
    "train": (
        "Deutsche Bahn", "SNCF", "Trenitalia", "Italo", "SBB CFF FFS", "ÖBB", "Renfe",
        "Eurostar", "SJ", "Vy", "DSB", "PKP Intercity", "České dráhy", "NS International",
    ),
    "bus": (
        "FlixBus", "BlaBlaCar Bus", "RegioJet", "National Express", "Megabus", "ALSA",
        "Eurolines", "Vy Buss", "Arriva", "Ecolines",
    ),
}  # fmt: skip
_VENDORS = {
    "flight": ("AMADEUS", "SABRE", "TRAVELPORT", "NDC-DIRECT"),
    "train": ("TRAINLINE", "RAILEUROPE", "DB-VERTRIEB", "SNCF-CONNECT"),
    "bus": ("FLIX-API", "DISTRIBUSION", "BUSBUD"),
}
# Median fare per segment in EUR, and the duration range in 5-minute units.
_FARE_EUR = {"flight": 110.0, "train": 42.0, "bus": 17.0}
_DURATION_UNITS = {"flight": (9, 72), "train": (6, 96), "bus": (12, 144)}
_PAX_TYPE_FACTOR = {"adult": 1.0, "child": 0.75, "infant": 0.12}
# Booking volume by ISO weekday (Mon=1): busiest after the weekend, modest swings so that the
# daily volume-spike test (> 1.5x the trailing 7-day average) stays quiet.
_WEEKDAY_WEIGHT = {1: 1.10, 2: 1.06, 3: 1.02, 4: 1.00, 5: 0.95, 6: 0.86, 7: 0.96}


# --------------------------------------------------------------------------------------------
# public API


def generate(
    url: str,
    *,
    scale: float = 1.0,
    seed: int = 42,
    as_of: datetime | None = None,
    schema: str = "travel_bookings",
) -> dict[str, int]:
    """(Re)create the six source tables at ``url`` and fill them; return row counts per table.

    ``scale`` 1 is 5,000 bookings (about 10,250 tickets); bookings are spread over the 90 days
    ending at ``as_of`` (default: now, UTC, whole seconds). ``schema`` applies to Postgres only.
    """
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    seed = _check_seed(seed)
    as_of = _normalise_as_of(as_of)
    target = _Target.from_url(url, schema)
    n_bookings = max(1, round(BOOKINGS_PER_SCALE * scale))

    target.prepare()
    target.run_in_transaction(
        [f"DROP TABLE IF EXISTS {target.table(t)}" for t in reversed(TABLES)]
        + [_create_table_sql(target.table(t), *_SCHEMA[t][:2]) for t in TABLES]
    )

    con = duck.connect()
    try:
        _create_macros(con, seed, as_of)
        _history_frame(con, n_bookings, as_of)
        _build_rows(con, as_of, ticket_base=0, passenger_base=0, segment_base=0)
        counts = {t: _count(con, f"out_{t}") for t in TABLES}
        duck.attach(con, url, "src")
        con.execute("BEGIN")
        for t in TABLES:
            _insert_from(con, target.duck_table("src", t), t, f"out_{t}")
        con.execute("COMMIT")
        con.execute("DETACH src")
    finally:
        con.close()

    # Indexes after the bulk insert: building them once is faster than maintaining them.
    target.run_in_transaction(
        [
            f"CREATE INDEX {duck.quote(f'ix_{t}_{_SCHEMA[t][2]}')} "
            f"ON {target.table(t)} ({duck.quote(_SCHEMA[t][2])})"
            for t in TABLES
        ]
        + ([f"ANALYZE {target.table(t)}" for t in TABLES] if target.kind == "postgres" else [])
    )
    return counts


def advance(
    url: str,
    *,
    seed: int = 42,
    as_of: datetime | None = None,
    new_fraction: float = 0.05,
    update_fraction: float = 0.05,
    schema: str = "travel_bookings",
) -> dict[str, int]:
    """Play the business forward to ``as_of``: new bookings, status changes, price changes.

    New bookings (``new_fraction`` x the existing bookings, with their tickets, passengers,
    segments and links) are created after the newest timestamp in the source; ids continue
    after the current maxima. ``update_fraction`` x the existing bookings that are not yet
    cancelled change: pending ones are confirmed, confirmed ones are cancelled or have their
    tickets repriced. Every changed row gets an ``updated_at`` after the source's newest
    timestamp and at most ``as_of``, so a cursor-based extract sees all of it. Deterministic
    given the existing data, ``seed`` and ``as_of``; applied in one transaction.
    """
    seed = _check_seed(seed)
    for name, value in (("new_fraction", new_fraction), ("update_fraction", update_fraction)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if update_fraction > 1:
        raise ValueError(f"update_fraction must be at most 1, got {update_fraction!r}")
    as_of = _normalise_as_of(as_of)
    target = _Target.from_url(url, schema)
    state = target.state()
    if as_of <= state.newest:
        raise ValueError(
            f"as_of {as_of:%Y-%m-%d %H:%M:%S} is not after the newest timestamp already in the "
            f"source ({state.newest:%Y-%m-%d %H:%M:%S}); advance only moves forward in time: "
            "pass a later as_of (or regenerate the source)"
        )
    n_new = round(new_fraction * state.bookings)
    n_upd_wanted = round(update_fraction * state.bookings)

    new_tables = {t: _NEW_PREFIX + t for t in TABLES}
    upd_tables = {t: _UPD_PREFIX + t for t in _UPDATE_SCHEMA}
    staging = [*new_tables.values(), *upd_tables.values()]
    target.run_in_transaction(
        [f"DROP TABLE IF EXISTS {target.table(s)}" for s in staging]
        + [_create_table_sql(target.table(new_tables[t]), *_SCHEMA[t][:2]) for t in TABLES]
        + [_create_table_sql(target.table(upd_tables[t]), *_UPDATE_SCHEMA[t]) for t in upd_tables]
    )
    try:
        con = duck.connect()
        try:
            _create_macros(con, seed, as_of)
            _advance_frame(con, n_new, state, as_of)
            _build_rows(
                con,
                as_of,
                ticket_base=state.max_ids["ticket"],
                passenger_base=state.max_ids["passenger"],
                segment_base=state.max_ids["segment"],
            )
            duck.attach(con, url, "src")
            _build_updates(con, target, n_upd_wanted, state.newest, as_of)
            result = {f"new_{t}s": _count(con, f"out_{t}") for t in TABLES}
            result["updated_bookings"] = _count(con, "upd_booking")
            result["updated_tickets"] = _count(con, "upd_ticket")
            for status in ("confirmed", "cancelled"):
                row = con.execute("SELECT count(*) FROM upd_booking WHERE status = ?", [status]).fetchone()
                result[f"{status}_bookings"] = int(row[0]) if row else 0
            con.execute("BEGIN")
            for t in TABLES:
                _insert_from(con, target.duck_table("src", new_tables[t]), t, f"out_{t}")
            _insert_update("booking", con, target.duck_table("src", upd_tables["booking"]))
            _insert_update("ticket", con, target.duck_table("src", upd_tables["ticket"]))
            con.execute("COMMIT")
            con.execute("DETACH src")
        finally:
            con.close()
        target.run_in_transaction(
            [_insert_select_sql(target, t, new_tables[t]) for t in TABLES]
            + [_update_from_sql(target, t, upd_tables[t], _UPDATE_SCHEMA[t]) for t in _UPDATE_SCHEMA]
            + [f"DROP TABLE {target.table(s)}" for s in staging]
        )
    except BaseException:
        # Best effort: the original error matters more than a failed clean-up.
        with suppress(Exception):
            target.run_in_transaction([f"DROP TABLE IF EXISTS {target.table(s)}" for s in staging])
        raise
    return result


# --------------------------------------------------------------------------------------------
# DuckDB: deterministic randomness and the row builders


def _create_macros(con: Any, seed: int, as_of: datetime) -> None:
    con.execute("SET enable_progress_bar = false")  # a library must not draw on the terminal
    # ``stream`` separates the draws of different as_of values, so a second ``advance`` with the
    # same seed does not repeat the first one's choices.
    # The outer hash matters: DuckDB's multi-argument hash combines its arguments almost
    # linearly, so draws that differ only by salt (or seed) came out correlated (|r| ~ 0.6-0.9);
    # hashing the combined value again mixes it fully (measured |r| < 0.003).
    stream = int(as_of.replace(tzinfo=UTC).timestamp())
    key = f"{int(seed)}::BIGINT, {stream}::BIGINT"
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO u2(k1, k2, salt) AS "
        f"((hash(hash(k1, k2, {key}, salt)) >> 11)::DOUBLE / 9007199254740992.0)"
    )
    # Roughly standard normal, bounded to +-3.46: sum of four uniforms (Irwin-Hall).
    con.execute(
        "CREATE OR REPLACE TEMP MACRO z2(k1, k2, salt) AS "
        "((u2(k1, k2, salt || '1') + u2(k1, k2, salt || '2') + u2(k1, k2, salt || '3') "
        "+ u2(k1, k2, salt || '4') - 2.0) * sqrt(3.0))"
    )
    # Sequence-like ids: 1 apart, with an occasional gap of 1-3 (rolled-back inserts).
    con.execute(
        "CREATE OR REPLACE TEMP MACRO id_step(k1, k2, salt) AS "
        "(1 + CASE WHEN u2(k1, k2, salt) < 0.015 "
        "THEN 1 + floor(u2(k1, k2, salt || 'len') * 3)::BIGINT ELSE 0 END)"
    )


def _history_frame(con: Any, n_bookings: int, as_of: datetime) -> None:
    """``frame(booking_id, created_at)``: n bookings over the 90 days ending at as_of.

    Days get a quota proportional to a weekday weight, a slight upward trend and +-3% noise
    (integer weights, so the quotas are exact); the window starts at a midnight so that no
    partial first day looks like a dip followed by a spike.
    """
    start = _ceil_midnight(as_of - timedelta(days=HISTORY_DAYS))
    n_days = math.ceil((as_of - start) / timedelta(days=1))
    weekday = _case("isodow(day_start)", {d: w for d, w in _WEEKDAY_WEIGHT.items()}, 1.0)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE days AS
        WITH d AS (
            SELECT
                d,
                {_ts(start)} + to_days(d::INTEGER) AS day_start,
                least(86400, date_diff('second', {_ts(start)} + to_days(d::INTEGER), {_ts(as_of)}))
                    AS secs
            FROM range({n_days}) AS t(d)
        ),
        w AS (
            SELECT *,
                round(1e6 * {weekday} * (1 + 0.002 * d) * (0.97 + 0.06 * u2(d, 0, 'day'))
                      * secs / 86400.0)::BIGINT AS w
            FROM d
        ),
        c AS (
            SELECT *,
                sum(w) OVER (ORDER BY d ROWS UNBOUNDED PRECEDING) - w AS cum_before,
                sum(w) OVER () AS total
            FROM w
        )
        SELECT d, day_start, secs,
            ({n_bookings}::HUGEINT * cum_before // total)::BIGINT AS first_row,
            ({n_bookings}::HUGEINT * (cum_before + w) // total)::BIGINT AS next_row
        FROM c
        """
    )
    # Time of day: a triangular draw peaking mid-afternoon, wrapping into the small hours.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE frame AS
        WITH r AS (
            SELECT day_start, secs, unnest(range(first_row, next_row)) AS r FROM days
        ),
        t AS (
            SELECT r,
                day_start + to_seconds(
                    floor(secs * (((u2(r, 0, 'tod1') + u2(r, 0, 'tod2')) / 2 + 0.2) % 1.0))::BIGINT
                ) AS created_at
            FROM r
        )
        SELECT
            sum(id_step(r, 0, 'booking_id'))
                OVER (ORDER BY created_at, r ROWS UNBOUNDED PRECEDING)::BIGINT AS booking_id,
            created_at
        FROM t
        """
    )


def _advance_frame(con: Any, n_new: int, state: _State, as_of: datetime) -> None:
    """``frame`` for new bookings: created after the source's newest timestamp, up to as_of."""
    span = int((as_of - state.newest).total_seconds())
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE frame AS
        WITH t AS (
            SELECT r,
                {_ts(state.newest)}
                    + to_seconds(1 + floor(u2(r, 0, 'new_ts') * {span})::BIGINT) AS created_at
            FROM range({int(n_new)}) AS x(r)
        )
        SELECT
            ({state.max_ids["booking"]} + sum(id_step(r, 0, 'booking_id'))
                OVER (ORDER BY created_at, r ROWS UNBOUNDED PRECEDING))::BIGINT AS booking_id,
            created_at
        FROM t
        """
    )


def _build_rows(
    con: Any, as_of: datetime, *, ticket_base: int, passenger_base: int, segment_base: int
) -> None:
    """From ``frame(booking_id, created_at)`` build ``out_<table>`` for all six tables."""
    asof = _ts(as_of)
    mode = _pick("x_mode", _MODES)
    currency = _pick("x_cur", list(zip(CURRENCIES, _CURRENCY_WEIGHTS, strict=True)))
    vendors = _case("mode", {m: _list(v) for m, v in _VENDORS.items()}, None, literal=False)
    carriers = _case("travel_mode", {m: _list(v) for m, v in _CARRIERS.items()}, None, literal=False)
    other_mode = _case("booking_mode", _OTHER_MODE, None)
    per_eur = _case("booking_currency", _PER_EUR, None)
    type_factor = _case("type", _PAX_TYPE_FACTOR, None)
    fare = _case("travel_mode", _FARE_EUR, None)
    dur_lo = _case("travel_mode", {m: lo for m, (lo, _) in _DURATION_UNITS.items()}, None)
    dur_span = _case("travel_mode", {m: hi - lo for m, (lo, hi) in _DURATION_UNITS.items()}, None)

    # A random moment between created_at and as_of, for rows changed after creation.
    def later(k1: str, k2: str, salt: str) -> str:
        return (
            f"created_at + to_seconds(floor(u2({k1}, {k2}, '{salt}') "
            f"* date_diff('second', created_at, {asof}))::BIGINT)"
        )

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE bk AS
        WITH x AS (
            SELECT booking_id, created_at,
                date_diff('second', created_at, {asof}) AS age_s,
                u2(booking_id, 0, 'n_pax') AS x_pax,
                u2(booking_id, 0, 'n_seg') AS x_seg,
                u2(booking_id, 0, 'mode') AS x_mode,
                u2(booking_id, 0, 'currency') AS x_cur,
                u2(booking_id, 0, 'status') AS x_status,
                u2(booking_id, 0, 'status_delay') AS x_delay
            FROM frame
        ),
        y AS (
            SELECT *,
                CASE WHEN x_pax < 0.35 THEN 1 WHEN x_pax < 0.70 THEN 2
                     WHEN x_pax < 0.90 THEN 3 ELSE 4 END AS n_pax,
                CASE WHEN x_seg < 0.55 THEN 1 WHEN x_seg < 0.85 THEN 2 ELSE 3 END AS n_seg,
                {mode} AS mode,
                {currency} AS user_selected_currency,
                -- Fresh bookings are often still awaiting payment; old ones rarely.
                CASE WHEN x_status < CASE WHEN age_s < 2 * 86400 THEN 0.30 ELSE 0.02 END
                     THEN 'pending'
                     WHEN x_status < CASE WHEN age_s < 2 * 86400 THEN 0.36 ELSE 0.12 END
                     THEN 'cancelled'
                     ELSE 'confirmed' END AS status
            FROM x
        )
        SELECT booking_id, created_at, n_pax, n_seg, mode, user_selected_currency, status,
            CASE WHEN u2(booking_id, 0, 'partner') < 0.6 THEN NULL
                 ELSE 'PRT' || lpad((1 + floor(pow(u2(booking_id, 0, 'partner_id'), 2) * 300)
                                    )::BIGINT::VARCHAR, 5, '0')
            END AS partner_id_offer,
            CASE status
                WHEN 'pending' THEN created_at
                -- payment goes through 1-30 minutes after booking
                WHEN 'confirmed' THEN least({asof}, created_at
                    + to_seconds((60 + floor(x_delay * 1740))::BIGINT))
                -- cancellations come up to 30 days later, most of them early
                ELSE least({asof}, created_at
                    + to_seconds((3600 + floor(x_delay * x_delay * 30 * 86400))::BIGINT))
            END AS updated_at,
            list_extract({vendors}, 1 + floor(u2(booking_id, 0, 'vendor') * len({vendors}))::INTEGER)
                AS vendor_code,
            n_seg >= 2 AND u2(booking_id, 0, 'round_trip') < 0.5 AS round_trip
        FROM y
        """
    )
    # Passengers and tickets: one ticket per passenger, numbered by their own sequences.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE px AS
        WITH x AS (
            SELECT booking_id, created_at, unnest(range(1, n_pax + 1)) AS seq FROM bk
        )
        SELECT booking_id, seq, created_at,
            ({int(passenger_base)} + sum(id_step(booking_id, seq, 'passenger_id'))
                OVER (ORDER BY booking_id, seq ROWS UNBOUNDED PRECEDING))::BIGINT AS passenger_id,
            ({int(ticket_base)} + sum(id_step(booking_id, seq, 'ticket_id'))
                OVER (ORDER BY booking_id, seq ROWS UNBOUNDED PRECEDING))::BIGINT AS ticket_id,
            CASE WHEN seq = 1 THEN 'adult'
                 WHEN u2(booking_id, seq, 'type') < 0.60 THEN 'adult'
                 WHEN u2(booking_id, seq, 'type') < 0.90 THEN 'child'
                 ELSE 'infant' END AS type
        FROM x
        """
    )
    # Segments: the first departs 1 hour to 120 days after booking, then each one after the
    # previous arrival (a 45 min-5 h connection, or 1-14 days later for the return leg). All
    # schedule times are on 5-minute marks, so the unit arithmetic is exact.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE sg AS
        WITH x AS (
            SELECT booking_id, created_at, mode AS booking_mode, n_seg, round_trip,
                unnest(range(1, n_seg + 1)) AS seq
            FROM bk
        ),
        m AS (
            SELECT *,
                CASE WHEN u2(booking_id, seq, 'mode_switch') < 0.9 THEN booking_mode
                     ELSE {other_mode} END AS travel_mode
            FROM x
        ),
        d AS (
            SELECT *,
                ({dur_lo} + floor(pow(u2(booking_id, seq, 'duration'), 1.4) * {dur_span}))::BIGINT
                    AS dur_u,
                CASE WHEN seq = 1
                     THEN 12 + floor(pow(u2(booking_id, seq, 'lead'), 2.2) * 120 * 288)
                     WHEN round_trip AND seq = n_seg
                     THEN 288 + floor(u2(booking_id, seq, 'stay') * 13 * 288)
                     ELSE 9 + floor(u2(booking_id, seq, 'layover') * 51)
                END::BIGINT AS gap_u
            FROM m
        ),
        s AS (
            SELECT *,
                (sum(gap_u + dur_u) OVER (PARTITION BY booking_id ORDER BY seq
                                          ROWS UNBOUNDED PRECEDING) - dur_u)::BIGINT AS start_u
            FROM d
        )
        SELECT booking_id, seq, travel_mode, created_at,
            ({int(segment_base)} + sum(id_step(booking_id, seq, 'segment_id'))
                OVER (ORDER BY booking_id, seq ROWS UNBOUNDED PRECEDING))::BIGINT AS segment_id,
            list_extract({carriers},
                1 + floor(u2(booking_id, seq, 'carrier') * len({carriers}))::INTEGER)
                AS carrier_name,
            time_bucket(INTERVAL 5 MINUTE, created_at) + to_minutes(5 * (1 + start_u))
                AS departure_at,
            time_bucket(INTERVAL 5 MINUTE, created_at) + to_minutes(5 * (1 + start_u + dur_u))
                AS arrival_at,
            -- fare in whole cents: longer trips cost more, lognormal spread around the median
            round(100 * {fare} * (0.7 + 0.6 * (dur_u - {dur_lo}) / {dur_span})
                  * exp(0.35 * z2(booking_id, seq, 'fare')))::BIGINT AS fare_cents,
            CASE WHEN u2(booking_id, seq, 'rescheduled') < 0.06
                 THEN {later("booking_id", "seq", "rescheduled_at")}
                 ELSE created_at END AS updated_at
        FROM s
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_booking AS
        SELECT booking_id, created_at, updated_at, user_selected_currency, partner_id_offer,
            status
        FROM bk
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_ticket AS
        WITH fares AS (
            SELECT booking_id, sum(fare_cents) AS fare_cents FROM sg GROUP BY booking_id
        ),
        t AS (
            SELECT px.ticket_id, px.booking_id, px.type, px.created_at, fares.fare_cents,
                bk.vendor_code,
                -- mostly the currency the customer chose; some vendors settle in EUR/USD
                CASE WHEN u2(px.ticket_id, 0, 'currency') < 0.92 THEN bk.user_selected_currency
                     WHEN bk.user_selected_currency = 'EUR' THEN 'USD'
                     ELSE 'EUR' END AS booking_currency
            FROM px
            JOIN bk USING (booking_id)
            JOIN fares USING (booking_id)
        )
        SELECT ticket_id, booking_id,
            (greatest(100, round(fare_cents * {type_factor} * {per_eur}))::BIGINT / 100.0)
                ::DECIMAL(12, 2) AS booking_price,
            booking_currency, vendor_code, created_at,
            CASE WHEN u2(ticket_id, 0, 'repriced') < 0.05 THEN {later("ticket_id", "0", "repriced_at")}
                 ELSE created_at END AS updated_at
        FROM t
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_segment AS
        SELECT segment_id, booking_id, carrier_name, departure_at, arrival_at, travel_mode,
            created_at, updated_at
        FROM sg
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_passenger AS
        SELECT passenger_id, booking_id, type, created_at,
            CASE WHEN u2(passenger_id, 0, 'corrected') < 0.05
                 THEN {later("passenger_id", "0", "corrected_at")}
                 ELSE created_at END AS updated_at
        FROM px
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_ticket_passenger AS
        SELECT ticket_id, passenger_id, created_at FROM px
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_ticket_segment AS
        SELECT px.ticket_id, sg.segment_id, px.created_at
        FROM px JOIN sg USING (booking_id)
        """
    )


def _build_updates(con: Any, target: _Target, n_wanted: int, newest: datetime, as_of: datetime) -> None:
    """``upd_booking`` and ``upd_ticket``: the changes to existing rows, read from ``src``."""
    span = int((as_of - newest).total_seconds())
    booking = target.duck_table("src", "booking")
    ticket = target.duck_table("src", "ticket")
    # The changed moment is after everything already in the source, as an application writing
    # updated_at = now() would do; a cursor-based extract therefore never misses an update.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE sel AS
        WITH eligible AS (
            SELECT booking_id, status FROM {booking} WHERE status IN ('pending', 'confirmed')
        ),
        picked AS (
            SELECT * FROM eligible
            ORDER BY u2(booking_id, 0, 'pick'), booking_id
            LIMIT {int(n_wanted)}
        )
        SELECT booking_id,
            CASE WHEN status = 'pending' THEN 'confirmed'
                 WHEN u2(booking_id, 0, 'cancel') < 0.35 THEN 'cancelled'
                 ELSE 'confirmed' END AS new_status,
            -- a confirmed booking that stays confirmed was changed: its fare was repriced
            CASE WHEN status = 'pending' THEN u2(booking_id, 0, 'reprice') < 0.3
                 ELSE u2(booking_id, 0, 'cancel') >= 0.35 END AS repriced,
            {_ts(newest)} + to_seconds(1 + floor(u2(booking_id, 0, 'changed_at') * {span})::BIGINT)
                AS updated_at
        FROM picked
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE upd_booking AS
        SELECT booking_id, new_status AS status, updated_at FROM sel
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upd_ticket AS
        WITH t AS (
            SELECT t.ticket_id, round(t.booking_price::DOUBLE * 100)::BIGINT AS old_cents,
                sel.updated_at,
                u2(t.ticket_id, 0, 'reprice_dir') AS x_dir,
                u2(t.ticket_id, 0, 'reprice_size') AS x_size
            FROM {ticket} AS t
            JOIN sel ON sel.booking_id = t.booking_id AND sel.repriced
        ),
        p AS (
            SELECT *,
                greatest(100, round(old_cents * CASE WHEN x_dir < 0.4 THEN 0.85 + 0.12 * x_size
                                                     ELSE 1.03 + 0.17 * x_size END))::BIGINT
                    AS new_cents
            FROM t
        )
        SELECT ticket_id,
            (CASE WHEN new_cents = old_cents THEN new_cents + 100 ELSE new_cents END / 100.0)
                ::DECIMAL(12, 2) AS booking_price,
            updated_at
        FROM p
        """
    )


def _insert_from(con: Any, dest: str, table: str, source: str) -> None:
    columns, key, _ = _SCHEMA[table]
    names = ", ".join(duck.quote(c) for c, _, _ in columns)
    order = ", ".join(duck.quote(c) for c in key)
    con.execute(f"INSERT INTO {dest} ({names}) SELECT {names} FROM {source} ORDER BY {order}")


def _insert_update(table: str, con: Any, dest: str) -> None:
    columns, key = _UPDATE_SCHEMA[table]
    names = ", ".join(duck.quote(c) for c, _, _ in columns)
    order = ", ".join(duck.quote(c) for c in key)
    con.execute(f"INSERT INTO {dest} ({names}) SELECT {names} FROM upd_{table} ORDER BY {order}")


# --------------------------------------------------------------------------------------------
# the target database, through its native driver


@dataclass(frozen=True)
class _State:
    bookings: int
    max_ids: dict[str, int]
    newest: datetime


class _Target(Target):
    pipeline = "travel_bookings"

    def state(self) -> _State:
        """Counts, id maxima and the newest timestamp, from the indexes (no full scans)."""
        entities = ("booking", "ticket", "passenger", "segment")
        parts = [f"(SELECT count(*) FROM {self.table('booking')})"]
        parts += [f"(SELECT max({t}_id) FROM {self.table(t)})" for t in entities]
        parts += [f"(SELECT max({_SCHEMA[t][2]}) FROM {self.table(t)})" for t in TABLES]
        try:
            row = self.query("SELECT " + ", ".join(parts))
        except Exception as exc:  # missing table or schema: say what to do
            raise SourceError(
                f"cannot read the travel_bookings tables at {duck.mask_url(self.url)} "
                f"({type(exc).__name__}: {exc}); run generate() first"
            ) from exc
        bookings = int(row[0])
        if bookings == 0:
            raise SourceError(
                f"the booking table at {duck.mask_url(self.url)} is empty; run generate() first"
            )
        max_ids = dict(zip(entities, (int(v or 0) for v in row[1:5]), strict=True))
        newest = max(_as_datetime(v) for v in row[5:] if v is not None)
        return _State(bookings, max_ids, newest)


def _insert_select_sql(target: _Target, table: str, staging: str) -> str:
    names = ", ".join(duck.quote(c) for c, _, _ in _SCHEMA[table][0])
    return f"INSERT INTO {target.table(table)} ({names}) SELECT {names} FROM {target.table(staging)}"


# --------------------------------------------------------------------------------------------
# small helpers


def _ceil_midnight(moment: datetime) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)


def _case(expr: str, mapping: dict[Any, Any], default: Any, *, literal: bool = True) -> str:
    """``CASE expr WHEN k THEN v ... END`` from constants (values pre-rendered if not literal)."""
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v) if literal else v}" for k, v in mapping.items())
    tail = "" if default is None else f" ELSE {_lit(default)}"
    return f"(CASE {expr} {whens}{tail} END)"


def _pick(uniform: str, choices: Sequence[tuple[str, float]]) -> str:
    """A weighted choice among constants, driven by a column holding a uniform draw."""
    total = float(sum(w for _, w in choices))
    acc = 0.0
    whens = []
    for value, weight in choices[:-1]:
        acc += weight
        whens.append(f"WHEN {uniform} < {acc / total!r} THEN {_lit(value)}")
    return f"(CASE {' '.join(whens)} ELSE {_lit(choices[-1][0])} END)"

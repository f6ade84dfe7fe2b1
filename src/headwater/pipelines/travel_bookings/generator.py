"""Synthetic source data for the ``travel_bookings`` pipeline (seed 000).

An online travel agency's application database: bookings, the tickets issued in them (one per
passenger), the passengers, the travel segments, and the two link tables. ``generate`` builds a
fresh 90-day history; ``advance`` plays one more period of business on top of it (new bookings,
status transitions, price changes), so incremental loads, snapshots and freshness have real
changes to work on.

How it is built, and why:

- The tables are declared once (``SOURCE``); the toolkit (:mod:`headwater.synthetic`) builds
  the portable DDL from it, creates, bulk-writes, indexes and stages them. This module holds
  the business rules only.
- Every row is computed set-based in an in-memory DuckDB; no Python loop touches the data.
- Randomness is ``hash(key, seed, stream, salt)`` mapped to [0, 1), never ``random()``: the same
  (seed, scale, as_of) gives the same data, whatever the thread count. Money is summed in integer
  cents so that parallel aggregation cannot change a rounded price.
- Ids follow creation time, with the occasional gap a real sequence has (rolled-back
  inserts); ticket and passenger ids therefore drift apart and a join on the wrong key shows.
- ``advance`` stages its rows in the target and applies them in one transaction (the toolkit's
  :meth:`~headwater.synthetic.target.Target.staged_changes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from headwater.synthetic import Run, SqlSourceGenerator, Target, declare, stream_of
from headwater.synthetic import case as _case
from headwater.synthetic import count as _count
from headwater.synthetic import pick as _pick
from headwater.synthetic import sql_list as _list
from headwater.synthetic import ts as _ts
from headwater.synthetic.sqltext import create_id_step, create_normal, create_uniform

BOOKINGS_PER_SCALE = 5_000
HISTORY_DAYS = 90
PURGE_AFTER = timedelta(days=60)
"""The agency purges a cancelled booking (and its tickets, passengers, segments and links)
this long after the cancellation: ``advance`` deletes those rows, as its cleanup job would."""

SOURCE = declare(
    """
    booking key(booking_id) cursor(updated_at)
        booking_id bigint, created_at timestamp, updated_at timestamp,
        user_selected_currency varchar(3), partner_id_offer varchar(16) null, status varchar(16)
    ticket key(ticket_id) cursor(updated_at)
        ticket_id bigint, booking_id bigint, booking_price numeric(12,2), booking_currency varchar(3),
        vendor_code varchar(16), created_at timestamp, updated_at timestamp
    segment key(segment_id) cursor(updated_at)
        segment_id bigint, booking_id bigint, carrier_name varchar(64), departure_at timestamp,
        arrival_at timestamp, travel_mode varchar(8), created_at timestamp, updated_at timestamp
    passenger key(passenger_id) cursor(updated_at)
        passenger_id bigint, booking_id bigint, type varchar(8), created_at timestamp,
        updated_at timestamp
    ticket_passenger key(ticket_id, passenger_id) cursor(created_at)
        ticket_id bigint, passenger_id bigint, created_at timestamp
    ticket_segment key(ticket_id, segment_id) cursor(created_at)
        ticket_id bigint, segment_id bigint, created_at timestamp
    """
)
TABLES: tuple[str, ...] = SOURCE.names

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
# the generator: declarations above, business rules below


@dataclass(frozen=True)
class _State:
    bookings: int
    max_ids: dict[str, int]
    newest: datetime


class TravelBookingsGenerator(SqlSourceGenerator):
    """``generate``: ``scale`` 1 is 5,000 bookings (about 10,250 tickets) spread over the 90
    days ending at ``as_of``. ``advance``: ``new_fraction`` x the existing bookings are created
    after the newest timestamp in the source (ids continue after the current maxima);
    ``update_fraction`` x the bookings that are not yet cancelled change: pending ones are
    confirmed, confirmed ones are cancelled or have their tickets repriced."""

    pipeline = "travel_bookings"
    source = SOURCE
    # advance changes a booking's status and a ticket's price
    updates = declare(
        """
        booking key(booking_id)
            booking_id bigint, status varchar(16), updated_at timestamp
        ticket key(ticket_id)
            ticket_id bigint, booking_price numeric(12,2), updated_at timestamp
        """
    )
    new_fraction = 0.05
    update_fraction = 0.05
    new_fraction_at_most = None
    deletes = ("booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment")

    def build(self, con: Any, run: Run) -> None:
        _create_macros(con, run.seed, run.as_of)
        _history_frame(con, max(1, round(BOOKINGS_PER_SCALE * run.scale)), run.as_of)
        _build_rows(con, run.as_of, ticket_base=0, passenger_base=0, segment_base=0)

    def read_state(self, target: Target) -> _State:
        entities = ("booking", "ticket", "passenger", "segment")
        extra = [f"(SELECT count(*) FROM {target.table('booking')})"]
        extra += [f"(SELECT max({t}_id) FROM {target.table(t)})" for t in entities]
        row, newest = target.newest_and(SOURCE, extra)
        if int(row[0]) == 0 or newest is None:
            raise target.empty_error("booking")
        return _State(int(row[0]), dict(zip(entities, (int(v or 0) for v in row[1:]), strict=True)), newest)

    def build_changes(self, con: Any, run: Run, state: _State) -> dict[str, int]:
        _create_macros(con, run.seed, run.as_of)
        _advance_frame(con, round(run.new_fraction * state.bookings), state, run.as_of)
        _build_rows(
            con,
            run.as_of,
            ticket_base=state.max_ids["ticket"],
            passenger_base=state.max_ids["passenger"],
            segment_base=state.max_ids["segment"],
        )
        _build_updates(con, run.target, round(run.update_fraction * state.bookings), state.newest, run.as_of)
        _build_purges(con, run.target, run.as_of)
        result = {f"new_{t}s": _count(con, f"out_{t}") for t in TABLES}
        result.update({f"purged_{t}s": _count(con, f"del_{t}") for t in TABLES})
        result["updated_bookings"] = _count(con, "upd_booking")
        result["updated_tickets"] = _count(con, "upd_ticket")
        for status in ("confirmed", "cancelled"):
            row = con.execute("SELECT count(*) FROM upd_booking WHERE status = ?", [status]).fetchone()
            result[f"{status}_bookings"] = int(row[0]) if row else 0
        return result


GENERATOR = TravelBookingsGenerator()
generate = GENERATOR.generate
advance = GENERATOR.advance


# --------------------------------------------------------------------------------------------
# DuckDB: the row builders


def _create_macros(con: Any, seed: int, as_of: datetime) -> None:
    # The stream (as_of) separates the draws of different as_of values, so a second
    # ``advance`` with the same seed does not repeat the first one's choices.
    create_uniform(con, "u2", seed, stream_of(as_of))
    create_normal(con, "z2", "u2")
    create_id_step(con, "id_step", "u2")


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


def _build_updates(con: Any, target: Target, n_wanted: int, newest: datetime, as_of: datetime) -> None:
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


def _build_purges(con: Any, target: Target, as_of: datetime) -> None:
    """``del_<table>``: bookings cancelled at least PURGE_AFTER ago, with every row they own."""
    src = {t: target.duck_table("src", t) for t in TABLES}
    cutoff = _ts(as_of - PURGE_AFTER)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE del_booking AS SELECT booking_id FROM {src['booking']} "
        f"WHERE status = 'cancelled' AND updated_at <= {cutoff}"
    )
    for table, key in (("ticket", "ticket_id"), ("segment", "segment_id"), ("passenger", "passenger_id")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE del_{table} AS SELECT {key} FROM {src[table]} "
            "WHERE booking_id IN (SELECT booking_id FROM del_booking)"
        )
    for link, other in (("ticket_passenger", "passenger_id"), ("ticket_segment", "segment_id")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE del_{link} AS SELECT ticket_id, {other} FROM {src[link]} "
            "WHERE ticket_id IN (SELECT ticket_id FROM del_ticket)"
        )


# --------------------------------------------------------------------------------------------
# small helpers


def _ceil_midnight(moment: datetime) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)

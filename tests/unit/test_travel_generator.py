"""travel_bookings' synthetic source in detail: the rules of bookings, tickets, passengers and
segments (as SQL over the generated file), realistic values, and what one advance changes.

``CASE`` hands these rules to the shared checks in test_generators.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from decimal import Decimal

import pytest

from headwater.pipelines.travel_bookings import generator
from tests.unit import generator_support as gs

CURRENCIES = {"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK"}


def zero_checks(as_of: dt.datetime, generated_as_of: dt.datetime) -> dict[str, list[str]]:
    as_of_s = gs.ts(as_of)
    start_s = gs.ts(generated_as_of - dt.timedelta(days=90))
    return {
        "updated_at < created_at": [
            f"SELECT count(*) FROM {t} WHERE updated_at < created_at"
            for t in ("booking", "ticket", "segment", "passenger")
        ],
        "timestamp after as_of": [
            f"SELECT count(*) FROM {t} WHERE {c} > '{as_of_s}'"
            for t in generator.TABLES
            for c in ("created_at", "updated_at")
            if c == "created_at" or generator.SOURCE[t].cursor == "updated_at"
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


def per_booking_checks(con: sqlite3.Connection) -> None:
    per_booking = con.execute(
        "SELECT coalesce(p.n, 0), coalesce(s.n, 0), coalesce(t.n, 0) FROM booking "
        "LEFT JOIN (SELECT booking_id, count(*) AS n FROM passenger GROUP BY 1) AS p USING (booking_id) "
        "LEFT JOIN (SELECT booking_id, count(*) AS n FROM segment GROUP BY 1) AS s USING (booking_id) "
        "LEFT JOIN (SELECT booking_id, count(*) AS n FROM ticket GROUP BY 1) AS t USING (booking_id)"
    ).fetchall()
    assert all(1 <= p <= 4 and 1 <= s <= 3 and t == p for p, s, t in per_booking)
    assert gs.scalar(con, "SELECT count(*) FROM ticket_segment") == sum(p * s for p, s, _ in per_booking)
    assert gs.scalar(con, "SELECT count(*) FROM ticket_passenger") == sum(p for p, _, _ in per_booking)


CASE = gs.Case(
    module=generator,
    zero_checks=zero_checks,
    extra_checks=per_booking_checks,
    # 2,500 bookings shared by the read-only tests; 100 where a test writes several sources
    scale=0.5,
    small_scale=0.02,
    advance_by=dt.timedelta(days=1),
    corruptions=[
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


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The shared scale-0.5 source (2,500 bookings)."""
    return gs.generate_shared(CASE, tmp_path_factory)


def test_counts_follow_the_scale_and_match_the_returned_counts(generated):
    path, counts = generated
    with sqlite3.connect(path) as con:
        actual = {t: gs.scalar(con, f"SELECT count(*) FROM {t}") for t in generator.TABLES}
        n_multi = gs.scalar(
            con, "SELECT count(*) FROM (SELECT booking_id FROM passenger GROUP BY 1 HAVING count(*) > 1)"
        )
    assert actual == counts
    assert counts["booking"] == 2_500
    assert counts["ticket"] == counts["passenger"] == counts["ticket_passenger"]
    # 1-4 passengers weighted 35/35/20/10 (mean 2.05), 1-3 segments per booking
    assert 1.9 < counts["ticket"] / counts["booking"] < 2.2
    assert 1.3 < counts["segment"] / counts["booking"] < 1.9
    assert 0.55 < n_multi / counts["booking"] < 0.75


def test_values_are_realistic(generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        status = dict(con.execute("SELECT status, count(*) FROM booking GROUP BY 1").fetchall())
        assert set(status) == {"pending", "confirmed", "cancelled"}
        assert status["confirmed"] > 0.7 * sum(status.values())
        types = dict(con.execute("SELECT type, count(*) FROM passenger GROUP BY 1").fetchall())
        assert types["adult"] > types["child"] > types["infant"] > 0
        assert 0.5 < gs.scalar(con, "SELECT avg(partner_id_offer IS NULL) FROM booking") < 0.7
        assert gs.scalar(con, "SELECT max(length(partner_id_offer)) FROM booking") <= 16
        same_currency = gs.scalar(
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
        assert gs.scalar(con, "SELECT max(length(carrier_name)) FROM segment") <= 64
        assert gs.scalar(con, "SELECT max(length(vendor_code)) FROM ticket") <= 16


def test_daily_volume_has_a_weekly_pattern_but_no_spike(generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        daily = dict(con.execute("SELECT date(created_at), count(*) FROM booking GROUP BY 1").fetchall())
    days = sorted(dt.date.fromisoformat(d) for d in daily)
    assert len(days) == 90 and days[-1] == gs.AS_OF.date()
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


def test_advance_adds_new_bookings_and_updates_others(generated, tmp_path):
    path = gs.copy_of(generated[0], tmp_path, "adv.sqlite")
    with sqlite3.connect(path) as con:
        before = {t: gs.table_rows(con, generator.SOURCE, t) for t in generator.TABLES}
        newest_before = gs.newest(con, generator.SOURCE)
        max_ids = {
            t: gs.scalar(con, f"SELECT max({t}_id) FROM {t}")
            for t in ("booking", "ticket", "passenger", "segment")
        }
    as_of = gs.AS_OF + dt.timedelta(days=1)
    result = generator.advance(gs.sqlite_url(path), seed=7, as_of=as_of)
    CASE.check_invariants(path, as_of)

    with sqlite3.connect(path) as con:
        assert gs.user_tables(con) == set(generator.TABLES)  # staging tables are gone
        after = {t: gs.table_rows(con, generator.SOURCE, t) for t in generator.TABLES}
        old_bookings = {r[0]: r for r in before["booking"]}
        new_bookings = [r for r in after["booking"] if r[0] not in old_bookings]
        assert len(new_bookings) == result["new_bookings"] == round(0.05 * 2_500)
        assert all(r[0] > max_ids["booking"] for r in new_bookings)
        assert all(newest_before < r[1] <= gs.ts(as_of) for r in new_bookings)
        for t in ("ticket", "passenger", "segment"):
            fresh = gs.scalar(con, f"SELECT count(*) FROM {t} WHERE {t}_id > ?", (max_ids[t],))
            assert fresh == result[f"new_{t}s"] > 0
            assert (
                gs.scalar(
                    con,
                    f"SELECT count(*) FROM {t} WHERE {t}_id > ? AND booking_id <= ?",
                    (max_ids[t], max_ids["booking"]),
                )
                == 0
            )
        for t in generator.TABLES:
            assert len(after[t]) - len(before[t]) == result[f"new_{t}s"] - result[f"purged_{t}s"], t

        # purged: bookings cancelled at least PURGE_AFTER before as_of, with every row they own
        cutoff = gs.ts(as_of - generator.PURGE_AFTER)
        purged = {r[0] for r in before["booking"] if r[5] == "cancelled" and r[2] <= cutoff}
        assert purged and len(purged) == result["purged_bookings"]
        assert not purged & {r[0] for r in after["booking"]}
        purged_tickets = {r[0] for r in before["ticket"] if r[1] in purged}
        assert not purged_tickets & {r[0] for r in after["ticket"]}
        for t in ("passenger", "segment"):
            assert not purged & {r[1] for r in after[t]}, t
        for t in ("ticket_passenger", "ticket_segment"):
            assert not purged_tickets & {r[0] for r in after[t]}, t

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
            assert old[2] < new[2] <= gs.ts(as_of) and new[2] > newest_before

        old_tickets = {r[0]: r for r in before["ticket"]}
        repriced = [
            (old_tickets[r[0]], r) for r in after["ticket"] if r[0] in old_tickets and r != old_tickets[r[0]]
        ]
        assert len(repriced) == result["updated_tickets"] > 0
        for old, new in repriced:
            assert new[2] != old[2] and Decimal(new[2]) > 0  # the price changed
            assert old[:2] == new[:2] and old[3:6] == new[3:6]
            assert old[6] < new[6] <= gs.ts(as_of) and new[6] > newest_before
            assert new[1] in changed and changed[new[1]][1][2] == new[6]
        # nothing else changed (beyond the purge)
        owner = {"segment": 1, "passenger": 1}
        for t in ("segment", "passenger", "ticket_passenger", "ticket_segment"):
            kept = [
                r
                for r in before[t]
                if (r[owner[t]] not in purged if t in owner else r[0] not in purged_tickets)
            ]
            assert set(kept) <= set(after[t]), t

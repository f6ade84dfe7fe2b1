"""An airline's synthetic operational database, checked in detail: the timetable, seat and
boarding rules as SQL over the generated file, realistic loads and delays, and how advance
moves the world forward (test_generators.py runs the shared checks with ``CASE``).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter

import pytest

from headwater.pipelines.flights import generator
from tests.unit import generator_support as gs

STATUSES = ("scheduled", "on_time", "delayed", "departed", "arrived", "cancelled")
RANK = {s: i for i, s in enumerate(STATUSES)}


def zero_checks(as_of: dt.datetime, generated_as_of: dt.datetime) -> dict[str, list[str]]:
    a = gs.ts(as_of)
    start = gs.ts(generated_as_of.replace(hour=0, minute=0, second=0) - dt.timedelta(days=30))
    horizon = gs.ts(as_of + dt.timedelta(days=14))
    return {
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


def no_show_checks(con: sqlite3.Connection) -> None:
    boarded, sold = con.execute(
        "SELECT (SELECT count(*) FROM boarding_passes), (SELECT count(*) FROM ticket_flights tf "
        "JOIN flights f USING (flight_id) WHERE f.status IN ('departed', 'arrived'))"
    ).fetchone()
    # no-shows: a few percent of the coupons of departed flights
    assert 0.9 * sold <= boarded <= sold


CASE = gs.Case(
    module=generator,
    scale=0.3,
    small_scale=0.1,
    zero_checks=zero_checks,
    corruptions=[
        ("UPDATE flights SET actual_arrival = actual_departure WHERE status = 'arrived' AND flight_id = "
         "(SELECT min(flight_id) FROM flights WHERE status = 'arrived')", "arrival not after departure"),
        ("UPDATE flights SET status = 'arrived' WHERE flight_id = (SELECT min(flight_id) FROM flights "
         "WHERE status = 'scheduled')", "actual times do not match"),
        ("UPDATE boarding_passes SET seat_no = '1A' WHERE rowid = 1", "seat"),
        ("DELETE FROM tickets WHERE rowid = 1", "dangling reference"),
        ("UPDATE bookings SET total_amount = total_amount + 1 WHERE rowid = 3", "booking total"),
        ("UPDATE tickets SET contact_data = '{\"phone\": \"+49 1\"}' WHERE rowid = 2", "contact data"),
    ],
    advance_by=dt.timedelta(hours=30),
    # the fleet, airports and timetable are the airline's; everything that happens differs
    seed_independent=frozenset({"aircrafts", "airports", "seats"}),
    max_scale=490,
    extra_checks=no_show_checks,
)  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The shared scale-0.3 source (three route pairs)."""
    return gs.generate_shared(CASE, tmp_path_factory)


def test_spec_loads_parents_before_children():
    from headwater.spec import load_spec

    # (tables, keys and cursors against the declaration: test_generator_contract.py)
    spec = load_spec("flights")
    deps = {t.name: set(t.depends_on) for t in spec.tables}
    assert deps["boarding_passes"] == {"ticket_flights"}
    assert deps["ticket_flights"] == {"tickets", "flights"}
    assert deps["tickets"] == {"bookings"} and deps["seats"] == {"aircrafts"}
    assert deps["flights"] == {"airports", "aircrafts"}


def test_counts_match_the_returned_counts_and_follow_the_scale(generated, tmp_path):
    path, counts = generated
    with sqlite3.connect(path) as con:
        actual = {t: gs.scalar(con, f"SELECT count(*) FROM {t}") for t in generator.TABLES}
        pairs = gs.scalar(
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
    small = generator.generate(gs.sqlite_url(tmp_path / "small.sqlite"), scale=0.1, seed=7, as_of=gs.AS_OF)
    assert small["flights"] < counts["flights"] / 2 and small["bookings"] < 0.7 * counts["bookings"]


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
        late = gs.scalar(
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
        changed = gs.scalar(con, "SELECT avg(updated_at > created_at) FROM tickets")
        assert 0.01 < changed < 0.08
        # seat maps: every class of an A320 and only its own letters
        cabins = dict(
            con.execute(
                "SELECT fare_conditions, count(*) FROM seats WHERE aircraft_code = '320' GROUP BY 1"
            ).fetchall()
        )
        assert cabins == {"Business": 16, "Comfort": 18, "Economy": 144}
        assert gs.scalar(con, "SELECT count(*) FROM seats WHERE seat_no LIKE '13_'") == 0


def test_advance_moves_flights_adds_bookings_and_boarding_passes(generated, tmp_path):
    path = gs.copy_of(generated[0], tmp_path, "adv.sqlite")
    with sqlite3.connect(path) as con:
        before = {t: gs.table_rows(con, generator.SOURCE, t) for t in generator.TABLES}
        newest_before = gs.newest(con, generator.SOURCE)
        max_flight = gs.scalar(con, "SELECT max(flight_id) FROM flights")
        max_ticket = gs.scalar(con, "SELECT max(ticket_no) FROM tickets")
    as_of = gs.AS_OF + dt.timedelta(hours=30)
    result = generator.advance(gs.sqlite_url(path), seed=7, as_of=as_of, update_fraction=0.02)
    CASE.check_invariants(path, as_of)

    with sqlite3.connect(path) as con:
        assert gs.user_tables(con) == set(generator.TABLES)  # staging tables are gone
        after = {t: gs.table_rows(con, generator.SOURCE, t) for t in generator.TABLES}
    for t in ("aircrafts", "airports", "seats"):
        assert after[t] == before[t]

    # every new or changed row is stamped after the old newest timestamp, at most as_of
    for t in generator.TABLES:
        fresh = set(after[t]) - set(before[t])
        assert all(newest_before < r[-1] <= gs.ts(as_of) for r in fresh), t

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
    """Flights reached by advance look exactly as if generated at the later moment, but for
    the unsold flights the advances withdrew from the schedule (a decision of the moment)."""
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    later = gs.AS_OF + dt.timedelta(days=2, hours=5)
    generator.generate(gs.sqlite_url(a), scale=0.2, seed=9, as_of=gs.AS_OF)
    first = generator.advance(gs.sqlite_url(a), seed=9, as_of=gs.AS_OF + dt.timedelta(hours=20))
    second = generator.advance(gs.sqlite_url(a), seed=9, as_of=later)
    withdrawn = first["withdrawn_flights"] + second["withdrawn_flights"]
    generator.generate(gs.sqlite_url(b), scale=0.2, seed=9, as_of=later)
    query = (
        "SELECT flight_no, scheduled_departure, status, actual_departure, actual_arrival, created_at, "
        "updated_at FROM flights WHERE scheduled_departure >= ? ORDER BY 1, 2"
    )
    since = gs.ts(later.replace(hour=0, minute=0, second=0) - dt.timedelta(days=30))
    with sqlite3.connect(a) as ca, sqlite3.connect(b) as cb:
        advanced, regenerated = ca.execute(query, (since,)).fetchall(), cb.execute(query, (since,)).fetchall()
    assert len(advanced) > 100 and set(advanced) <= set(regenerated)
    assert withdrawn > 0 and len(regenerated) - len(advanced) == withdrawn
    CASE.check_invariants(a, later)


def test_advance_with_no_new_demand_still_moves_the_flights(generated, tmp_path):
    path = gs.copy_of(generated[0], tmp_path, "quiet.sqlite")
    result = generator.advance(
        gs.sqlite_url(path),
        seed=7,
        as_of=gs.AS_OF + dt.timedelta(hours=12),
        new_fraction=0,
        update_fraction=0,
    )
    assert result["new_bookings"] == result["updated_tickets"] == 0
    assert result["updated_flights"] > 0 and result["new_boarding_passes"] > 0
    CASE.check_invariants(path, gs.AS_OF + dt.timedelta(hours=12))

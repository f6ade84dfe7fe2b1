"""Synthetic source data for the ``flights`` pipeline (seed 003).

A small European airline's operational database: the fleet (``aircrafts`` with their seat maps
in ``seats``), the ``airports`` it serves, the published timetable (``flights``), what was sold
(``bookings``, ``tickets`` with the passenger's contact data as JSON text, ``ticket_flights``)
and who boarded where (``boarding_passes``). Every table carries ``created_at``/``updated_at``
(naive UTC); ``updated_at`` is the cursor of every table, reference tables included.

The data is a time-consistent world, and the source is that world as seen at ``as_of``:

- A timetable of services (flight numbers) flies route pairs on fixed weekdays; a flight is
  *published* (inserted, bookable) 14 days before departure. Its fate is fixed when it is
  published: load-factor target, departure delay (by route, weekday, time of day and the
  weather of the day at either airport), block-time deviation, or a cancellation announced
  2-48 hours ahead. Its status follows from the clock: scheduled -> on_time (24 h before) ->
  delayed (2 h before, when the delay is 15 minutes or more) -> departed -> arrived, or
  cancelled; ``updated_at`` is the moment of the latest transition and ``actual_*`` times are
  set only once they have happened.
- Demand is generated per flight and fare class (group size, lead time, one-way or return on
  the partner service 1-9 days later). A booking is accepted only when every leg still has a
  seat in its fare class, so sold seats never exceed the seat map.
- Boarding passes exist only for flights that have departed (written at the actual departure),
  for every ticket holder but the no-shows, with seats drawn from the right cabin of the
  flight's aircraft, unique per flight.

``generate`` writes the world at ``as_of`` (30 days of history, plus the flights already
published); ``advance`` plays it forward to a later ``as_of``: new flights are published, flights
move through their statuses (with boarding passes for the ones that departed), new bookings
arrive and some passengers change their contact data. Since the world depends only on the seed
and the timetable (never on ``as_of``), ``generate`` + ``advance`` tell one consistent story as
long as both use the same seed.

How it is built: on the toolkit (:mod:`headwater.synthetic`), which owns the DDL (from the one
declaration, ``SOURCE``), the bulk writes, the indexes and the atomic advance; this module holds
the airline's rules. Rows are computed set-based in an in-memory DuckDB, no Python loop touches
the data. Randomness is ``hash(key, seed, salt)`` mapped to [0, 1): the same arguments give the
same data whatever the thread count. Money is whole euros in integers, so sums are exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from headwater import duck
from headwater.synthetic import Run, SqlSourceGenerator, Target, declare, stream_of
from headwater.synthetic import as_datetime as _as_datetime
from headwater.synthetic import case as _case
from headwater.synthetic import count as _count
from headwater.synthetic import lit as _lit
from headwater.synthetic import sql_list as _list
from headwater.synthetic import ts as _ts
from headwater.synthetic.sqltext import create_normal, create_uniform

# In dependency order: parents before children. Every table's cursor is updated_at; the extra
# indexes serve the joins advance and the dbt models make.
SOURCE = declare(
    """
    aircrafts key(aircraft_code) cursor(updated_at)
        aircraft_code varchar(3), model varchar(64), range_km integer, created_at timestamp,
        updated_at timestamp
    airports key(airport_code) cursor(updated_at)
        airport_code varchar(3), airport_name varchar(64), city varchar(64), country varchar(64),
        latitude double precision, longitude double precision, timezone varchar(64),
        created_at timestamp, updated_at timestamp
    seats key(aircraft_code, seat_no) cursor(updated_at)
        aircraft_code varchar(3), seat_no varchar(4), fare_conditions varchar(10), created_at timestamp,
        updated_at timestamp
    flights key(flight_id) cursor(updated_at)
        flight_id bigint, flight_no varchar(6), scheduled_departure timestamp,
        scheduled_arrival timestamp, departure_airport varchar(3), arrival_airport varchar(3),
        status varchar(10), aircraft_code varchar(3), actual_departure timestamp null,
        actual_arrival timestamp null, created_at timestamp, updated_at timestamp
    bookings key(book_ref) cursor(updated_at)
        book_ref varchar(6), book_date timestamp, total_amount numeric(12,2), created_at timestamp,
        updated_at timestamp
    tickets key(ticket_no) cursor(updated_at) index(book_ref)
        ticket_no varchar(13), book_ref varchar(6), passenger_id varchar(20), contact_data text,
        created_at timestamp, updated_at timestamp
    ticket_flights key(ticket_no, flight_id) cursor(updated_at) index(flight_id)
        ticket_no varchar(13), flight_id bigint, fare_conditions varchar(10), amount numeric(10,2),
        created_at timestamp, updated_at timestamp
    boarding_passes key(ticket_no, flight_id) cursor(updated_at)
        ticket_no varchar(13), flight_id bigint, boarding_no integer, seat_no varchar(4),
        created_at timestamp, updated_at timestamp
    """
)
TABLES: tuple[str, ...] = SOURCE.names
CURSOR = "updated_at"

HISTORY_DAYS = 30
"""Flights depart from midnight (UTC) this many days before as_of onwards."""
PUBLISH_DAYS = 14
"""A flight is published (and bookable) this many days before its scheduled departure."""
WITHDRAW_UNSOLD_BEFORE = timedelta(days=7)
"""``advance`` deletes a scheduled flight with no seat sold when it departs later than this
after ``as_of`` (the airline's schedule review): the source really deletes flights."""
PAIRS_PER_SCALE = 10
"""Route pairs (two flight numbers each) flown at scale 1: about 430 flights in the 44 days."""
_MAX_PAIRS = 4_900  # flight numbers HW0100-HW9899
AIRLINE = "HW"

# --- business constants (every literal that ends up in SQL comes from here) -----------------

# code, name, city, country, latitude, longitude, IANA time zone, relative weather risk
_AIRPORTS: tuple[tuple[str, str, str, str, float, float, str, float], ...] = (
    ("FRA", "Frankfurt Airport", "Frankfurt", "Germany", 50.0333, 8.5706, "Europe/Berlin", 1.0),
    ("MUC", "Munich Airport", "Munich", "Germany", 48.3538, 11.7861, "Europe/Berlin", 1.1),
    ("BER", "Berlin Brandenburg Airport", "Berlin", "Germany", 52.3667, 13.5033, "Europe/Berlin", 1.0),
    ("HAM", "Hamburg Airport", "Hamburg", "Germany", 53.6304, 9.9882, "Europe/Berlin", 1.2),
    ("LHR", "London Heathrow Airport", "London", "United Kingdom", 51.47, -0.4543, "Europe/London", 1.3),
    ("CDG", "Paris Charles de Gaulle Airport", "Paris", "France", 49.0097, 2.5479, "Europe/Paris", 1.1),
    ("AMS", "Amsterdam Airport Schiphol", "Amsterdam", "Netherlands", 52.3105, 4.7683, "Europe/Amsterdam",
     1.3),
    ("VIE", "Vienna International Airport", "Vienna", "Austria", 48.1103, 16.5697, "Europe/Vienna", 0.9),
    ("ZRH", "Zurich Airport", "Zurich", "Switzerland", 47.4582, 8.5555, "Europe/Zurich", 1.0),
    ("LIS", "Humberto Delgado Airport", "Lisbon", "Portugal", 38.7742, -9.1342, "Europe/Lisbon", 0.7),
    ("MAD", "Adolfo Suárez Madrid-Barajas Airport", "Madrid", "Spain", 40.4983, -3.5676, "Europe/Madrid",
     0.6),
    ("FCO", "Leonardo da Vinci-Fiumicino Airport", "Rome", "Italy", 41.8003, 12.2389, "Europe/Rome", 0.7),
    ("HEL", "Helsinki Airport", "Helsinki", "Finland", 60.3172, 24.9633, "Europe/Helsinki", 1.4),
    ("ATH", "Athens International Airport", "Athens", "Greece", 37.9364, 23.9445, "Europe/Athens", 0.5),
    ("IST", "Istanbul Airport", "Istanbul", "Turkey", 41.2753, 28.7519, "Europe/Istanbul", 0.8),
    ("JFK", "John F. Kennedy International Airport", "New York", "United States", 40.6413, -73.7781,
     "America/New_York", 1.2),
    ("DXB", "Dubai International Airport", "Dubai", "United Arab Emirates", 25.2532, 55.3657, "Asia/Dubai",
     0.3),
)  # fmt: skip

FARE_CLASSES: tuple[str, ...] = ("Business", "Comfort", "Economy")  # class_idx 1, 2, 3

# code -> (model, range in km, cabins front to back as (fare conditions, rows, seat letters)).
# Rows are numbered through the cabins; row 13 is skipped, as on many airlines.
_AIRCRAFT: dict[str, tuple[str, int, tuple[tuple[str, int, str], ...]]] = {
    "AT7": ("ATR 72-600", 1_500, (("Economy", 18, "ACDF"),)),
    "CR9": ("Bombardier CRJ-900", 2_900, (("Business", 3, "ACD"), ("Economy", 17, "ACDF"))),
    "E90": ("Embraer E190", 4_500, (("Business", 2, "ACDF"), ("Economy", 23, "ACDF"))),
    "319": ("Airbus A319neo", 6_900, (("Business", 4, "ACDF"), ("Economy", 20, "ABCDEF"))),
    "320": ("Airbus A320neo", 6_300,
            (("Business", 4, "ACDF"), ("Comfort", 3, "ABCDEF"), ("Economy", 24, "ABCDEF"))),
    "321": ("Airbus A321neo", 7_400,
            (("Business", 5, "ACDF"), ("Comfort", 4, "ABCDEF"), ("Economy", 27, "ABCDEF"))),
    "738": ("Boeing 737-800", 5_400, (("Business", 3, "ACDF"), ("Economy", 28, "ABCDEF"))),
    "359": ("Airbus A350-900", 15_000,
            (("Business", 8, "ADGK"), ("Comfort", 3, "ACDEFGHK"), ("Economy", 28, "ABCDEFGHK"))),
}  # fmt: skip

# Route pairs, in the order scale adds them: origin, destination, aircraft, flights per week
# in each direction, outbound departure (minutes after midnight UTC), base load factor, base
# probability of a delay of 15 minutes or more. The first PAIRS_PER_SCALE make scale 1; above
# the list, pairs repeat as further daily rotations at other times of day.
_PAIRS: tuple[tuple[str, str, str, int, int, float, float], ...] = (
    ("FRA", "LHR", "320", 7, 6 * 60 + 40, 0.86, 0.30),
    ("FRA", "CDG", "E90", 5, 7 * 60 + 15, 0.78, 0.24),
    ("FRA", "BER", "CR9", 5, 16 * 60 + 5, 0.82, 0.18),
    ("FRA", "MAD", "321", 3, 9 * 60 + 30, 0.80, 0.16),
    ("FRA", "ATH", "738", 3, 10 * 60 + 20, 0.88, 0.20),
    ("FRA", "VIE", "319", 3, 12 * 60 + 45, 0.70, 0.12),
    ("MUC", "LIS", "320", 2, 8 * 60 + 10, 0.74, 0.14),
    ("FRA", "HEL", "319", 2, 13 * 60 + 50, 0.62, 0.10),
    ("MUC", "FCO", "E90", 2, 14 * 60 + 30, 0.76, 0.22),
    ("FRA", "IST", "738", 2, 11 * 60 + 5, 0.84, 0.26),
    ("FRA", "JFK", "359", 5, 10 * 60 + 55, 0.83, 0.22),
    ("FRA", "DXB", "359", 4, 20 * 60 + 40, 0.80, 0.15),
    ("FRA", "AMS", "AT7", 7, 7 * 60 + 55, 0.72, 0.28),
    ("FRA", "ZRH", "AT7", 6, 17 * 60 + 20, 0.66, 0.15),
    ("FRA", "HAM", "CR9", 6, 6 * 60 + 25, 0.79, 0.17),
    ("MUC", "LHR", "320", 5, 15 * 60 + 40, 0.81, 0.30),
    ("BER", "LIS", "321", 3, 9 * 60 + 5, 0.77, 0.18),
    ("MUC", "ATH", "738", 3, 5 * 60 + 50, 0.85, 0.20),
    ("HAM", "VIE", "E90", 3, 18 * 60 + 35, 0.64, 0.14),
    ("AMS", "MAD", "738", 4, 12 * 60 + 10, 0.79, 0.24),
)
# Weekdays flown for a weekly frequency, as bits Monday=1 ... Sunday=64 (rotated per pair).
_WEEK_PATTERN = {7: 127, 6: 95, 5: 31, 4: 85, 3: 21, 2: 9, 1: 1}
# Delays and loads by ISO weekday (Mon=1): Fridays and Sundays are busy and late.
_DOW_DELAY = {1: 1.1, 2: 0.85, 3: 0.85, 4: 1.0, 5: 1.3, 6: 0.8, 7: 1.2}
_DOW_LOAD = {1: 1.05, 2: 0.90, 3: 0.92, 4: 1.0, 5: 1.10, 6: 0.88, 7: 1.08}
_STORM_RATE = 0.05  # chance of a bad-weather day at an airport of weather risk 1
_CANCEL_RATE = 0.012
_RETURN_SHARE = 0.55  # bookings that want a return flight
# Demand above the load-factor target: some requests find their class full (on either leg),
# so the flights still fill up to about their target.
_DEMAND_FACTOR = 1.15
_FREQUENT_SHARE = 0.18  # first passengers of a booking who fly with the airline repeatedly
_NO_SHOW_RATE = 0.035
_CONTACT_CHANGE_RATE = 0.04  # tickets whose contact data changed after the booking (generate)

_FIRST_NAMES = (
    "Anna", "Lukas", "Sophie", "Jonas", "Emma", "Noah", "Mia", "Leon", "Clara", "Felix", "Olivia",
    "James", "Amelia", "Oliver", "Chloe", "Lucas", "Camille", "Hugo", "Lea", "Louis", "Sofia",
    "Mateo", "Lucia", "Pablo", "Giulia", "Marco", "Chiara", "Luca", "Eleni", "Nikos", "Maria",
    "Joao", "Ines", "Tiago", "Aino", "Eero", "Elif", "Emre", "Zeynep", "Ahmed", "Fatima", "Daniel",
    "Sarah", "Michael", "Laura", "David", "Julia", "Thomas", "Hannah", "Peter",
)  # fmt: skip
_LAST_NAMES = (
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Smith",
    "Jones", "Taylor", "Brown", "Williams", "Martin", "Bernard", "Dubois", "Garcia", "Fernandez",
    "Lopez", "Martinez", "Rossi", "Russo", "Ferrari", "Bianchi", "Papadopoulos", "Georgiou",
    "Silva", "Santos", "Ferreira", "Virtanen", "Korhonen", "Yilmaz", "Kaya", "Demir", "Gruber",
    "Huber", "Bauer", "Hofmann", "Jansen", "de Vries", "Bakker", "Visser", "Novak", "Kowalski",
    "Nielsen", "Hansen", "Johnson", "Miller", "Davis", "Wilson",
)  # fmt: skip
_EMAIL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.com", "web.de", "gmx.de", "icloud.com", "proton.me",
    "hotmail.co.uk", "orange.fr", "libero.it",
)  # fmt: skip
# Mobile numbers: country code and leading digits, then this many random digits.
_PHONES = (
    ("+49 15", 9), ("+49 17", 9), ("+44 7", 9), ("+33 6", 8), ("+34 6", 8), ("+39 3", 9),
    ("+30 69", 8), ("+43 66", 8), ("+351 9", 8), ("+358 40", 7), ("+90 5", 9), ("+1 917", 7),
    ("+31 6", 8), ("+41 7", 8),
)  # fmt: skip

# Status order for advance: a flight only moves forward.
_STATUS_RANK = {"scheduled": 0, "on_time": 1, "delayed": 2, "departed": 3, "arrived": 4, "cancelled": 5}
_TICKET_OFFSET = 2_100_000_000  # ticket_no = '477' + 10 digits
_PERSON_OFFSET = 100_000_000  # person numbers of one-off travellers start here


# --------------------------------------------------------------------------------------------
# the generator: declarations above, business rules below


@dataclass(frozen=True)
class _State:
    bookings: int
    tickets: int
    max_flight_id: int
    max_ticket_seq: int
    newest: datetime


class FlightsGenerator(SqlSourceGenerator):
    """``generate``: ``scale`` 1 flies 10 route pairs: about 430 flights (30 days of history
    ending at ``as_of`` plus the next 14 days' published flights) and some 16,000 bookings; the
    number of routes grows with the scale.

    ``advance``: everything that happens after the newest timestamp in the source and up to
    ``as_of`` is applied: flights published in that period are inserted; flights move through
    their statuses (actual times and ``updated_at`` set at the moment of each transition), and
    the ones that departed get their boarding passes; bookings made in the period are added
    while seats remain. ``new_fraction`` (0-1) is the share of the period's demand that books;
    ``update_fraction`` (0-1) of the existing tickets get changed passenger contact data. Use
    the seed the source was generated with: it fixes every flight's delay and fate.
    """

    pipeline = "flights"
    source = SOURCE
    # advance moves a flight through its statuses and changes a passenger's contact data
    updates = declare(
        """
        flights key(flight_id)
            flight_id bigint, status varchar(10), actual_departure timestamp null,
            actual_arrival timestamp null, updated_at timestamp
        tickets key(ticket_no)
            ticket_no varchar(13), contact_data text, updated_at timestamp
        """
    )
    inserts = ("flights", "bookings", "tickets", "ticket_flights", "boarding_passes")
    deletes = ("flights",)
    new_fraction = 1.0
    update_fraction = 0.01
    max_scale = _MAX_PAIRS / PAIRS_PER_SCALE

    def build(self, con: Any, run: Run) -> None:
        seed, as_of = run.seed, run.as_of
        n_pairs = max(1, round(PAIRS_PER_SCALE * run.scale))
        start = as_of.replace(hour=0, minute=0, second=0) - timedelta(days=HISTORY_DAYS)
        reference_at = start - timedelta(days=400)
        _create_macros(con, seed, as_of)
        _reference_tables(con, reference_at)
        con.execute(f"CREATE OR REPLACE TEMP TABLE pids AS SELECT range AS p FROM range({n_pairs})")
        _services(con)
        last_day = as_of.date() + timedelta(days=PUBLISH_DAYS + 1)
        _world_flights(con, start.date(), (last_day - start.date()).days + 1)
        # Flights of the history window and those already published: ids in timetable order.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fl AS
            SELECT row_number() OVER (ORDER BY sched_dep, flight_no)::BIGINT AS flight_id,
                NULL::VARCHAR AS old_status, *
            FROM wf
            WHERE published_at <= {_ts(as_of)} AND sched_dep >= {_ts(start)}
            """
        )
        _flight_status(con, as_of)
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE cap AS
            SELECT fl.flight_id, sc.class_idx, sc.seats AS remaining
            FROM fl JOIN seat_counts AS sc USING (aircraft_code)
            """
        )
        _bookings(con, lo=None, hi=as_of, new_fraction=1.0, book_base=0, ticket_base=0)
        _generated_contact_changes(con, as_of)
        _out_flights(con, updated_at="changed_at", where="true")
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE boarding_tickets AS
            SELECT tf.ticket_no, tf.flight_id, tf.class_idx
            FROM new_ticket_legs AS tf
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE departed AS
            SELECT flight_id, aircraft_code, actual_dep AS boarded_at
            FROM fl WHERE status IN ('departed', 'arrived')
            """
        )
        _boarding_passes(con)

    def read_state(self, target: Target) -> _State:
        row, newest = target.newest_and(
            SOURCE,
            [
                f"(SELECT count(*) FROM {target.table('bookings')})",
                f"(SELECT count(*) FROM {target.table('tickets')})",
                f"(SELECT max(flight_id) FROM {target.table('flights')})",
                f"(SELECT max(ticket_no) FROM {target.table('tickets')})",
            ],
        )
        if not row[2] or newest is None:
            raise target.empty_error("flights")
        max_ticket_seq = int(str(row[3])[3:]) - _TICKET_OFFSET if row[3] else 0
        return _State(int(row[0]), int(row[1]), int(row[2]), max_ticket_seq, newest)

    def build_changes(self, con: Any, run: Run, state: _State) -> dict[str, int]:
        seed, as_of, target = run.seed, run.as_of, run.target
        new_fraction, update_fraction = run.new_fraction, run.update_fraction
        floor_ts = state.newest + timedelta(seconds=1)  # the earliest moment a change can carry
        _create_macros(con, seed, as_of)
        _reference_tables(con, state.newest)  # (reference rows are not written by advance)
        src_flights = target.duck_table("src", "flights")
        src_ticket_flights = target.duck_table("src", "ticket_flights")
        newest = _ts(state.newest)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE pids AS
            SELECT DISTINCT (CAST(substr(flight_no, {len(AIRLINE) + 1}) AS INTEGER) - 100) // 2 AS p
            FROM {src_flights}
            """
        )
        _services(con)
        # Flights that can still change status or take bookings.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE ex AS
            SELECT flight_id, flight_no, scheduled_departure, status
            FROM {src_flights}
            WHERE status NOT IN ('arrived', 'cancelled') OR scheduled_departure > {newest}
            """
        )
        # Schedule review: a flight that has sold no seat a week before departure is withdrawn
        # (deleted from the timetable, not cancelled), before this period's bookings are made.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE del_flights AS
            SELECT flight_id FROM {src_flights} AS f
            WHERE f.status = 'scheduled'
                AND f.scheduled_departure > {_ts(as_of + WITHDRAW_UNSOLD_BEFORE)}
                AND NOT EXISTS (SELECT 1 FROM {src_ticket_flights} AS tf WHERE tf.flight_id = f.flight_id)
            """
        )
        con.execute("DELETE FROM ex WHERE flight_id IN (SELECT flight_id FROM del_flights)")
        earliest = duck.scalar(con, "SELECT min(scheduled_departure) FROM ex")
        first_day = min(state.newest.date(), _as_datetime(earliest).date() if earliest else as_of.date())
        first_day -= timedelta(days=1)
        last_day = as_of.date() + timedelta(days=PUBLISH_DAYS + 1)
        _world_flights(con, first_day, (last_day - first_day).days + 1)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE fl AS
            SELECT ex.flight_id, ex.status AS old_status, wf.*
            FROM wf JOIN ex ON ex.flight_no = wf.flight_no AND ex.scheduled_departure = wf.sched_dep
            UNION ALL BY NAME
            SELECT {state.max_flight_id} + row_number() OVER (ORDER BY sched_dep, flight_no)
                    AS flight_id,
                NULL::VARCHAR AS old_status, wf.*
            FROM wf
            WHERE published_at > {newest} AND published_at <= {_ts(as_of)}
                AND NOT EXISTS (SELECT 1 FROM ex WHERE ex.flight_no = wf.flight_no
                                AND ex.scheduled_departure = wf.sched_dep)
            """
        )
        _flight_status(con, as_of)
        # Seats still free per flight and class, from what the source has sold.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE cap AS
            WITH sold AS (
                SELECT tf.flight_id, tf.fare_conditions, count(*) AS sold
                FROM {src_ticket_flights} AS tf
                WHERE tf.flight_id IN (SELECT flight_id FROM fl WHERE old_status IS NOT NULL)
                GROUP BY ALL
            )
            SELECT fl.flight_id, sc.class_idx, sc.seats - coalesce(sold.sold, 0) AS remaining
            FROM fl
            JOIN seat_counts AS sc USING (aircraft_code)
            LEFT JOIN sold ON sold.flight_id = fl.flight_id
                AND sold.fare_conditions = sc.fare_conditions
            WHERE fl.sched_dep > {newest}
            """
        )
        _bookings(
            con,
            lo=state.newest,
            hi=as_of,
            new_fraction=float(new_fraction),
            book_base=state.bookings,
            ticket_base=state.max_ticket_seq,
        )
        # new flights only; a change is never stamped before the source's newest moment
        _out_flights(con, updated_at=f"greatest(changed_at, {_ts(floor_ts)})", where="old_status IS NULL")
        # Existing flights move forward only (a cancellation only before departure).
        rank = _case("status", _STATUS_RANK, None)
        old_rank = _case("old_status", _STATUS_RANK, None)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE upd_flights AS
            SELECT flight_id, status,
                CASE WHEN status IN ('departed', 'arrived') THEN actual_dep END AS actual_departure,
                CASE WHEN status = 'arrived' THEN actual_arr END AS actual_arrival,
                greatest(changed_at, {_ts(floor_ts)}) AS updated_at,
                old_status
            FROM fl
            WHERE old_status IS NOT NULL AND {rank} > {old_rank}
                AND (status <> 'cancelled' OR old_status IN ('scheduled', 'on_time', 'delayed'))
            """
        )
        # Boarding passes for the flights that departed in this period: every ticket on
        # them, sold before or in this advance.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE departed AS
            SELECT fl.flight_id, fl.aircraft_code, greatest(fl.actual_dep, {_ts(floor_ts)}) AS boarded_at
            FROM fl
            LEFT JOIN upd_flights AS u USING (flight_id)
            WHERE coalesce(u.status, CASE WHEN fl.old_status IS NULL THEN fl.status END)
                    IN ('departed', 'arrived')
                AND coalesce(fl.old_status, 'scheduled') NOT IN ('departed', 'arrived')
            """
        )
        classes = _case("tf.fare_conditions", {f: i + 1 for i, f in enumerate(FARE_CLASSES)}, None)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE boarding_tickets AS
            SELECT tf.ticket_no, tf.flight_id, {classes} AS class_idx
            FROM {src_ticket_flights} AS tf
            WHERE tf.flight_id IN (SELECT flight_id FROM departed)
            UNION ALL
            SELECT ticket_no, flight_id, class_idx FROM new_ticket_legs
            WHERE flight_id IN (SELECT flight_id FROM departed)
            """
        )
        _boarding_passes(con)
        n_changes = round(update_fraction * state.tickets)
        _advance_contact_changes(con, target, n_changes, state.newest, as_of)
        result = {f"new_{t}": _count(con, f"out_{t}") for t in self.inserts}
        result["updated_flights"] = _count(con, "upd_flights")
        for status in ("on_time", "delayed", "departed", "arrived", "cancelled"):
            row = con.execute("SELECT count(*) FROM upd_flights WHERE status = ?", [status]).fetchone()
            result[f"{status}_flights"] = int(row[0]) if row else 0
        result["updated_tickets"] = _count(con, "upd_tickets")
        result["withdrawn_flights"] = _count(con, "del_flights")
        return result


GENERATOR = FlightsGenerator()
generate = GENERATOR.generate
advance = GENERATOR.advance


# --------------------------------------------------------------------------------------------
# DuckDB: deterministic randomness and the row builders


def _out_flights(con: Any, *, updated_at: str, where: str) -> None:
    """``out_flights`` from ``fl``: actual times only once they have happened."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_flights AS
        SELECT flight_id, flight_no, sched_dep AS scheduled_departure,
            sched_arr AS scheduled_arrival, departure_airport, arrival_airport,
            status, aircraft_code,
            CASE WHEN status IN ('departed', 'arrived') THEN actual_dep END AS actual_departure,
            CASE WHEN status = 'arrived' THEN actual_arr END AS actual_arrival,
            published_at AS created_at, {updated_at} AS updated_at
        FROM fl WHERE {where}
        """
    )


def _create_macros(con: Any, seed: int, as_of: datetime) -> None:
    # u2: the world's draws, fixed by the seed alone (never by as_of), so that a flight's delay
    # or a booking's lead time is the same whether it is generated or reached by advance.
    create_uniform(con, "u2", seed)
    # ua: one advance's own choices (which tickets change contact data, and when).
    create_uniform(con, "ua", seed, stream_of(as_of))
    create_normal(con, "z2", "u2")


def _reference_tables(con: Any, reference_at: datetime) -> None:
    """Airports, aircraft, seat maps and route pairs as temp tables, plus their out_ rows."""
    ts = _ts(reference_at)
    airports = ", ".join(f"({i}, {', '.join(_lit(v) for v in row)})" for i, row in enumerate(_AIRPORTS))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ap AS
        SELECT * FROM (VALUES {airports}) AS t(idx, airport_code, airport_name, city, country,
            latitude, longitude, timezone, weather_risk)
        """
    )
    aircraft = ", ".join(f"({_lit(c)}, {_lit(m)}, {r})" for c, (m, r, _) in _AIRCRAFT.items())
    cabins = ", ".join(
        f"({_lit(code)}, {i}, {_lit(fare)}, {FARE_CLASSES.index(fare) + 1}, {rows}, {_lit(letters)})"
        for code, (_, _, cab) in _AIRCRAFT.items()
        for i, (fare, rows, letters) in enumerate(cab)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ac AS
        SELECT * FROM (VALUES {aircraft}) AS t(aircraft_code, model, range_km)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE seat_map AS
        WITH c AS (
            SELECT *,
                sum(n_rows) OVER (PARTITION BY aircraft_code ORDER BY cabin
                                  ROWS UNBOUNDED PRECEDING) - n_rows AS rows_before
            FROM (VALUES {cabins}) AS t(aircraft_code, cabin, fare_conditions, class_idx, n_rows, letters)
        ),
        r AS (
            SELECT aircraft_code, fare_conditions, class_idx, letters,
                rows_before + unnest(range(1, n_rows + 1)) AS physical_row
            FROM c
        ),
        s AS (
            SELECT aircraft_code, fare_conditions, class_idx,
                physical_row + CASE WHEN physical_row >= 13 THEN 1 ELSE 0 END AS row_no,
                unnest(string_split(letters, '')) AS letter
            FROM r
        )
        SELECT aircraft_code, row_no::VARCHAR || letter AS seat_no, fare_conditions, class_idx,
            row_no, letter
        FROM s
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE seat_counts AS
        SELECT aircraft_code, class_idx, fare_conditions, count(*) AS seats
        FROM seat_map GROUP BY ALL
        """
    )
    pairs = ", ".join(
        f"({i}, {_lit(o)}, {_lit(d)}, {_lit(a)}, {w}, {m}, {_lit(lf)}, {_lit(dl)})"
        for i, (o, d, a, w, m, lf, dl) in enumerate(_PAIRS)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE pairs AS
        SELECT * FROM (VALUES {pairs}) AS t(base_idx, origin, destination, aircraft_code, weekly,
            dep_minute, base_lf, delay_rate)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_aircrafts AS
        SELECT aircraft_code, model, range_km, {ts} AS created_at, {ts} AS updated_at FROM ac
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_airports AS
        SELECT airport_code, airport_name, city, country, latitude, longitude, timezone,
            {ts} AS created_at, {ts} AS updated_at
        FROM ap
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_seats AS
        SELECT aircraft_code, seat_no, fare_conditions, {ts} AS created_at, {ts} AS updated_at
        FROM seat_map
        """
    )


def _services(con: Any) -> None:
    """``services``: the two flight numbers (out and back) of every route pair in ``pids``."""
    n_base = len(_PAIRS)
    pattern = _case("weekly", _WEEK_PATTERN, 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE services AS
        WITH p AS (
            SELECT pids.p, pids.p // {n_base} AS rotation, pairs.*
            FROM pids JOIN pairs ON pairs.base_idx = pids.p % {n_base}
        ),
        g AS (
            SELECT p.*,
                o.longitude < d.longitude AS eastbound,
                -- great-circle distance (haversine), km
                2 * 6371 * asin(sqrt(
                    pow(sin(radians(d.latitude - o.latitude) / 2), 2)
                    + cos(radians(o.latitude)) * cos(radians(d.latitude))
                      * pow(sin(radians(d.longitude - o.longitude) / 2), 2))) AS distance_km
            FROM p
            JOIN ap AS o ON o.airport_code = p.origin
            JOIN ap AS d ON d.airport_code = p.destination
        ),
        b AS (
            SELECT *,
                -- further rotations of a pair fly at other times of day
                (dep_minute + rotation * 263) % 1440 AS out_minute,
                (p * 3) % 7 AS shift,
                {pattern} AS pattern,
                -- taxi and climb, then ~720 km/h; the jet stream favours eastbound flights
                (5 * round((30 + distance_km / 12.0) * CASE WHEN eastbound THEN 0.97 ELSE 1.04 END
                           / 5))::INTEGER AS out_block,
                (5 * round((30 + distance_km / 12.0) * CASE WHEN eastbound THEN 1.04 ELSE 0.97 END
                           / 5))::INTEGER AS back_block,
                CASE WHEN distance_km > 3000 THEN 100 ELSE 45 END AS turnaround
            FROM g
        ),
        legs AS (
            SELECT p, 0 AS direction, origin AS departure_airport, destination AS arrival_airport,
                aircraft_code, out_minute AS dep_minute, 0 AS day_offset, shift, pattern,
                distance_km, out_block AS block, base_lf, delay_rate
            FROM b
            UNION ALL
            SELECT p, 1, destination, origin, aircraft_code,
                (out_minute + out_block + turnaround) % 1440,
                (out_minute + out_block + turnaround) // 1440,
                shift, pattern, distance_km, back_block, base_lf * 0.97, delay_rate
            FROM b
        )
        SELECT 100 + 2 * p + direction AS service_no,
            {_lit(AIRLINE)} || lpad((100 + 2 * p + direction)::VARCHAR, 4, '0') AS flight_no,
            *
        FROM legs
        """
    )


def _world_flights(con: Any, first_day: date, n_days: int) -> None:
    """``wf``: every flight of ``services`` departing on the given days, with its fate."""
    dow_delay = _case("isodow(day)", _DOW_DELAY, None)
    dow_load = _case("isodow(day)", _DOW_LOAD, None)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wf AS
        WITH days AS (
            SELECT DATE '{first_day:%Y-%m-%d}' + x::INTEGER AS day FROM range({int(n_days)}) AS t(x)
        ),
        f AS (
            SELECT s.*, days.day, (days.day - DATE '1970-01-01')::INTEGER AS day_num,
                days.day::TIMESTAMP + to_minutes(s.dep_minute) AS sched_dep
            FROM services AS s CROSS JOIN days
            -- the outbound's weekday pattern, rotated per pair; a return that leaves after
            -- midnight flies the day after its outbound
            WHERE (s.pattern >> ((isodow(days.day - s.day_offset::INTEGER) - 1 - s.shift + 14) % 7)) & 1 = 1
        ),
        w AS (
            SELECT f.*,
                -- a bad-weather day hits every flight from (or to) that airport
                u2(o.idx, f.day_num, 'weather') < {_STORM_RATE} * o.weather_risk AS storm_dep,
                u2(a.idx, f.day_num, 'weather') < {_STORM_RATE} * a.weather_risk AS storm_arr
            FROM f
            JOIN ap AS o ON o.airport_code = f.departure_airport
            JOIN ap AS a ON a.airport_code = f.arrival_airport
        ),
        p AS (
            SELECT *,
                least(0.95, delay_rate * {dow_delay} * (0.7 + 0.6 * dep_minute / 1440.0)
                      + CASE WHEN storm_dep THEN 0.45 ELSE 0 END
                      + CASE WHEN storm_arr THEN 0.15 ELSE 0 END) AS p_delay,
                u2(service_no, day_num, 'cancel')
                    < {_CANCEL_RATE} + CASE WHEN storm_dep THEN 0.05 ELSE 0 END AS cancelled
            FROM w
        ),
        d AS (
            SELECT *,
                CASE WHEN u2(service_no, day_num, 'delayed') < p_delay
                     THEN least(420, 15 + floor(-32.0 * ln(1 - u2(service_no, day_num, 'delay_len'))
                                               * CASE WHEN storm_dep THEN 1.8 ELSE 1.0 END))
                     ELSE floor(u2(service_no, day_num, 'jitter') * 19) - 6
                END::INTEGER AS dep_delay,
                -- block time deviation (-7% .. +5%) and holding at a stormy destination
                (round(block * (-0.07 + 0.12 * u2(service_no, day_num, 'block')))
                 + CASE WHEN storm_arr THEN floor(u2(service_no, day_num, 'holding') * 25) ELSE 0 END
                )::INTEGER AS block_delta,
                least(1.0, greatest(0.25, base_lf * {dow_load}
                                          * (0.86 + 0.28 * u2(service_no, day_num, 'load'))))
                    AS lf_target
            FROM p
        )
        SELECT service_no, flight_no, day, day_num, departure_airport, arrival_airport,
            aircraft_code, distance_km, lf_target,
            sched_dep,
            sched_dep + to_minutes(block) AS sched_arr,
            sched_dep - to_days({PUBLISH_DAYS}) AS published_at,
            sched_dep - INTERVAL 24 HOUR AS t_on_time,
            CASE WHEN dep_delay >= 15 AND NOT cancelled THEN sched_dep - INTERVAL 2 HOUR END
                AS t_delayed,
            cancelled,
            CASE WHEN cancelled
                 THEN sched_dep - to_minutes((120 + floor(u2(service_no, day_num, 'cancel_at') * 2760))
                                             ::INTEGER)
            END AS cancelled_at,
            CASE WHEN NOT cancelled THEN sched_dep + to_minutes(dep_delay) END AS actual_dep,
            CASE WHEN NOT cancelled THEN sched_dep + to_minutes(block + dep_delay + block_delta) END
                AS actual_arr
        FROM d
        """
    )


def _flight_status(con: Any, as_of: datetime) -> None:
    """Add ``status`` and ``changed_at`` (its latest transition) as of ``as_of`` to ``fl``."""
    t = _ts(as_of)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fl AS
        WITH s AS (
            SELECT *,
                CASE WHEN cancelled AND cancelled_at <= {t} THEN 'cancelled'
                     WHEN actual_arr <= {t} THEN 'arrived'
                     WHEN actual_dep <= {t} THEN 'departed'
                     WHEN t_delayed <= {t} THEN 'delayed'
                     WHEN t_on_time <= {t} THEN 'on_time'
                     ELSE 'scheduled' END AS status
            FROM fl
        )
        SELECT *,
            CASE status WHEN 'cancelled' THEN cancelled_at WHEN 'arrived' THEN actual_arr
                 WHEN 'departed' THEN actual_dep WHEN 'delayed' THEN t_delayed
                 WHEN 'on_time' THEN t_on_time ELSE published_at END AS changed_at
        FROM s
        """
    )


def _bookings(
    con: Any,
    *,
    lo: datetime | None,
    hi: datetime,
    new_fraction: float,
    book_base: int,
    ticket_base: int,
) -> None:
    """Bookings made in (lo, hi] on the flights of ``fl`` within the seats left in ``cap``.

    Builds ``out_bookings``, ``out_tickets``, ``out_ticket_flights`` and ``new_ticket_legs``.
    """
    window = f"book_date <= {_ts(hi)}" + (f" AND book_date > {_ts(lo)}" if lo is not None else "")
    thin = "" if new_fraction >= 1 else f" AND u2(cand_id, 0, 'realised') < {float(new_fraction)!r}"
    horizon = PUBLISH_DAYS * 86400 - 3660 - 60
    # Demand per flight and class: enough bookings to reach the flight's load factor, counting
    # the returns that the partner service's bookings bring.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cand AS
        WITH fc AS (
            SELECT fl.flight_id, fl.service_no, fl.day_num, fl.sched_dep, fl.sched_arr,
                fl.cancelled, fl.cancelled_at, sc.class_idx, sc.seats,
                least(1.0, fl.lf_target * CASE sc.class_idx WHEN 1 THEN 0.62 WHEN 2 THEN 0.85
                                                            ELSE 1.03 END) AS lf_class
            FROM fl JOIN seat_counts AS sc USING (aircraft_code)
            WHERE fl.flight_id IN (SELECT flight_id FROM cap)
        ),
        n AS (
            SELECT *,
                round(seats * lf_class * {_DEMAND_FACTOR} / {1 + _RETURN_SHARE}
                      / CASE WHEN class_idx = 1 THEN 1.2 ELSE 1.84 END)::INTEGER AS n_cand
            FROM fc
        ),
        k AS (
            SELECT * EXCLUDE (n_cand), unnest(range(n_cand)) AS k FROM n
        ),
        i AS (
            SELECT *, ((day_num::BIGINT * 10000 + service_no) * 4 + class_idx) * 4096 + k AS cand_id
            FROM k
        ),
        x AS (
            SELECT *,
                -- business travellers book later; nobody books in the last hour
                sched_dep - to_seconds((3660 + floor(pow(u2(cand_id, 0, 'lead'),
                                                        CASE WHEN class_idx = 1 THEN 2.2 ELSE 1.6 END)
                                                    * {horizon}))::BIGINT) AS book_date,
                u2(cand_id, 0, 'n_pax') AS x_pax,
                u2(cand_id, 0, 'return') < {_RETURN_SHARE} AS wants_return,
                sched_arr + to_days((1 + floor(pow(u2(cand_id, 0, 'stay'), 1.3) * 9))::INTEGER)
                    - INTERVAL 6 HOUR AS return_after,
                xor(service_no, 1) AS return_service
            FROM i
        )
        SELECT cand_id, flight_id, class_idx, book_date, wants_return, return_after, return_service,
            CASE WHEN class_idx = 1 THEN CASE WHEN x_pax < 0.8 THEN 1 ELSE 2 END
                 WHEN x_pax < 0.48 THEN 1 WHEN x_pax < 0.78 THEN 2 WHEN x_pax < 0.90 THEN 3
                 ELSE 4 END AS n_pax
        FROM x
        WHERE {window} AND NOT (cancelled AND cancelled_at <= book_date){thin}
        """
    )
    # The return: the partner service's first flight after the stay, if it was already
    # published and not cancelled when the booking was made; otherwise the trip is one-way.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE cand2 AS
        SELECT c.cand_id, c.flight_id, c.class_idx, c.book_date, c.n_pax,
            CASE WHEN c.wants_return AND r.published_at <= c.book_date
                      AND NOT (r.cancelled AND r.cancelled_at <= c.book_date)
                      AND r.flight_id IN (SELECT flight_id FROM cap)
                 THEN r.flight_id END AS return_flight_id
        FROM cand AS c
        ASOF LEFT JOIN fl AS r ON c.return_service = r.service_no AND c.return_after <= r.sched_dep
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE legs AS
        SELECT cand_id, 1 AS leg, flight_id, class_idx, n_pax, book_date FROM cand2
        UNION ALL
        SELECT cand_id, 2, return_flight_id, class_idx, n_pax, book_date FROM cand2
        WHERE return_flight_id IS NOT NULL
        """
    )
    # First come, first served: a booking is accepted when every leg fits within the seats
    # left, counting every earlier request (accepted or not), so the accepted never overfill.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE accepted AS
        WITH l AS (
            SELECT legs.*,
                sum(n_pax) OVER (PARTITION BY flight_id, class_idx ORDER BY book_date, cand_id
                                 ROWS UNBOUNDED PRECEDING) AS cum
            FROM legs
        )
        SELECT l.cand_id
        FROM l JOIN cap USING (flight_id, class_idx)
        GROUP BY l.cand_id
        HAVING bool_and(l.cum <= cap.remaining)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE bk AS
        WITH b AS (
            SELECT c.cand_id, c.book_date, c.n_pax, c.class_idx,
                ({int(book_base)} + row_number() OVER (ORDER BY c.book_date, c.cand_id))::BIGINT
                    AS book_seq
            FROM cand2 AS c
            WHERE c.cand_id IN (SELECT cand_id FROM accepted)
        ),
        -- booking references look random but are a bijection of the sequence (24 bits)
        s1 AS (SELECT *, (book_seq * 2654435761) % 16777216 AS x1 FROM b),
        s2 AS (SELECT *, xor(x1, x1 >> 11) AS x2 FROM s1)
        SELECT cand_id, book_date, n_pax, class_idx, book_seq,
            printf('%06X', (x2 * 40503 + 12345) % 16777216) AS book_ref
        FROM s2
        """
    )
    # Fares in whole euros: by distance and class, dearer close to departure and on full flights.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE leg_fares AS
        SELECT l.cand_id, l.leg, l.flight_id, l.class_idx,
            greatest(19, round(
                (45 + 0.085 * f.distance_km)
                * CASE l.class_idx WHEN 1 THEN CASE WHEN f.distance_km > 3000 THEN 4.2 ELSE 3.1 END
                                   WHEN 2 THEN 1.55 ELSE 1.0 END
                * (0.85 + 0.9 * exp(-date_diff('second', l.book_date, f.sched_dep) / 86400.0 / 2.5))
                * (0.8 + 0.35 * f.lf_target)
                * exp(0.08 * z2(l.cand_id, l.leg, 'fare'))))::BIGINT AS amount
        FROM legs AS l
        JOIN fl AS f USING (flight_id)
        WHERE l.cand_id IN (SELECT cand_id FROM accepted)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE tk AS
        WITH x AS (SELECT *, unnest(range(n_pax)) AS pax FROM bk),
        t AS (
            SELECT *,
                ({int(ticket_base)} + row_number() OVER (ORDER BY book_seq, pax))::BIGINT AS ticket_seq
            FROM x
        ),
        pool AS (
            -- regular travellers: a pool that grows with the business
            SELECT greatest(20, round(0.05 * ({int(ticket_base)} + count(*))))::BIGINT AS size FROM t
        )
        SELECT t.*,
            '477' || lpad(({_TICKET_OFFSET} + ticket_seq)::VARCHAR, 10, '0') AS ticket_no,
            CASE WHEN pax = 0 AND u2(ticket_seq, 0, 'frequent') < {_FREQUENT_SHARE}
                 THEN floor(u2(ticket_seq, 0, 'frequent_pick') * pool.size)::BIGINT
                 ELSE {_PERSON_OFFSET} + ticket_seq END AS person_no
        FROM t CROSS JOIN pool
        """
    )
    _people(con)
    fare_name = _case("class_idx", {i + 1: f for i, f in enumerate(FARE_CLASSES)}, None)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE new_ticket_legs AS
        SELECT tk.ticket_no, lf.flight_id, lf.class_idx, lf.amount, tk.book_date
        FROM tk JOIN leg_fares AS lf USING (cand_id)
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_ticket_flights AS
        SELECT ticket_no, flight_id, {fare_name} AS fare_conditions,
            amount::DECIMAL(10, 2) AS amount, book_date AS created_at, book_date AS updated_at
        FROM new_ticket_legs
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_bookings AS
        WITH totals AS (SELECT cand_id, sum(amount) AS per_passenger FROM leg_fares GROUP BY cand_id)
        SELECT bk.book_ref, bk.book_date, (totals.per_passenger * bk.n_pax)::DECIMAL(12, 2) AS total_amount,
            bk.book_date AS created_at, bk.book_date AS updated_at
        FROM bk JOIN totals USING (cand_id)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_tickets AS
        SELECT tk.ticket_no, tk.book_ref, pp.passenger_id, pp.contact_data,
            tk.book_date AS created_at, tk.book_date AS updated_at
        FROM tk JOIN people AS pp USING (person_no)
        """
    )


def _people(con: Any) -> None:
    """``people``: passenger document number and contact data JSON per person in ``tk``."""
    first = _list(_FIRST_NAMES)
    last = _list(_LAST_NAMES)
    domains = _list(_EMAIL_DOMAINS)
    prefixes = _list([p for p, _ in _PHONES])
    lengths = "[" + ", ".join(str(n) for _, n in _PHONES) + "]"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE people AS
        WITH p AS (SELECT DISTINCT person_no FROM tk),
        n AS (
            SELECT person_no,
                list_extract({first}, 1 + floor(u2(person_no, 0, 'first') * {len(_FIRST_NAMES)})::INTEGER)
                || ' '
                || list_extract({last}, 1 + floor(u2(person_no, 0, 'last') * {len(_LAST_NAMES)})::INTEGER)
                    AS name,
                1 + floor(u2(person_no, 0, 'phone_country') * {len(_PHONES)})::INTEGER AS phone_idx,
                -- a document number per person: a bijection of the person number (10 digits)
                lpad(((person_no::HUGEINT * 7654321013 + 1234567891) % 10000000000)::VARCHAR, 10, '0')
                    AS doc
            FROM p
        ),
        c AS (
            SELECT person_no, name,
                substr(doc, 1, 4) || ' ' || substr(doc, 5) AS passenger_id,
                CASE WHEN u2(person_no, 0, 'no_phone') < 0.04 THEN NULL
                     ELSE list_extract({prefixes}, phone_idx)
                          || lpad(floor(u2(person_no, 0, 'phone')
                                        * pow(10, list_extract({lengths}, phone_idx)))::BIGINT::VARCHAR,
                                  list_extract({lengths}, phone_idx), '0')
                END AS phone,
                CASE WHEN u2(person_no, 0, 'no_email') < 0.08 THEN NULL
                     ELSE lower(regexp_replace(name, '[^A-Za-z]+', '.', 'g'))
                          || CASE WHEN u2(person_no, 0, 'email_digits') < 0.5
                                  THEN (10 + floor(u2(person_no, 0, 'email_number') * 90))::BIGINT::VARCHAR
                                  ELSE '' END
                          || '@'
                          || list_extract({domains}, 1 + floor(u2(person_no, 0, 'domain')
                                                               * {len(_EMAIL_DOMAINS)})::INTEGER)
                END AS email
            FROM n
        )
        SELECT person_no, passenger_id, {_contact_json("name", "phone", "email")} AS contact_data
        FROM c
        """
    )


def _contact_json(name: str, phone: str, email: str) -> str:
    """JSON object text with name, and phone/email only when known (keys omitted otherwise)."""
    return (
        f"""('{{"name": ' || to_json({name})::VARCHAR"""
        f""" || CASE WHEN {phone} IS NULL THEN '' ELSE ', "phone": ' || to_json({phone})::VARCHAR END"""
        f""" || CASE WHEN {email} IS NULL THEN '' ELSE ', "email": ' || to_json({email})::VARCHAR END"""
        f""" || '}}')"""
    )


def _changed_contact_sql(relation: str, draw: str) -> str:
    """SELECT ticket_no, new contact_data FROM relation(ticket_no, contact_data): a new e-mail
    address (60%) or a new phone number; ``draw`` is the macro for the random choices."""
    domains = _list(_EMAIL_DOMAINS)
    n_dom = len(_EMAIL_DOMAINS)
    return f"""
        WITH j AS (
            SELECT ticket_no,
                json_extract_string(contact_data, '$.name') AS name,
                json_extract_string(contact_data, '$.phone') AS phone,
                json_extract_string(contact_data, '$.email') AS email,
                {draw}(ticket_no, 0, 'change_kind') < 0.6 AS new_email
            FROM {relation}
        ),
        c AS (
            SELECT ticket_no, name,
                CASE WHEN new_email THEN phone
                     WHEN phone IS NULL THEN '+49 15' || lpad(floor({draw}(ticket_no, 0, 'new_phone')
                                                                  * 1e9)::BIGINT::VARCHAR, 9, '0')
                     -- the last four digits change, whatever they were
                     ELSE substr(phone, 1, length(phone) - 4)
                          || lpad(((substr(phone, length(phone) - 3)::INTEGER + 1
                                    + floor({draw}(ticket_no, 0, 'new_phone') * 9999)::INTEGER) % 10000)
                                  ::VARCHAR, 4, '0')
                END AS phone,
                CASE WHEN NOT new_email THEN email
                     -- a dotted number never occurs in a first address, so the new one differs
                     ELSE lower(regexp_replace(name, '[^A-Za-z]+', '.', 'g')) || '.'
                          || (10 + floor({draw}(ticket_no, 0, 'new_email') * 90))::BIGINT::VARCHAR || '@'
                          || list_extract({domains}, 1 + floor({draw}(ticket_no, 0, 'new_domain')
                                                               * {n_dom})::INTEGER)
                END AS email
            FROM j
        )
        SELECT ticket_no, {_contact_json("name", "phone", "email")} AS contact_data FROM c
    """


def _generated_contact_changes(con: Any, as_of: datetime) -> None:
    """Some passengers changed their contact data between booking and ``as_of``."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE changed AS
        WITH pick AS (
            SELECT t.ticket_no, t.contact_data,
                t.created_at + to_seconds(floor(u2(t.ticket_no, 0, 'changed_at')
                                                * date_diff('second', t.created_at, {_ts(as_of)}))::BIGINT)
                    AS changed_at
            FROM out_tickets AS t
            WHERE u2(t.ticket_no, 0, 'contact_change') < {_CONTACT_CHANGE_RATE}
        ),
        n AS ({_changed_contact_sql("pick", "u2")})
        SELECT n.ticket_no, n.contact_data, pick.changed_at
        FROM n JOIN pick USING (ticket_no)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_tickets AS
        SELECT t.ticket_no, t.book_ref, t.passenger_id,
            coalesce(c.contact_data, t.contact_data) AS contact_data,
            t.created_at, coalesce(c.changed_at, t.updated_at) AS updated_at
        FROM out_tickets AS t LEFT JOIN changed AS c USING (ticket_no)
        """
    )


def _advance_contact_changes(con: Any, target: Target, n: int, newest: datetime, as_of: datetime) -> None:
    """``upd_tickets``: ``n`` existing tickets get new contact data, stamped in (newest, as_of]."""
    span = int((as_of - newest).total_seconds())
    tickets = target.duck_table("src", "tickets")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upd_pick AS
        SELECT ticket_no, contact_data FROM {tickets}
        ORDER BY ua(ticket_no, 0, 'pick'), ticket_no
        LIMIT {int(n)}
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upd_tickets AS
        WITH n AS ({_changed_contact_sql("upd_pick", "ua")})
        SELECT ticket_no, contact_data,
            {_ts(newest)} + to_seconds(1 + floor(ua(ticket_no, 0, 'changed_at') * {span})::BIGINT)
                AS updated_at
        FROM n
        """
    )


def _boarding_passes(con: Any) -> None:
    """``out_boarding_passes`` for the flights in ``departed`` and the tickets in
    ``boarding_tickets``: the passengers who showed up, seated in their fare class's cabin."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_boarding_passes AS
        WITH b AS (
            SELECT t.ticket_no, t.flight_id, t.class_idx, d.aircraft_code, d.boarded_at
            FROM boarding_tickets AS t JOIN departed AS d USING (flight_id)
            WHERE u2(t.ticket_no, t.flight_id, 'no_show') >= {_NO_SHOW_RATE}
        ),
        r AS (
            SELECT *,
                row_number() OVER (PARTITION BY flight_id, class_idx
                                   ORDER BY u2(ticket_no, flight_id, 'seat'), ticket_no) AS seat_rank,
                -- business boards first
                row_number() OVER (PARTITION BY flight_id
                                   ORDER BY class_idx, u2(ticket_no, flight_id, 'boarding'), ticket_no)
                    AS boarding_no
            FROM b
        ),
        s AS (
            SELECT d.flight_id, sm.class_idx, sm.seat_no,
                row_number() OVER (PARTITION BY d.flight_id, sm.class_idx
                                   ORDER BY u2(sm.seat_no, d.flight_id, 'seat_order'), sm.seat_no)
                    AS seat_rank
            FROM departed AS d JOIN seat_map AS sm USING (aircraft_code)
        )
        SELECT r.ticket_no, r.flight_id, r.boarding_no::INTEGER AS boarding_no, s.seat_no,
            r.boarded_at AS created_at, r.boarded_at AS updated_at
        FROM r LEFT JOIN s USING (flight_id, class_idx, seat_rank)
        """
    )

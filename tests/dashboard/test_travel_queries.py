"""The queries behind every Overview and Travel bookings figure, on a warehouse built by a real
DAG run, against figures computed independently from the SQLite source (and dbt's manifest)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
import pytest

from headwater.dashboard import marts, queries
from headwater.dashboard.db import Reader
from headwater.pipelines.flights import dashboard as flights_page
from headwater.pipelines.travel_bookings import dashboard as page

from .conftest import Source, TravelWarehouse, booking_days

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WAREHOUSE = "travel_warehouse"  # the `con` fixture's warehouse

CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def ranges(travel_warehouse: TravelWarehouse) -> list[tuple[date, date]]:
    """The whole history, a middle stretch, and a single day."""
    days = booking_days(travel_warehouse.source)
    first, last = days[0], days[-1]
    mid = first + timedelta(days=30)
    return [(first, last), (mid, mid + timedelta(days=20)), (mid, mid)]


# -- expected values, from the source --------------------------------------------------------


class Expected:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.booking_day = {}
        self.status = {}
        for b, created, status in src.rows("SELECT booking_id, created_at, status FROM booking"):
            self.booking_day[b] = date.fromisoformat(str(created)[:10])
            self.status[b] = status
        self.tickets = {
            t: (b, src.eur(price, cur))
            for t, b, price, cur in src.rows(
                "SELECT ticket_id, booking_id, booking_price, booking_currency FROM ticket"
            )
        }
        self.passengers = src.rows("SELECT booking_id, type FROM passenger")
        self.segments = {
            s: (b, carrier, mode)
            for s, b, carrier, mode in src.rows(
                "SELECT segment_id, booking_id, carrier_name, travel_mode FROM segment"
            )
        }
        self.ticket_segments: dict[int, list[int]] = defaultdict(list)
        for t, s in src.rows("SELECT ticket_id, segment_id FROM ticket_segment"):
            self.ticket_segments[t].append(s)

    def in_range(self, booking_id: int, start: date, end: date) -> bool:
        return start <= self.booking_day[booking_id] <= end

    def paid_tickets(self, start: date, end: date) -> dict[int, Decimal]:
        return {
            t: eur
            for t, (b, eur) in self.tickets.items()
            if self.in_range(b, start, end) and self.status[b] != "cancelled"
        }

    def daily(self, start: date, end: date) -> dict[date, dict[str, object]]:
        out: dict[date, dict[str, object]] = defaultdict(lambda: defaultdict(int))
        for b, d in self.booking_day.items():
            if start <= d <= end:
                out[d]["bookings"] += 1
                out[d]["cancelled_bookings"] += self.status[b] == "cancelled"
        for _t, (b, _eur) in self.tickets.items():
            if self.in_range(b, start, end):
                out[self.booking_day[b]]["tickets"] += 1
        for b, _type in self.passengers:
            if self.in_range(b, start, end):
                out[self.booking_day[b]]["passengers"] += 1
        for b, _carrier, _mode in self.segments.values():
            if self.in_range(b, start, end):
                out[self.booking_day[b]]["segments"] += 1
        prices: dict[date, list[Decimal]] = defaultdict(list)
        for t, eur in self.paid_tickets(start, end).items():
            prices[self.booking_day[self.tickets[t][0]]].append(eur)
        for d, v in out.items():
            v["revenue_eur"] = sum(prices[d], Decimal(0))
            v["avg_ticket_price_eur"] = sum(prices[d]) / len(prices[d]) if prices[d] else None
        return {d: dict(v) for d, v in out.items()}

    def split_revenue(self, start: date, end: date, key) -> dict[str, Decimal]:
        """Revenue per key(segment), each paid ticket's price split equally over its segments."""
        out: dict[str, Decimal] = defaultdict(Decimal)
        for t, eur in self.paid_tickets(start, end).items():
            segs = self.ticket_segments[t]
            for s in segs:
                out[key(self.segments[s])] += eur / len(segs)
        return dict(out)


@pytest.fixture(scope="module")
def expected(travel_warehouse: TravelWarehouse) -> Expected:
    return Expected(travel_warehouse.source)


def money(x: object) -> Decimal:
    return Decimal(str(x)).quantize(CENT, ROUND_HALF_UP)


# -- travel bookings ---------------------------------------------------------------------------


def test_date_bounds_are_the_first_and_last_booking_day(con, travel_warehouse):
    days = booking_days(travel_warehouse.source)
    assert page.travel_date_bounds(con) == (days[0], days[-1])


def test_daily_bookings_is_the_seeds_booking_summary(con, expected, ranges):
    for start, end in ranges:
        want = expected.daily(start, end)
        got = page.daily_bookings(con, start, end)
        assert [d.date() if isinstance(d, datetime) else d for d in got["booking_date"]] == sorted(want)
        for r in got.to_dict("records"):
            d = r["booking_date"].date() if hasattr(r["booking_date"], "date") else r["booking_date"]
            w = want[d]
            for k in ("bookings", "tickets", "passengers", "segments", "cancelled_bookings"):
                assert r[k] == w[k], (d, k)
            assert money(r["revenue_eur"]) == w["revenue_eur"], d
            if w["avg_ticket_price_eur"] is None:  # every booking of the day cancelled
                assert pd.isna(r["avg_ticket_price_eur"]), d
            else:  # the mart rounds the day's mean to the cent
                assert Decimal(str(r["avg_ticket_price_eur"])) == pytest.approx(
                    w["avg_ticket_price_eur"], abs=Decimal("0.005")
                ), d


def test_booking_totals(con, expected, ranges):
    for start, end in ranges:
        got = page.booking_totals(con, start, end)
        days = expected.daily(start, end).values()
        paid = list(expected.paid_tickets(start, end).values())
        assert got["bookings"] == sum(v["bookings"] for v in days)
        assert got["bookings"] == sum(1 for b in expected.booking_day if expected.in_range(b, start, end))
        assert got["tickets"] == sum(v["tickets"] for v in days)
        assert got["passengers"] == sum(v["passengers"] for v in days)
        assert got["segments"] == sum(v["segments"] for v in days)
        assert got["cancelled_bookings"] == sum(v["cancelled_bookings"] for v in days)
        assert money(got["revenue_eur"]) == sum(paid, Decimal(0))
        if paid:
            assert abs(Decimal(str(got["avg_ticket_price_eur"])) - sum(paid) / len(paid)) < Decimal(
                "0.000001"
            )


def test_an_empty_range_gives_zeros_not_errors(con, expected):
    before = min(expected.booking_day.values()) - timedelta(days=10)
    got = page.booking_totals(con, before, before)
    assert got["bookings"] == 0 and got["revenue_eur"] == 0 and got["avg_ticket_price_eur"] is None
    assert page.daily_bookings(con, before, before).empty
    assert page.passenger_mix(con, before, before).empty
    assert page.carriers_by_revenue(con, before, before).empty


def test_passenger_mix(con, expected, ranges):
    for start, end in ranges:
        want = Counter(t for b, t in expected.passengers if expected.in_range(b, start, end))
        got = page.passenger_mix(con, start, end)
        assert dict(zip(got["passenger_type"], got["passengers"], strict=True)) == want
        assert got["share"].sum() == pytest.approx(1.0)
        assert list(got["passengers"]) == sorted(got["passengers"], reverse=True)


def test_travel_mode_split(con, expected, ranges):
    for start, end in ranges:
        segments = Counter(
            mode for b, _c, mode in expected.segments.values() if expected.in_range(b, start, end)
        )
        revenue = expected.split_revenue(start, end, lambda s: s[2])
        got = page.travel_mode_split(con, start, end)
        assert dict(zip(got["travel_mode"], got["segments"], strict=True)) == segments
        for mode, rev in zip(got["travel_mode"], got["revenue_eur"], strict=True):
            assert Decimal(str(rev)) == pytest.approx(revenue.get(mode, Decimal(0)), abs=Decimal("0.01"))
        # Split revenue adds up to the total revenue of the range.
        total = sum(expected.paid_tickets(start, end).values(), Decimal(0))
        assert Decimal(str(got["revenue_eur"].sum())) == pytest.approx(total, abs=Decimal("0.01"))


def test_carriers_by_revenue(con, expected, ranges):
    for start, end in ranges:
        want = expected.split_revenue(start, end, lambda s: s[1])
        top = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        got = page.carriers_by_revenue(con, start, end, 10)
        assert list(got["carrier_name"]) == [c for c, _ in top]
        for (_c, rev), got_rev in zip(top, got["revenue_eur"], strict=True):
            assert Decimal(str(got_rev)) == pytest.approx(rev, abs=Decimal("0.01"))
    start, end = ranges[0]
    for mode in ("flight", "train", "bus"):
        want = expected.split_revenue(start, end, lambda s: (s[2], s[1]))
        top = sorted(((c, r) for (m, c), r in want.items() if m == mode), key=lambda kv: (-kv[1], kv[0]))
        got = page.carriers_by_revenue(con, start, end, 5, mode)
        assert list(got["carrier_name"]) == [c for c, _ in top[:5]], mode
        assert set(got["travel_mode"]) == {mode}


# -- overview ----------------------------------------------------------------------------------


def test_overview_reports_the_run(con, travel_warehouse: TravelWarehouse):
    src = travel_warehouse.source
    tables = ["booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment"]
    rows = {t: src.rows(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables}
    cursors = {"ticket_passenger": "created_at", "ticket_segment": "created_at"}
    newest = max(
        datetime.fromisoformat(
            str(src.rows(f'SELECT max("{cursors.get(t, "updated_at")}") FROM "{t}"')[0][0])
        )
        for t in tables
    )
    manifest = json.loads(
        (travel_warehouse.home / "dbt" / "travel_bookings" / "target" / "manifest.json").read_text()
    )
    n_tests = sum(1 for n in manifest["nodes"].values() if n["resource_type"] == "test")
    n_source_tests = sum(
        1
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and any(d.startswith("source.") for d in n["depends_on"]["nodes"])
    )
    n_unit_tests = len(manifest.get("unit_tests", {}))
    n_models = sum(
        1
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and set(n["tags"]) & {"staging", "core"}
    )

    got = queries.pipeline_overview(con)
    assert list(got["pipeline"]) == ["travel_bookings"]
    r = got.iloc[0]
    assert r["run_id"] == travel_warehouse.run_id  # Airflow's run id of the one run
    assert r["tables_loaded"] == len(tables)
    assert r["rows_moved"] == sum(rows.values())  # a first run moves everything
    assert r["rows_changed"] == sum(rows.values())
    assert r["rows_quarantined_run"] == 0 and r["quarantined_total"] == 0
    assert r["newest_data_at"].to_pydatetime() == newest
    assert r["models_built"] == n_models and r["models_failed"] == 0
    # source_tests runs the source tests, test_all every other test and the unit tests: each
    # test once in the run (test_all leaves out the source tests the run already ran).
    assert r["tests_passed"] + r["tests_warned"] + r["tests_failed"] == n_tests + n_unit_tests
    assert n_source_tests > 0
    assert r["tests_failed"] == 0
    assert r["freshness_status"] in ("pass", "warn")
    assert r["run_started_at"] <= r["last_loaded_at"] <= r["run_finished_at"]

    history = queries.load_history(con, "travel_bookings")
    assert list(history["rows_moved"]) == [sum(rows.values())]
    per_table = queries.run_tables(con, "travel_bookings", travel_warehouse.run_id)
    assert dict(zip(per_table["table_name"], per_table["rows_in_batch"], strict=True)) == rows
    problems = queries.dbt_problems(con, "travel_bookings", travel_warehouse.run_id)
    assert set(problems["status"]) <= {"warn"}
    assert len(problems) == r["tests_warned"]
    assert queries.quarantine_summary(con).empty


def test_flights_tables_are_reported_missing(con):
    flights = marts.located("flights", flights_page.MARTS)  # no manifest in this home
    assert queries.missing_tables(con, flights) == flights
    assert queries.missing_tables(con, marts.located(page.PIPELINE, page.MARTS)) == []


@pytest.mark.postgres
def test_the_same_figures_from_a_postgres_warehouse(travel_env: TravelWarehouse, pg_database: str, ranges):
    """Every query gives the same answer when the marts and metadata live in Postgres."""
    from headwater import duck

    travel_warehouse = travel_env  # its HEADWATER_HOME holds the manifest that locates the marts
    copied = [*marts.located(page.PIPELINE, page.MARTS)] + [
        (queries.META, t) for t in ("load_ledger", "dbt_results", "quarantine", "watermarks")
    ]
    con = duck.connect()
    try:
        duck.attach(con, travel_warehouse.settings.warehouse_url, "src", read_only=True)
        duck.attach(con, pg_database, "dst")
        for schema, table in copied:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS dst.{schema}")
            con.execute(f"CREATE TABLE dst.{schema}.{table} AS SELECT * FROM src.{schema}.{table}")
    finally:
        con.close()

    def answers(url: str) -> list:
        def run(c):
            out = [queries.pipeline_overview(c), page.travel_date_bounds(c)]
            for start, end in ranges:
                out += [
                    page.daily_bookings(c, start, end),
                    page.booking_totals(c, start, end),
                    page.passenger_mix(c, start, end),
                    page.travel_mode_split(c, start, end),
                    page.carriers_by_revenue(c, start, end, 10),
                ]
            return out

        return Reader(url).run(run)

    for mine, theirs in zip(
        answers(travel_warehouse.settings.warehouse_url), answers(pg_database), strict=True
    ):
        if isinstance(mine, pd.DataFrame):
            pd.testing.assert_frame_equal(
                mine.reset_index(drop=True), theirs.reset_index(drop=True), check_dtype=False
            )
        else:
            assert mine == theirs

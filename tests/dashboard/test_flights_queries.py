"""The queries behind every Flights chart, on a warehouse built by a real run of the flights DAG,
against figures computed independently from its SQLite source (Python's zoneinfo for the
local flight date, plain arithmetic for delays and seats)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from headwater.dashboard import marts, queries
from headwater.pipelines.flights import dashboard as page

from .conftest import FlightsWarehouse

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
WAREHOUSE = "flights_warehouse"  # the `con` fixture's warehouse


def _ts(value) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return math.floor((end - start).total_seconds() / 60)


class Expected:
    def __init__(self, fw: FlightsWarehouse) -> None:
        tz = dict(fw.rows("SELECT airport_code, timezone FROM airports"))
        self.seats = dict(fw.rows("SELECT aircraft_code, count(*) FROM seats GROUP BY aircraft_code"))
        self.boarded = dict(fw.rows("SELECT flight_id, count(*) FROM boarding_passes GROUP BY flight_id"))
        self.flights = []
        for fid, dep, arr, status, aircraft, s_dep, s_arr, a_dep, a_arr in fw.rows(
            "SELECT flight_id, departure_airport, arrival_airport, status, aircraft_code, "
            "scheduled_departure, scheduled_arrival, actual_departure, actual_arrival FROM flights"
        ):
            local = _ts(s_dep).replace(tzinfo=UTC).astimezone(ZoneInfo(tz[dep]))
            self.flights.append(
                {
                    "flight_id": fid,
                    "dep": dep,
                    "arr": arr,
                    "status": status,
                    "aircraft": aircraft,
                    "date": local.date(),
                    "dep_delay": _minutes(_ts(s_dep), _ts(a_dep)),
                    "arr_delay": _minutes(_ts(s_arr), _ts(a_arr)),
                }
            )

    def between(self, start: date, end: date) -> list[dict]:
        return [f for f in self.flights if start <= f["date"] <= end]

    @staticmethod
    def summary(flights: list[dict]) -> dict:
        arrived = [f["arr_delay"] for f in flights if f["arr_delay"] is not None]
        departed = [f["dep_delay"] for f in flights if f["dep_delay"] is not None]
        on_time = sum(1 for d in arrived if d < page.ON_TIME_MINUTES)
        return {
            "flights": len(flights),
            "arrived": len(arrived),
            "on_time": on_time,
            "on_time_share": on_time / len(arrived) if arrived else None,
            "avg_departure_delay_minutes": sum(departed) / len(departed) if departed else None,
            "avg_arrival_delay_minutes": sum(arrived) / len(arrived) if arrived else None,
            "cancelled": sum(1 for f in flights if f["status"] == "cancelled"),
        }


@pytest.fixture(scope="module")
def expected(flights_warehouse: FlightsWarehouse) -> Expected:
    return Expected(flights_warehouse)


@pytest.fixture(scope="module")
def ranges(expected: Expected) -> list[tuple[date, date]]:
    days = sorted({f["date"] for f in expected.flights})
    return [(days[0], days[-1]), (days[3], days[3] + timedelta(days=9)), (days[5], days[5])]


def _same(got: dict, want: dict) -> None:
    for k, v in want.items():
        if v is None:
            assert got[k] is None or pd.isna(got[k]), k
        elif isinstance(v, float):
            assert got[k] == pytest.approx(v), k
        else:
            assert got[k] == v, k


def test_the_page_finds_every_table_and_column(con):
    located = marts.located(page.PIPELINE, page.MARTS)
    assert queries.missing_tables(con, located) == []
    assert queries.missing_columns(con, located[0][0], page.FLIGHT_COLUMNS) == []


def test_date_bounds(con, expected: Expected):
    dates = [f["date"] for f in expected.flights]
    flown = [f["date"] for f in expected.flights if f["arr_delay"] is not None]
    assert page.flights_date_bounds(con) == (min(dates), max(dates), max(flown))


def test_flight_totals_and_on_time_by_day(con, expected: Expected, ranges):
    for start, end in ranges:
        flights = expected.between(start, end)
        _same(page.flight_totals(con, start, end), expected.summary(flights))
        daily = page.on_time_by_day(con, start, end)
        by_day = defaultdict(list)
        for f in flights:
            by_day[f["date"]].append(f)
        assert [pd.Timestamp(d).date() for d in daily["flight_date"]] == sorted(by_day)
        for row in daily.to_dict("records"):
            _same(row, expected.summary(by_day[pd.Timestamp(row["flight_date"]).date()]))


def test_route_performance(con, expected: Expected, ranges):
    for start, end in ranges:
        routes = defaultdict(list)
        for f in expected.between(start, end):
            routes[(f["dep"], f["arr"])].append(f)
        got = page.route_performance(con, start, end, 1000)
        assert len(got) == len(routes)
        counts = [len(v) for v in routes.values()]
        assert list(got["flights"]) == sorted(counts, reverse=True)
        for row in got.to_dict("records"):
            assert row["route"] == f"{row['departure_airport']} → {row['arrival_airport']}"
            _same(row, expected.summary(routes[(row["departure_airport"], row["arrival_airport"])]))
        top = page.route_performance(con, start, end, 3)
        assert list(top["route"]) == list(got["route"][:3])


def test_seat_occupancy_by_day(con, expected: Expected, ranges):
    for start, end in ranges:
        seats: dict[date, Counter] = defaultdict(Counter)
        for f in expected.between(start, end):
            if f["status"] in ("departed", "arrived"):  # only then is it known who sat where
                total = expected.seats[f["aircraft"]]
                occupied = expected.boarded.get(f["flight_id"], 0)
                seats[f["date"]].update(total=total, occupied=occupied, empty=total - occupied)
        got = page.seat_occupancy_by_day(con, start, end)
        assert [pd.Timestamp(d).date() for d in got["flight_date"]] == sorted(seats)
        for row in got.to_dict("records"):
            want = seats[pd.Timestamp(row["flight_date"]).date()]
            assert (row["total_seats"], row["occupied_seats"], row["empty_seats"]) == (
                want["total"],
                want["occupied"],
                want["empty"],
            )
            assert row["occupancy"] == pytest.approx(want["occupied"] / want["total"])


def test_busiest_airports(con, expected: Expected, flights_warehouse: FlightsWarehouse, ranges):
    names = {
        code: (name, city)
        for code, name, city in flights_warehouse.rows(
            "SELECT airport_code, airport_name, city FROM airports"
        )
    }
    for start, end in ranges:
        departures, arrivals = Counter(), Counter()
        for f in expected.between(start, end):
            if f["status"] != "cancelled":
                departures[f["dep"]] += 1
                arrivals[f["arr"]] += 1
        movements = departures + arrivals
        got = page.busiest_airports(con, start, end, 5)
        want = sorted(movements.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        assert list(zip(got["airport_code"], got["movements"], strict=True)) == want
        for row in got.to_dict("records"):
            code = row["airport_code"]
            assert (row["departures"], row["arrivals"]) == (departures[code], arrivals[code])
            assert (row["airport_name"], row["city"]) == names[code]

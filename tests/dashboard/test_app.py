"""Every page rendered by Streamlit's AppTest: on a warehouse built by a real DAG run, on an
empty warehouse, with no warehouse at all, and while another process holds the write lock."""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from headwater.dashboard import fmt
from headwater.dashboard.registry import PLATFORM_PAGES, page, pages
from headwater.dashboard.server import APP
from headwater.discovery import available_pipelines, load_spec

from .conftest import TravelWarehouse, booking_days

PAGES = pages()

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fresh_cache():
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def open_page(module: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    if not page(module).default:
        at.switch_page(os.path.relpath(page(module).path, APP.parent)).run()
    return at


def texts(at: AppTest, kind: str) -> str:
    return "\n".join(str(e.value) for e in at.get(kind))


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_registry_lists_every_page_file():
    from headwater.dashboard.registry import PAGES_DIR

    files = {p.stem for p in PAGES_DIR.glob("*.py")} - {"__init__"}
    assert files == {p.module for p in PLATFORM_PAGES}
    with_page = {n for n in available_pipelines() if (load_spec(n).folder / "dashboard.py").is_file()}
    assert {p.pipeline for p in PAGES if p.pipeline} == with_page  # discovered, not listed
    assert [p.module for p in PAGES if p.default] == ["overview"]
    for p in PAGES:
        source = p.path.read_text()
        assert "def render()" in source and 'if __name__ == "__main__":\n    render()' in source, p.module


# -- on a warehouse with data ------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("module", [p.module for p in PAGES])
def test_every_page_renders_on_real_data(travel_env: TravelWarehouse, module: str):
    at = open_page(module)
    no_errors(at)
    assert at.title[0].value == page(module).title


@pytest.mark.e2e
def test_overview_on_real_data(travel_env: TravelWarehouse):
    src = travel_env.source
    tables = ["booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment"]
    moved = sum(src.rows(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables)
    at = open_page("overview")
    no_errors(at)
    m = metrics(at)
    assert m["Rows moved"] == fmt.count(moved)
    assert m["Quarantined rows"] == "0"
    assert m["Last run"].endswith("ago") or m["Last run"] == "just now"
    assert int(m["dbt tests passed"].replace(",", "")) > 0
    markdown = texts(at, "markdown")
    assert "Success" in markdown  # the status badge (with or without dbt warnings)
    assert "flights" in markdown  # known but not run: its own card
    assert "No run of **flights** has reached the warehouse yet" in markdown


@pytest.mark.e2e
def test_travel_bookings_numbers_and_date_filter(travel_env: TravelWarehouse):
    src = travel_env.source
    at = open_page("travel_bookings")
    no_errors(at)
    bookings = src.rows("SELECT count(*) FROM booking")[0][0]
    tickets = src.rows("SELECT count(*) FROM ticket")[0][0]
    m = metrics(at)
    assert m["Bookings"] == fmt.count(bookings)
    assert m["Tickets"] == fmt.count(tickets)
    assert m["Revenue"].startswith("€") and m["Average ticket price"].startswith("€")
    assert len(at.get("vega_lite_chart")) >= 5  # daily x2, passenger mix, modes, carriers

    days = booking_days(src)
    start, end = days[0] + timedelta(days=10), days[0] + timedelta(days=24)
    at.date_input(key="travel-dates").set_value((start, end)).run()
    no_errors(at)
    in_range = sum(
        1
        for (c,) in src.rows("SELECT created_at FROM booking")
        if start <= date.fromisoformat(str(c)[:10]) <= end
    )
    assert metrics(at)["Bookings"] == fmt.count(in_range)


@pytest.mark.e2e
def test_flights_page_says_it_has_not_run(travel_env: TravelWarehouse):
    at = open_page("flights")
    no_errors(at)
    assert "Flights has not run yet" in texts(at, "info")


@pytest.mark.e2e
def test_dbt_docs_page_shows_the_generated_docs(travel_env: TravelWarehouse):
    at = open_page("dbt_docs")
    no_errors(at)
    assert at.selectbox[0].value == "travel_bookings"  # the pipeline that has docs comes first
    assert "No dbt docs" not in texts(at, "info")
    assert at.get("download_button") and at.get("iframe")


@pytest.mark.e2e
def test_a_held_write_lock_shows_busy_then_data(travel_warehouse, tmp_path, monkeypatch, write_lock):
    home = tmp_path / "hw"
    home.mkdir()
    shutil.copy(travel_warehouse.home / "warehouse.duckdb", home / "warehouse.duckdb")
    manifest = Path("dbt") / "travel_bookings" / "target" / "manifest.json"  # where the marts are
    (home / manifest).parent.mkdir(parents=True)
    shutil.copy(travel_warehouse.home / manifest, home / manifest)
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    monkeypatch.delenv("HEADWATER_WAREHOUSE_URL", raising=False)
    with write_lock(home / "warehouse.duckdb"):
        at = open_page("travel_bookings")
        no_errors(at)
        assert "The warehouse is busy" in texts(at, "warning")
        assert not at.metric
    at.button[-1].click().run()  # "Try again" once the run has let go
    no_errors(at)
    assert not at.warning
    assert metrics(at)["Bookings"] == fmt.count(
        travel_warehouse.source.rows("SELECT count(*) FROM booking")[0][0]
    )


# -- empty states --------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [p.module for p in PAGES])
def test_every_page_renders_on_an_empty_warehouse(empty_warehouse, module: str):
    at = open_page(module)
    no_errors(at)
    info = texts(at, "info")
    p = page(module)
    if p.pipeline:
        assert f"{p.title} has not run yet" in info
    elif module == "overview":
        assert "Not run yet" in texts(at, "markdown") or at.get("badge")
        assert "No run of **travel_bookings** has reached the warehouse yet" in texts(at, "markdown")
    else:
        assert "No dbt docs for" in info


@pytest.mark.parametrize("module", [p.module for p in PAGES])
def test_every_page_renders_without_a_warehouse(empty_home, module: str):
    at = open_page(module)
    no_errors(at)
    if module == "dbt_docs":  # reads dbt's files, not the warehouse
        assert "No dbt docs for" in texts(at, "info")
    else:
        assert "Nothing to show yet" in texts(at, "info")
    assert not (empty_home / "warehouse.duckdb").exists()  # reading never creates it


@pytest.mark.e2e
def test_flights_page_on_real_data(flights_env):
    from .test_flights_queries import Expected

    want = Expected(flights_env)
    dates = [f["date"] for f in want.flights]
    flown = [f["date"] for f in want.flights if f["arr_delay"] is not None]
    summary = want.summary(want.between(min(dates), max(flown)))  # the default: up to the last arrival
    at = open_page("flights")
    no_errors(at)
    m = metrics(at)
    assert m["Flights"] == fmt.count(summary["flights"])
    assert m["On time"] == fmt.percent(summary["on_time_share"])
    assert m["Avg arrival delay"] == f"{summary['avg_arrival_delay_minutes']:,.1f} min"
    assert len(at.get("vega_lite_chart")) >= 4  # on time/delays, seats, routes, airports
    at.date_input(key="flights-dates").set_value((min(dates), max(dates))).run()
    no_errors(at)
    assert metrics(at)["Flights"] == fmt.count(len(want.flights))


def test_a_pipeline_of_several_dags_is_shown_by_the_dag_that_matters():
    from headwater.dashboard.links import DagRun, pipeline_dag_run

    ok = lambda r: DagRun(r, "success", None, None)  # noqa: E731
    dags = ["p_ingest", "p_warehouse"]
    both_ok = {"p_ingest": ok("i1"), "p_warehouse": ok("w1")}
    assert pipeline_dag_run(both_ok, dags) == ("p_warehouse", ok("w1"))
    failed = DagRun("i2", "failed", None, None)
    assert pipeline_dag_run({"p_ingest": failed, "p_warehouse": ok("w1")}, dags) == ("p_ingest", failed)
    running = DagRun("w2", "running", None, None)
    assert pipeline_dag_run({"p_ingest": ok("i2"), "p_warehouse": running}, dags) == ("p_warehouse", running)
    assert pipeline_dag_run({}, ["solo"]) == ("solo", None)

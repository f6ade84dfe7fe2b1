"""Warehouses for the dashboard tests.

``travel_warehouse`` is real: a small travel_bookings source generated into a temporary
Headwater home and the real DAG run once by Airflow (session-scoped: every dashboard test
shares that one run). Expected figures are computed from the SQLite source with ``sqlite3``
(``Source`` below), never read back from the warehouse. ``empty_home`` has no warehouse at all,
``empty_warehouse`` a DuckDB file with nothing in it (no pipeline has run).
"""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from headwater.settings import Settings

HOME_VARS = ("HEADWATER_WAREHOUSE_URL", "HEADWATER_LAKE_URL", "HEADWATER_SOURCE_URL", "AIRFLOW_HOME")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still runs by default)")
    config.addinivalue_line("markers", "browser: drives Debian's Chromium through Playwright")


@dataclass
class Source:
    """The SQLite source of a travel_bookings warehouse, read with sqlite3 for expected values."""

    path: Path
    rates: dict[str, Decimal]

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def eur(self, price: object, currency: str) -> Decimal:
        """A ticket price in EUR, rounded to the cent as the fact table does."""
        return (Decimal(str(price)) * self.rates[currency]).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class TravelWarehouse:
    home: Path
    settings: Settings
    source: Source
    run_id: str | None
    run_state: str
    seconds: float

    @property
    def env(self) -> dict[str, str]:
        return {"HEADWATER_HOME": str(self.home)}


def _isolated_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    for var in HOME_VARS:
        monkeypatch.delenv(var, raising=False)


@contextmanager
def pointing_at(home: Path) -> Iterator[None]:
    """HEADWATER_HOME at a built home (where page queries find dbt's manifest), for a while."""
    with pytest.MonkeyPatch.context() as mp:
        _isolated_env(mp, home)
        yield


@pytest.fixture(scope="module")
def con(request: pytest.FixtureRequest) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only session on the warehouse fixture the module names in ``WAREHOUSE``; the page
    queries find the marts through that home's dbt manifest."""
    from headwater.dashboard.db import Reader

    built = request.getfixturevalue(request.module.WAREHOUSE)
    with pointing_at(built.home), Reader(built.settings.warehouse_url).session() as c:
        yield c


def _built(tmp_path_factory: pytest.TempPathFactory, pipeline: str, scale: float, seed: int):
    """A pipeline's source generated into a fresh home and its real DAG run once by Airflow."""
    from headwater import discovery
    from headwater.orchestration.fixtures import fixture_services
    from headwater.orchestration.pipeline_run import combined, run_pipeline_dags

    home = tmp_path_factory.mktemp(f"dashboard-{pipeline}") / "hw"
    home.mkdir()
    spec = discovery.load_spec(pipeline)
    with pointing_at(home):
        settings = Settings.from_env()
        url = settings.source_url_for(spec)
        as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
        discovery.generator(spec).generate(url, scale=scale, seed=seed, as_of=as_of)
        # every DAG of the pipeline, with the stand-in services its source needs (if any)
        with fixture_services(spec, settings) as served:
            outcome = combined(run_pipeline_dags(served, spec))
    assert outcome.state == "success", f"the {pipeline} DAG run failed; log: {outcome.log}\n{outcome.tasks}"
    return spec, home, settings, Path(url.removeprefix("sqlite:///")), outcome


@pytest.fixture(scope="session")
def travel_warehouse(tmp_path_factory: pytest.TempPathFactory) -> TravelWarehouse:
    """A travel_bookings warehouse built by one real DAG run (about a minute, once per session)."""
    spec, home, settings, source, outcome = _built(tmp_path_factory, "travel_bookings", 0.02, 23)
    rates = {
        r["currency_code"]: Decimal(r["eur_rate"])
        for r in csv.DictReader((spec.dbt_project_dir / "seeds" / "currencies.csv").open())
    }
    return TravelWarehouse(
        home, settings, Source(source, rates), outcome.run_id, outcome.state, outcome.seconds
    )


@dataclass
class FlightsWarehouse:
    home: Path
    settings: Settings
    source: Path
    run_id: str | None

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        con = sqlite3.connect(f"file:{self.source}?mode=ro", uri=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def flights_warehouse(tmp_path_factory: pytest.TempPathFactory) -> FlightsWarehouse:
    """A flights warehouse built by one real run of the flights DAG (its own home)."""
    _spec, home, settings, source, outcome = _built(tmp_path_factory, "flights", 0.4, 31)
    return FlightsWarehouse(home, settings, source, outcome.run_id)


@pytest.fixture(scope="session")
def forex_warehouse(tmp_path_factory: pytest.TempPathFactory) -> FlightsWarehouse:
    """A forex warehouse (its default dev target) built by one real run of its DAG."""
    _spec, home, settings, source, outcome = _built(tmp_path_factory, "forex", 0.05, 37)
    return FlightsWarehouse(home, settings, source, outcome.run_id)


@pytest.fixture(scope="session")
def pacbikes_warehouse(tmp_path_factory: pytest.TempPathFactory) -> FlightsWarehouse:
    """A pacbikes warehouse built by one run of its two DAGs (staging, then warehouse)."""
    _spec, home, settings, source, outcome = _built(tmp_path_factory, "pacbikes", 0.05, 41)
    return FlightsWarehouse(home, settings, source, outcome.run_id)


@pytest.fixture
def flights_env(flights_warehouse: FlightsWarehouse, monkeypatch: pytest.MonkeyPatch) -> FlightsWarehouse:
    _isolated_env(monkeypatch, flights_warehouse.home)
    return flights_warehouse


@pytest.fixture
def travel_env(travel_warehouse: TravelWarehouse, monkeypatch: pytest.MonkeyPatch) -> TravelWarehouse:
    """The environment pointing at the travel warehouse, for code that reads Settings.from_env()."""
    _isolated_env(monkeypatch, travel_warehouse.home)
    return travel_warehouse


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Headwater home where nothing has run: no warehouse file."""
    home = tmp_path / "hw-empty"
    home.mkdir()
    _isolated_env(monkeypatch, home)
    return home


@pytest.fixture
def empty_warehouse(empty_home: Path) -> Path:
    """A warehouse file that exists but holds no pipeline's tables."""
    path = empty_home / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    return path


class WriteLock:
    """Another process holding DuckDB's write lock on a file, as a running load does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> WriteLock:
        code = (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(self.path)!r})\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.communicate(timeout=30)  # closing stdin ends the holder


@pytest.fixture
def write_lock() -> type[WriteLock]:
    return WriteLock


def booking_days(source: Source) -> list[date]:
    return sorted({date.fromisoformat(str(c)[:10]) for (c,) in source.rows("SELECT created_at FROM booking")})


def iter_dates(start: date, end: date) -> Iterator[date]:
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


@dataclass
class B2BWarehouse:
    home: Path
    settings: Settings
    source: Path


@pytest.fixture(scope="session")
def b2b_warehouse(tmp_path_factory: pytest.TempPathFactory) -> B2BWarehouse:
    """A b2b_commerce warehouse: its database, leads and logs generated, both DAGs run once
    (the dbt DAG without the freshness, source-test and docs steps: the page needs the marts)."""
    from headwater import discovery
    from headwater.orchestration.pipeline_run import run_pipeline_dags

    home = tmp_path_factory.mktemp("dashboard-b2b_commerce") / "hw"
    home.mkdir()
    spec = discovery.load_spec("b2b_commerce")
    with pointing_at(home):
        settings = Settings.from_env()
        url = settings.source_url_for(spec)
        others = {s.name: settings.source_url_for(spec, s.name) for s in spec.sources if s.name != "main"}
        as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
        discovery.generator(spec).generate(url, scale=0.05, seed=41, as_of=as_of, other_sources=others)
        off = {"run_docs": False, "run_source_freshness": False, "run_source_tests": False}
        outcomes = run_pipeline_dags(settings, spec, off)
    for o in outcomes:
        assert o.state == "success", f"the {o.dag_id} DAG run failed; log: {o.log}\n{o.tasks}"
    return B2BWarehouse(home, settings, Path(url.removeprefix("sqlite:///")))

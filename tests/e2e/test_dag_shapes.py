"""A pipeline split into two DAGs by its spec, run for real by Airflow (``airflow dags test``).

The pipeline is travel_bookings' source and dbt project under a modified pipeline.yaml in a
temporary folder: an ingest DAG (one task group per source) whose ``publish_assets`` task
updates an Asset, and a warehouse DAG scheduled by that Asset that branches at run time
between a first build (--full-refresh) and a regular run, with steps of its own selectors.
Expected figures come from the source database, read with sqlite3.
"""

from __future__ import annotations

import sqlite3
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from headwater.orchestration.local import airflow_environ
from headwater.orchestration.pipeline_run import combined, run_pipeline_dags
from headwater.pipelines.travel_bookings import generator
from headwater.report import run_report
from headwater.settings import Settings
from headwater.spec import load_spec, load_spec_from
from headwater.warehouse import open_warehouse

pytestmark = pytest.mark.e2e
DBT_PROJECT = load_spec("travel_bookings").dbt_project_dir
INGEST, WAREHOUSE = "travel_bookings_ingest", "travel_bookings_warehouse"
STEPS = ["seed", "staging", "snapshot", "marts", "mart_tests"]

SPEC_TAIL = f"""
transform:
  dbt_project: {DBT_PROJECT}
  steps:
    - seed
    - staging
    - snapshot
    - name: marts
      command: run
      select: [tag:core]
      exclude: [path:models/reports]
    - name: mart_tests
      command: test
      select: [fct_ticket_sales]
      exclude: [assert_rep_booking_summary_reconciles]   # it reads the excluded report

dags:
  - id: {INGEST}
    ingest: by_source
    produces: [raw]
  - id: {WAREHOUSE}
    scheduled_by: [raw]
    steps:
      first_build: [seed, staging, snapshot, marts, mart_tests]
      regular_run: [staging, snapshot, marts, mart_tests]
"""

DAG_FILE = '''"""Airflow DAGs of a test pipeline whose spec lives outside the package."""
from pathlib import Path

from headwater.orchestration import build_dags
from headwater.spec import load_spec_from

globals().update(build_dags(load_spec_from(Path({folder!r}))))
'''


def _pipeline_folder(tmp_path: Path) -> Path:
    """travel_bookings' pipeline.yaml with its transform section replaced and two DAGs."""
    original = (DBT_PROJECT.parent / "pipeline.yaml").read_text()
    head = original[: original.index("\ntransform:")]
    folder = tmp_path / "pipeline"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(head + "\n" + textwrap.dedent(SPEC_TAIL))
    return folder


def _source_counts(url: str) -> dict[str, int]:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in ("ticket", "booking")}
    finally:
        con.close()


def _table_counts(url: str, tables: list[str]) -> dict[str, int]:
    """Rows per source table: what a first load moves."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def _asset_rows(settings: Settings) -> tuple[int, list[str]]:
    """(asset events of our Asset, DAGs Airflow records as scheduled by it), from Airflow's db."""
    db = airflow_environ(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    con = sqlite3.connect(db)
    try:
        events = con.execute(
            "SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ?",
            ["travel_bookings.raw"],
        ).fetchone()[0]
        consumers = [
            r[0]
            for r in con.execute(
                "SELECT r.dag_id FROM dag_schedule_asset_reference r JOIN asset a ON a.id = r.asset_id "
                "WHERE a.name = ?",
                ["travel_bookings.raw"],
            )
        ]
    finally:
        con.close()
    return events, consumers


def test_two_dags_linked_by_an_asset_build_first_then_run_incrementally(hw_home, tmp_path, monkeypatch):
    dags = tmp_path / "dags"
    dags.mkdir()
    folder = _pipeline_folder(tmp_path)
    (dags / "travel_bookings_shapes.py").write_text(DAG_FILE.format(folder=str(folder)))
    monkeypatch.setenv("HEADWATER_DAGS_FOLDER", str(dags))
    settings = Settings.from_env()
    spec = load_spec_from(folder)
    assert [d.dag_id for d in spec.dags_in_order()] == [INGEST, WAREHOUSE]

    as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
    url = spec.source_url(settings.home)
    generator.generate(url, scale=0.02, seed=21, as_of=as_of)
    source = _source_counts(url)
    wh = open_warehouse(settings.warehouse_url)

    first = run_pipeline_dags(settings, spec)
    assert [o.dag_id for o in first] == [INGEST, WAREHOUSE]
    for o in first:
        assert o.state == "success", f"{o.dag_id} failed; log: {o.log}\n{o.tasks}"
    ingest, build = first[0].tasks, first[1].tasks
    assert ingest["ingest_main.plan"] == "success" and ingest["publish_assets"] == "success"
    assert build["first_build_or_regular"] == "success"
    assert all(build[f"first_build.dbt_{s}"] == "success" for s in STEPS)
    assert all(build[f"regular_run.dbt_{s}"] == "skipped" for s in STEPS if s != "seed")
    events, consumers = _asset_rows(settings)
    assert events == 1, "the ingest DAG's outlet records one Asset event per successful run"
    assert consumers == [WAREHOUSE], "the warehouse DAG is scheduled by the Asset"

    # The custom steps' selectors: marts built, reports excluded, the fact's tests ran.
    fact = "wh.travel_bookings_core.fct_ticket_sales"
    assert wh.query(f"SELECT count(*), count(DISTINCT ticket_id) FROM {fact}") == [
        (source["ticket"], source["ticket"])
    ]
    reports = wh.query(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'wh' "
        "AND schema_name = 'travel_bookings_reports'"
    )
    assert reports == [(0,)], "path:models/reports was excluded from the marts step"
    tests = wh.query(
        "SELECT count(*), count(*) FILTER (WHERE status IN ('fail', 'error')) FROM wh.headwater.dbt_results "
        "WHERE run_id = ? AND step = 'mart_tests'",
        [first[1].run_id],
    )
    assert tests[0][0] > 0 and tests[0][1] == 0, "the fact's tests ran (warnings allowed), none failed"
    alerts = dict(wh.query("SELECT pipeline, state FROM wh.headwater.alerts ORDER BY pipeline"))
    assert alerts == {INGEST: "ok", WAREHOUSE: "ok"}, "alert state is kept per DAG"
    ledger = wh.query(
        "SELECT run_id, outcome, rows_loaded, el_seconds > 0, dbt_seconds > 0 FROM wh.headwater.runs "
        "WHERE pipeline = 'travel_bookings' ORDER BY ended_at"
    )
    loaded = sum(_table_counts(url, [t.name for t in spec.tables]).values())
    assert ledger == [
        (first[0].run_id, "success", loaded, True, False),  # tasks in groups count as EL time
        (first[1].run_id, "success", 0, False, True),  # dbt tasks in branch paths as dbt time
    ]

    # The run's summary counts both DAGs: the ingest DAG's loads and the warehouse DAG's dbt.
    report = run_report(spec, settings.warehouse_url, combined(first).run_ids)
    assert sum(t["rows"] for t in report.loaded.values()) == loaded
    dbt_counts = wh.query(
        "SELECT count(*) FILTER (WHERE resource_type = 'model' AND status = 'success'), "
        "count(*) FILTER (WHERE resource_type IN ('test', 'unit_test') AND status = 'pass') "
        "FROM wh.headwater.dbt_results WHERE run_id = ?",
        [first[1].run_id],
    )
    assert (report.models_built, report.tests()["pass"]) == dbt_counts[0] and report.models_built > 0

    # New rows in the source: the second run takes the regular (incremental) path.
    # advance also purges long-cancelled bookings, so the count may shrink: check both moves.
    changed = generator.advance(
        url, seed=22, as_of=as_of + timedelta(hours=1), new_fraction=0.05, update_fraction=0.05
    )
    grown = _source_counts(url)
    assert changed["new_tickets"] > 0, "advance added tickets"
    assert grown["ticket"] == source["ticket"] + changed["new_tickets"] - changed["purged_tickets"]
    second = run_pipeline_dags(settings, spec)
    for o in second:
        assert o.state == "success", f"{o.dag_id} failed; log: {o.log}\n{o.tasks}"
    build = second[1].tasks
    assert all(build[f"regular_run.dbt_{s}"] == "success" for s in STEPS if s != "seed")
    assert all(build[f"first_build.dbt_{s}"] == "skipped" for s in STEPS)
    assert wh.query(f"SELECT count(*), count(DISTINCT ticket_id) FROM {fact}") == [
        (grown["ticket"], grown["ticket"])
    ]
    assert _asset_rows(settings)[0] == 2

    # A failed ingest updates no Asset, so the warehouse DAG is not run (as the scheduler would
    # not start it); the failure is the ingest DAG's alert state, not the warehouse's.
    source_file = Path(url.removeprefix("sqlite:///"))
    source_file.rename(source_file.with_suffix(".moved"))
    third = run_pipeline_dags(settings, spec)
    assert [(o.dag_id, o.state) for o in third] == [(INGEST, "failed")]
    assert third[0].tasks["publish_assets"] == "upstream_failed"
    assert _asset_rows(settings)[0] == 2
    alerts = dict(wh.query("SELECT pipeline, state FROM wh.headwater.alerts ORDER BY pipeline"))
    assert alerts == {INGEST: "failing", WAREHOUSE: "ok"}

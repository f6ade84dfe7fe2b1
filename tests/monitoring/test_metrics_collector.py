"""The metrics collector on a hand-made ledger and a hand-made Airflow metadata database.

The e2e test scrapes a real pipeline's ledger with a real Prometheus; this one pins what is
hard to get from one real run: a running scheduler's heartbeat, failed dbt tests, pools in
use, an unreadable warehouse, and that nothing is cached between scrapes.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from headwater.monitoring.ledger import AlertState, RunRecord, record_run
from headwater.monitoring.metrics import HeadwaterCollector
from headwater.settings import Settings
from headwater.warehouse import open_warehouse

NOW = datetime(2026, 3, 1, 12, 0, 0)


def _samples(collector) -> dict[tuple[str, tuple], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _airflow_db(path) -> str:
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE job (id INTEGER, job_type TEXT, state TEXT, latest_heartbeat TIMESTAMP);
        CREATE TABLE import_error (id INTEGER);
        CREATE TABLE task_instance (state TEXT, pool TEXT, pool_slots INTEGER);
        CREATE TABLE slot_pool (pool TEXT, slots INTEGER);
        CREATE TABLE dag_run (state TEXT);
        INSERT INTO import_error VALUES (1), (2);
        INSERT INTO slot_pool VALUES ('default_pool', 128), ('headwater_duckdb', 1);
        INSERT INTO task_instance VALUES ('running', 'default_pool', 1), ('running', 'default_pool', 2),
            ('queued', 'default_pool', 1), ('running', 'headwater_duckdb', 1), ('success', 'default_pool', 1);
        INSERT INTO dag_run VALUES ('running'), ('success');
        """
    )
    con.execute(
        "INSERT INTO job VALUES (1, 'SchedulerJob', 'running', ?), (2, 'SchedulerJob', 'failed', ?)",
        [(NOW - timedelta(seconds=42)).isoformat(sep=" "), NOW.isoformat(sep=" ")],
    )
    con.commit()
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, hw_home, monkeypatch) -> str:
    if request.param == "postgres":
        monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", request.getfixturevalue("pg_database"))
    return Settings.from_env().warehouse_url


def test_collector_reads_ledger_and_airflow_on_every_scrape(warehouse_url, tmp_path):
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    wh.record_dbt_results("p", "r1", "test_all", [
        {"unique_id": "test.p.unique_x", "resource_type": "test", "status": "fail", "execution_time": 0.2,
         "failures": 7},
        {"unique_id": "model.p.fct_x", "resource_type": "model", "status": "success", "execution_time": 1.5},
    ])  # fmt: skip
    record_run(
        wh,
        RunRecord("p", "r1", NOW, NOW - timedelta(seconds=90), NOW, "failed", 90.0, rows_extracted=10),
        AlertState("p", "failing"),
    )
    collector = HeadwaterCollector(settings.warehouse_url, _airflow_db(tmp_path / "airflow.db"))
    collector_now = NOW.timestamp()  # the ledger's naive timestamps are UTC
    collector.clock = lambda: collector_now

    got = _samples(collector)
    assert got[("headwater_warehouse_up", ())] == 1
    assert got[("headwater_runs_total", (("outcome", "failed"), ("pipeline", "p")))] == 1
    assert got[("headwater_last_run_success", (("pipeline", "p"),))] == 0
    assert got[("headwater_last_run_duration_seconds", (("pipeline", "p"),))] == 90
    assert got[("headwater_dbt_test_failures", (("pipeline", "p"), ("test", "test.p.unique_x")))] == 7
    assert (
        got[("headwater_dbt_model_duration_seconds", (("model", "model.p.fct_x"), ("pipeline", "p")))] == 1.5
    )
    assert got[("headwater_airflow_up", ())] == 1
    assert got[("headwater_airflow_scheduler_heartbeat_age_seconds", ())] == 42  # the running one
    assert got[("headwater_airflow_import_errors", ())] == 2
    assert got[("headwater_airflow_task_instances", (("state", "running"),))] == 3
    assert got[("headwater_airflow_task_instances", (("state", "queued"),))] == 1
    assert got[("headwater_airflow_pool_slots", (("pool", "default_pool"), ("state", "running")))] == 3
    assert got[("headwater_airflow_pool_slots", (("pool", "default_pool"), ("state", "open")))] == 128 - 4
    assert got[("headwater_airflow_pool_slots", (("pool", "headwater_duckdb"), ("state", "open")))] == 0
    assert got[("headwater_airflow_dag_runs", (("state", "running"),))] == 1

    # a second run is seen by the next scrape: nothing is cached in the collector
    record_run(wh, RunRecord("p", "r2", NOW, NOW, NOW + timedelta(seconds=5), "success", 5.0), None)
    got = _samples(collector)
    assert got[("headwater_runs_total", (("outcome", "success"), ("pipeline", "p")))] == 1
    assert got[("headwater_last_run_success", (("pipeline", "p"),))] == 1


def test_an_unreadable_source_is_reported_down_not_raised(tmp_path):
    collector = HeadwaterCollector(
        f"duckdb:///{tmp_path / 'missing.duckdb'}", f"sqlite:///{tmp_path / 'none.db'}"
    )
    got = _samples(collector)
    assert got[("headwater_warehouse_up", ())] == 0
    assert got[("headwater_airflow_up", ())] == 0
    assert not any(name.startswith("headwater_runs") for name, _ in got)


def test_reconcile_results_become_metrics_per_table(warehouse_url):
    """The latest reconcile of each table (missing/extra/different) and the delete marks."""
    from headwater.reconcile import DELETES, RECONCILE, TableReport, record
    from headwater.reconcile.compare import Comparison

    settings = Settings.from_env()
    old = TableReport("p", "orders", "different", comparison=Comparison(missing=9, extra=9, different=9))
    record(settings, [old], RECONCILE, "r1")
    latest = TableReport("p", "orders", "different", comparison=Comparison(missing=1, extra=2, different=3))
    record(settings, [latest], RECONCILE, "r2")
    record(settings, [TableReport("p", "orders", "equal", marked=4)], DELETES, "r2")
    record(settings, [TableReport("p", "orders", "equal", marked=5)], DELETES, "r3")
    got = _samples(HeadwaterCollector(settings.warehouse_url, None))
    for difference, n in (("missing", 1), ("extra", 2), ("different", 3)):
        labels = (("difference", difference), ("pipeline", "p"), ("table", "orders"))
        assert got[("headwater_reconcile_rows", labels)] == n
    assert got[("headwater_rows_marked_deleted_total", (("pipeline", "p"), ("table", "orders")))] == 9
    assert ("headwater_reconcile_timestamp_seconds", (("pipeline", "p"), ("table", "orders"))) in got

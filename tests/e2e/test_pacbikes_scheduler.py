"""pacbikes' two DAGs under a real scheduler (Airflow's scheduler, dag-processor and
api-server via ``headwater ui``, LocalExecutor), not ``airflow dags test``, with Airflow's
StatsD metrics on and sent to a loopback UDP socket.

- The staging DAG's scheduled run updates the Asset (``publish_assets``) and the scheduler
  starts pacbikes_warehouse because of that event: nothing else could start it (it has no
  time schedule, nobody triggers it).
- The StatsD lines Airflow really sent, mapped by deploy/statsd/mapping.yml as statsd_exporter
  maps them, give every Airflow metric the Grafana dashboard's panels query.

Kept short: the Variable ``headwater_pacbikes_tables`` limits the staging run to one table, so
the warehouse build that follows fails on the tables it lacks, which also makes Airflow report
a task failure, a metric the dashboard shows; the test stops there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.orchestration.local import airflow_environ
from headwater.pipelines.pacbikes import generator
from headwater.settings import Settings, source_token_variable, source_url_variable
from headwater.spec import load_spec
from tests.e2e.test_alerts_under_scheduler import _query, _wait
from tests.monitoring import statsd_mapping
from tests.monitoring.promserver import free_port
from tests.monitoring.test_deploy import DEPLOY, metric_names

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]
STAGING, WAREHOUSE = "pacbikes_staging", "pacbikes_warehouse"


def _airflow(settings: Settings, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=airflow_environ(settings), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _first(db: Path, sql: str, *params: str):
    return lambda: next(iter(_query(db, sql, params)), None)


def _panel_metrics() -> set[str]:
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "airflow_health.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    return {n for e in exprs for n in metric_names(e) if n.startswith("airflow_")}


def test_the_asset_starts_the_warehouse_run_and_airflow_statsd_feeds_every_panel(hw_home: Path, monkeypatch):
    settings = Settings.from_env()
    spec = load_spec("pacbikes")
    url = settings.source_url_for(spec)
    generator.generate(url, scale=0.02, seed=5)
    monkeypatch.setenv("HEADWATER_RETRIES", "0")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    monkeypatch.setenv("AIRFLOW_VAR_HEADWATER_PACBIKES_TABLES", json.dumps(["shipmethod"]))
    # A task's calls to the execution API wait longer than Airflow's 5 s default before the
    # task is given up: on a busy 2-core machine the api-server can answer slowly.
    monkeypatch.setenv("AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT", "60")
    db = settings.airflow_home / "airflow.db"
    log = hw_home / "standalone.log"
    with generator.serve(url) as services, statsd_mapping.StatsdReceiver() as statsd:
        for name, service in services.items():
            monkeypatch.setenv(source_url_variable(spec.name, name), service.url)
            monkeypatch.setenv(source_token_variable(name), service.token or "")
        for key, value in statsd.environ().items():
            monkeypatch.setenv(key, value)
        settings = Settings.from_env()
        cli = Path(sys.executable).parent / "headwater"
        proc = subprocess.Popen(
            [str(cli), "ui", "--port", str(free_port())],
            env=dict(os.environ), stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            parsed = (
                f"SELECT count(*) FROM dag WHERE dag_id IN ('{STAGING}', '{WAREHOUSE}') HAVING count(*) = 2"
            )
            _wait("both DAGs to be parsed", lambda: _query(db, parsed), log, proc)
            _airflow(settings, "dags", "unpause", WAREHOUSE)
            _airflow(settings, "dags", "unpause", STAGING)  # schedules its latest daily run
            # Deadlines are generous: a 2-core machine running other suites can take minutes.
            warehouse = _wait(
                "the scheduler to start the warehouse DAG from the Asset event",
                _first(
                    db,
                    "SELECT r.run_id, r.run_type, e.source_dag_id, e.source_run_id, e.source_task_id "
                    "FROM dag_run AS r JOIN dagrun_asset_event AS l ON l.dag_run_id = r.id "
                    "JOIN asset_event AS e ON e.id = l.event_id WHERE r.dag_id = ?",
                    WAREHOUSE,
                ),
                log,
                proc,
                deadline_s=1200,
            )
            staging_state = _wait(
                "the staging run to end",
                _first(
                    db,
                    "SELECT state FROM dag_run WHERE run_id = ? AND state IN ('success', 'failed')",
                    warehouse[3],
                ),
                log,
                proc,
                deadline_s=1200,
            )
            # The warehouse build fails at its first dbt model on the tables it lacks.
            _wait(
                "a warehouse task to fail",
                _first(
                    db,
                    "SELECT task_id FROM task_instance WHERE run_id = ? AND state = 'failed'",
                    warehouse[0],
                ),
                log,
                proc,
                deadline_s=1200,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=90)
    _run_id, run_type, source_dag, source_run, source_task = warehouse
    assert run_type == "asset_triggered"
    assert (source_dag, source_task) == (STAGING, "publish_assets") and source_run.startswith("scheduled__")
    assert staging_state == ("success",)
    assert _query(
        db, "SELECT count(*) FROM dag_run WHERE dag_id = ? AND run_type <> 'asset_triggered'", (WAREHOUSE,)
    ) == [(0,)]

    mapping = statsd_mapping.rules()
    samples = [s for s in (statsd_mapping.apply(line, mapping) for line in statsd.lines) if s is not None]
    exported = {name for s in samples for name in statsd_mapping.exported(s)}
    missing = _panel_metrics() - exported
    assert not missing, f"panels query metrics Airflow's StatsD output never became: {missing}"
    labels = {(s.name, s.labels) for s in samples}
    assert ("airflow_dagrun_duration_success", (("dag_id", STAGING),)) in labels
    assert ("airflow_dagrun_schedule_delay", (("dag_id", STAGING),)) in labels
    assert ("airflow_pool_open_slots", (("pool", "default_pool"),)) in labels

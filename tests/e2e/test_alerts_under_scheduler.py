"""The run-level alert under a real scheduler: Airflow standalone (scheduler, dag-processor,
api-server, LocalExecutor with task subprocesses talking to the execution API), not
``airflow dags test``. A failing run posts exactly one message, from ``report_run``."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.orchestration.local import airflow_environ
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from tests.monitoring.promserver import free_port
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e


def _query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return []
    finally:
        con.close()


def _wait(what: str, check, log: Path, proc: subprocess.Popen, deadline_s: float = 420):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"Airflow exited while waiting for {what}:\n{log.read_text()[-3000:]}"
        value = check()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"gave up waiting for {what}; log:\n{log.read_text(errors='replace')[-3000:]}")


def test_a_scheduled_failing_run_posts_one_alert(hw_home: Path, monkeypatch):
    settings = Settings.from_env()
    url = load_spec("travel_bookings").source_url(settings.home)
    generator.generate(url, scale=0.02, seed=2)
    con = sqlite3.connect(url[len("sqlite:///") :])
    con.execute("DROP TABLE ticket_segment")
    con.commit()
    con.close()
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    monkeypatch.setenv("HEADWATER_RETRIES", "0")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    db = settings.airflow_home / "airflow.db"
    port = free_port()
    log = hw_home / "standalone.log"
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        cli = Path(sys.executable).parent / "headwater"
        proc = subprocess.Popen(
            [str(cli), "ui", "--port", str(port)],
            env=dict(os.environ), stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            parsed = "SELECT 1 FROM dag WHERE dag_id = 'travel_bookings'"
            _wait("the DAG to be parsed", lambda: _query(db, parsed), log, proc)
            # Only this DAG runs: every DAG starts paused, unpausing schedules its latest interval.
            unpause = subprocess.run(
                [sys.executable, "-m", "airflow", "dags", "unpause", "travel_bookings"],
                env=airflow_environ(settings), capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert unpause.returncode == 0, unpause.stdout + unpause.stderr
            run_id, state = _wait(
                "the run to finish",
                lambda: next(
                    iter(
                        _query(
                            db,
                            "SELECT run_id, state FROM dag_run WHERE dag_id = 'travel_bookings' "
                            "AND state IN ('success', 'failed')",
                        )
                    ),
                    None,
                ),
                log,
                proc,
            )
            states = dict(
                (f"{t}[{r or m}]" if m >= 0 else t, s)
                for t, m, r, s in _query(
                    db,
                    "SELECT task_id, map_index, rendered_map_index, state FROM task_instance "
                    "WHERE run_id = ?",
                    (run_id,),
                )
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=90)
        posts = list(slack.posts)
    assert state == "failed", states
    assert states["extract[ticket_segment]"] == "failed" and states["report_run"] == "failed", states
    assert len(posts) == 1, posts  # one run, one message (and nothing from the paused DAGs)
    text = json.dumps(posts[0]["json"])
    for expected in (run_id, "extract[ticket_segment]", "SourceError", "task log"):
        assert expected in text, f"{expected!r} not in {text}"

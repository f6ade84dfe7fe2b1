"""One-shot runs through real Airflow (``airflow dags test``) after a killed run, and with a
DAG file Airflow would skip (issue 12, classes 6 and 11)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.cli import main
from headwater.orchestration.local import airflow_environ, run_dag, task_states
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec

pytestmark = pytest.mark.e2e
SPEC = load_spec("travel_bookings")


def _dag_runs(db: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return dict(con.execute("SELECT run_id, state FROM dag_run WHERE dag_id = 'travel_bookings'"))
    finally:
        con.close()


def test_a_one_shot_run_first_fails_the_run_a_killed_process_left_running(hw_home: Path):
    settings = Settings.from_env()
    generator.generate(SPEC.source_url(settings.home), scale=0.02, seed=8)
    env = airflow_environ(settings)
    cli = Path(sys.executable).parent / "headwater"
    log = hw_home / "killed.log"
    killed = subprocess.Popen(
        [str(cli), "run", "travel_bookings", "--quiet"],
        env=dict(os.environ), stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    extracts = [f"extract[{t.name}]" for t in SPEC.tables]
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            assert killed.poll() is None, log.read_text()[-3000:]
            run_id, _, states = task_states(env, "travel_bookings", 0)
            if states and all(states.get(e) == "success" for e in extracts):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"the extracts never finished: {log.read_text()[-3000:]}")
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # the run and its `airflow dags test` child
        killed.wait()
    db = settings.airflow_home / "airflow.db"
    assert run_id and _dag_runs(db) == {run_id: "running"}, "the kill left the run `running`"

    outcome = run_dag(settings, "travel_bookings")
    assert outcome.stale_runs_failed == [run_id]
    assert outcome.state == "success", outcome.log.read_text()[-3000:]
    runs = _dag_runs(db)
    assert runs[run_id] == "failed" and runs[outcome.run_id] == "success"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    unfinished = con.execute(
        "SELECT count(*) FROM task_instance WHERE run_id = ? AND state IN ('running', 'queued', 'scheduled')",
        [run_id],
    ).fetchone()[0]
    con.close()
    assert unfinished == 0, "no task of the killed run is left for a scheduler to resume"


def test_a_dag_file_airflow_skips_is_named_and_nothing_says_none(hw_home: Path, monkeypatch, capsys):
    dags = hw_home / "dags"
    dags.mkdir()
    # No "airflow" anywhere in the file: Airflow's safe mode never even parses it.
    (dags / "travel_bookings.py").write_text(
        "from headwater.orchestration import build_dag\n\ndag = build_dag('travel_bookings')\n"
    )
    monkeypatch.setenv("HEADWATER_DAGS_FOLDER", str(dags))
    assert main(["run", "travel_bookings", "--quiet"]) != 0
    out = capsys.readouterr().out.replace("\n", "")  # the console wraps long paths at 80 columns
    assert str(dags / "travel_bookings.py") in out, out
    assert '"airflow"' in out and "None" not in out and "?" not in out, out

    (dags / "travel_bookings.py").unlink()
    assert main(["run", "travel_bookings", "--quiet"]) != 0
    out = capsys.readouterr().out
    assert "no file in the DAGs folder" in " ".join(out.split()) and "None" not in out, out

"""The warm Airflow process one-shot runs share (orchestration/runner.py), with a real Airflow.

A two-task DAG in a scratch DAGs folder records, from inside its task, the runner's pid and
the variables it sees. Checked: runs of one environment share one process; each run's tasks
see that run's variables (not the previous run's); another Airflow configuration gets its own
runner; a runner killed mid-run fails that run with the kill's code and the next run starts a
new one; a failing task is a failed run with a useful log, and the runner survives it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from headwater.orchestration import local
from headwater.orchestration.local import run_dag
from headwater.settings import Settings

DAG_FILE = '''
"""Airflow DAG for the runner test."""
import json, os, time
from pathlib import Path
import pendulum
from airflow.sdk import dag, task

@dag(dag_id="runner_probe", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False)
def probe():
    @task
    def record():
        out = Path(os.environ["PROBE_OUT"])
        out.write_text(json.dumps({"pid": os.getpid(), "value": os.environ.get("PROBE_VALUE")}))
        if os.environ.get("PROBE_SLEEP"):
            time.sleep(float(os.environ["PROBE_SLEEP"]))
        if os.environ.get("PROBE_FAIL"):
            raise RuntimeError("probe asked to fail: " + os.environ["PROBE_FAIL"])

    @task
    def after():
        pass

    record() >> after()

probe()
'''


@pytest.fixture
def probe(hw_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dags = hw_home / "dags"
    dags.mkdir()
    # The runner first parses the file named like the DAG (or its prefix): here a decoy
    # without it, so every run also proves the fall-back to the whole folder.
    (dags / "runner.py").write_text("# An Airflow DAG file that builds no dag.\n")
    (dags / "probes.py").write_text(DAG_FILE)
    monkeypatch.setenv("HEADWATER_DAGS_FOLDER", str(dags))
    local.close_runner()
    yield hw_home / "probe.json"
    local.close_runner()


def _run(out: Path, monkeypatch: pytest.MonkeyPatch, value: str, **extra: str):
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv("PROBE_VALUE", value)
    for key in ("PROBE_SLEEP", "PROBE_FAIL"):
        monkeypatch.delenv(key, raising=False)
    for key, v in extra.items():
        monkeypatch.setenv(key, v)
    outcome = run_dag(Settings.from_env(), "runner_probe")
    return outcome, json.loads(out.read_text()) if out.exists() else None


def test_runs_share_one_process_and_each_sees_its_own_environment(probe: Path, monkeypatch):
    first, seen_first = _run(probe, monkeypatch, "one")
    assert first.state == "success", first.log.read_text()[-3000:]
    second, seen_second = _run(probe, monkeypatch, "two")
    assert second.state == "success", second.log.read_text()[-3000:]
    assert seen_first["value"] == "one" and seen_second["value"] == "two"
    assert seen_first["pid"] == seen_second["pid"], "the second run started another Airflow"
    assert first.log != second.log and "runner_probe" in second.log.read_text()

    # Another Airflow configuration (here: one more core option) is another runner.
    monkeypatch.setenv("AIRFLOW__CORE__DEFAULT_TASK_RETRIES", "0")
    third, seen_third = _run(probe, monkeypatch, "three")
    assert third.state == "success", third.log.read_text()[-3000:]
    assert seen_third["value"] == "three" and seen_third["pid"] != seen_second["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(seen_second["pid"], 0)  # the old runner was ended, not left behind


def test_a_failing_task_fails_the_run_and_the_runner_goes_on(probe: Path, monkeypatch):
    failed, seen = _run(probe, monkeypatch, "x", PROBE_FAIL="on purpose")
    assert failed.state == "failed" and failed.returncode != 0
    assert failed.tasks.get("record") == "failed" and failed.tasks.get("after") == "upstream_failed"
    assert "probe asked to fail: on purpose" in failed.log.read_text()
    ok, seen_ok = _run(probe, monkeypatch, "y")
    assert ok.state == "success" and seen_ok["pid"] == seen["pid"]


def test_a_runner_killed_mid_run_fails_that_run_and_the_next_run_gets_a_new_one(probe: Path, monkeypatch):
    import threading

    def kill_when_recorded() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if probe.exists():
                os.kill(json.loads(probe.read_text())["pid"], signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_recorded)
    killer.start()
    killed, seen = _run(probe, monkeypatch, "k", PROBE_SLEEP="60")
    killer.join()
    assert killed.returncode == -signal.SIGKILL and killed.state != "success"
    probe.unlink()
    # The run the kill left running is failed by the next run (nothing owns it any more).
    after, seen_after = _run(probe, monkeypatch, "after")
    assert after.state == "success", after.log.read_text()[-3000:]
    assert seen_after["pid"] != seen["pid"]
    assert killed.run_id in after.stale_runs_failed


# -- kept warm between commands (HEADWATER_KEEP_WARM_SECONDS) ----------------------------------
@pytest.fixture
def warm(probe: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HEADWATER_KEEP_WARM_SECONDS", "120")
    started: list[int] = []
    yield started
    for pid in started:  # the test's warm runners do not wait out their idle time
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _gone(pid: int, within: float = 20) -> bool:
    """Ended (a zombie counts: a runner this test process started is its child, unreaped)."""
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_a_warm_runner_outlives_the_command_and_serves_the_next(probe: Path, warm, monkeypatch):
    import stat

    first, seen_first = _run(probe, monkeypatch, "one")
    warm.append(seen_first["pid"])
    assert first.state == "success", first.log.read_text()[-3000:]
    assert os.getsid(seen_first["pid"]) != os.getsid(0), "the warm runner has a session of its own"
    local.close_runner()  # what the end of a command does: the warm runner is not this process's
    second, seen_second = _run(probe, monkeypatch, "two")
    assert second.state == "success" and seen_second == {"pid": seen_first["pid"], "value": "two"}
    socket_path = local._warm_socket(local.airflow_environ(Settings.from_env()))
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600

    # Busy (another command holds its lock): this run gets a runner of its own, at once.
    import fcntl

    with open(f"{socket_path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        third, seen_third = _run(probe, monkeypatch, "three")
    assert third.state == "success" and seen_third["pid"] != seen_first["pid"]
    assert local._runner is not None and seen_third["pid"] == local._runner.proc.pid


def test_a_command_killed_mid_run_takes_the_warm_runner_and_its_run_with_it(probe: Path, warm, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("PROBE_OUT", str(probe))
    monkeypatch.setenv("PROBE_VALUE", "killed")
    monkeypatch.setenv("PROBE_SLEEP", "60")
    command = subprocess.Popen(
        [sys.executable, "-c", "from headwater.orchestration.local import run_dag; from headwater.settings "
         "import Settings; run_dag(Settings.from_env(), 'runner_probe')"],
        env=dict(os.environ),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not probe.exists() and time.monotonic() < deadline:
        assert command.poll() is None, "the command ended before its task ran"
        time.sleep(0.1)
    runner_pid = json.loads(probe.read_text())["pid"]
    warm.append(runner_pid)
    command.kill()
    command.wait()
    assert _gone(runner_pid), "the warm runner went on with the killed command's run"
    probe.unlink()
    after, seen = _run(probe, monkeypatch, "after")
    warm.append(seen["pid"])
    assert after.state == "success", after.log.read_text()[-3000:]
    assert len(after.stale_runs_failed) == 1, "the killed command's run is failed, not left running"


def test_an_idle_warm_runner_ends_on_a_plain_kill(probe: Path, warm, monkeypatch):
    done, seen = _run(probe, monkeypatch, "term")
    warm.append(seen["pid"])
    assert done.state == "success", done.log.read_text()[-3000:]
    os.kill(seen["pid"], signal.SIGTERM)
    assert _gone(seen["pid"], within=15), "SIGTERM did not end the idle runner"

"""Airflow on this machine: the environment, the metadata database, and one-shot DAG runs.

The embedded default keeps Airflow's home, SQLite metadata and logs under HEADWATER_HOME,
binds every server to 127.0.0.1, and runs a DAG with ``airflow dags test`` (the whole DAG
in one process, no scheduler), which is also what the end-to-end tests use.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from headwater.orchestration.dag import DUCKDB_POOL
from headwater.settings import Settings


def airflow_environ(settings: Settings) -> dict[str, str]:
    """Environment for Airflow processes; values already set by the user win."""
    home = settings.airflow_home
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": "8080",
        "AIRFLOW__API__BASE_URL": "http://127.0.0.1:8080",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    env = dict(os.environ)
    # Airflow starts its own sub-commands (standalone -> scheduler, api-server) by name.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for key, value in defaults.items():
        env.setdefault(key, value)
    env.update(
        {
            "HEADWATER_HOME": str(settings.home),
            "HEADWATER_WAREHOUSE_URL": settings.warehouse_url,
            "HEADWATER_LAKE_URL": settings.lake_url,
            "HEADWATER_DAGS_FOLDER": str(settings.dags_folder),
        }
    )
    if settings.source_url:
        env["HEADWATER_SOURCE_URL"] = settings.source_url
    env.update({f"HEADWATER_SOURCE_{key}_URL": url for key, url in settings.source_urls.items()})
    if settings.pipeline_paths:
        env["HEADWATER_PIPELINE_PATHS"] = os.pathsep.join(map(str, settings.pipeline_paths))
    return env


def _airflow(
    args: list[str], env: dict[str, str], log: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    out = log.open("ab") if log else subprocess.PIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    if check and proc.returncode != 0:
        detail = proc.stdout.decode(errors="replace")[-2000:] if proc.stdout else f"see {log}"
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed:\n{detail}")
    return proc


def ensure_airflow(settings: Settings, env: dict[str, str]) -> None:
    """Create Airflow's metadata database and the DuckDB pool once."""
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".headwater-ready"
    if marker.exists():
        return
    log = home / "setup.log"
    _airflow(["db", "migrate"], env, log)
    _airflow(["pools", "set", DUCKDB_POOL, "1", "One writer at a time for the DuckDB warehouse"], env, log)
    marker.write_text("ok\n")


@dataclass
class RunOutcome:
    dag_id: str
    run_id: str | None
    state: str
    returncode: int
    seconds: float
    log: Path
    tasks: dict[str, str] = field(default_factory=dict)


def _metadata_db(env: dict[str, str]) -> Path | None:
    url = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    return Path(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else None


def latest_run_number(env: dict[str, str], dag_id: str) -> int:
    """The metadata row id of the DAG's newest run (0 if none), to tell our run from older ones."""
    db = _metadata_db(env)
    if db is None or not db.exists():
        return 0
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT max(id) FROM dag_run WHERE dag_id = ?", [dag_id]).fetchone()
        return int(row[0] or 0)
    finally:
        con.close()


def task_states(
    env: dict[str, str], dag_id: str, after: int
) -> tuple[str | None, str | None, dict[str, str]]:
    """(run_id, run state, {task label: state}) of the newest run with a row id above ``after``."""
    db = _metadata_db(env)
    if db is None or not db.exists():
        return None, None, {}
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = con.execute(
                "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND id > ? ORDER BY id DESC LIMIT 1",
                [dag_id, after],
            ).fetchone()
            if row is None:
                return None, None, {}
            tis = con.execute(
                "SELECT task_id, map_index, rendered_map_index, state FROM task_instance "
                "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
                [dag_id, row[0]],
            ).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None, None, {}
    states = {}
    for task_id, map_index, rendered, state in tis:
        label = task_id if map_index < 0 else f"{task_id}[{rendered or map_index}]"
        states[label] = state or "queued"
    return row[0], row[1], states


def run_dag(
    settings: Settings,
    dag_id: str,
    conf: dict | None = None,
    on_poll: Callable[[str | None, dict[str, str]], None] | None = None,
    retries: int = 0,
) -> RunOutcome:
    """Run one DAG to completion in-process via ``airflow dags test``.

    Retries default to 0 here: a one-shot run should fail fast and say why, not sit out the
    spec's retry delay (scheduled runs keep the spec's retries).
    """
    env = airflow_environ(settings)
    env["HEADWATER_RETRIES"] = str(retries)
    ensure_airflow(settings, env)
    log = settings.airflow_home / "runs" / f"{dag_id}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    before = latest_run_number(env, dag_id)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, "-c", json.dumps(conf or {})],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        while proc.poll() is None:
            if on_poll:
                run_id, _, states = task_states(env, dag_id, before)
                on_poll(run_id, states)
            time.sleep(0.5)
    run_id, state, states = task_states(env, dag_id, before)
    if on_poll:
        on_poll(run_id, states)
    return RunOutcome(
        dag_id,
        run_id,
        state or ("success" if proc.returncode == 0 else "failed"),
        proc.returncode,
        time.time() - started,
        log,
        states,
    )

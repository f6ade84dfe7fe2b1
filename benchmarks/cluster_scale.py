"""The production profile's DAG runs: one-shot vs a scheduler with LocalExecutor vs Celery.

    .venv/bin/python benchmarks/cluster_scale.py --scale 10 --json benchmarks/cluster_scale.json

The same data for every setup: ``travel_bookings`` generated once at ``--scale`` into a
Postgres source database (not timed); each setup gets a new, empty Postgres warehouse and
runs the DAG cold (first build: every table loaded in full, all eight dbt steps):

* ``oneshot``: ``headwater run travel_bookings`` (``airflow dags test``: every task in one
  process, no scheduler), the embedded default's way, here on Postgres;
* ``local``: ``headwater cluster up --executor local`` (api-server, scheduler with
  LocalExecutor, dag-processor, triggerer; metadata on Postgres) and ``cluster run``;
* ``celeryN``: ``headwater cluster up --workers N`` (Celery on Redis, two slots per worker).

Measured per setup from Airflow's metadata: the DAG run's wall time (start to end, cluster
start-up excluded), tasks per minute, and the scheduling delay of each task (from scheduled
to running). After each run the warehouse's raw tables must hold the source's row counts, or
the benchmark fails. Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from headwater.orchestration.cluster import free_port

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "travel_bookings"
TABLES = ("booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment")
CLI = str(Path(sys.executable).parent / "headwater")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _db(admin: str, name: str, drop: bool = False) -> str:
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{admin.rsplit('/', 1)[0]}/{name}"


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "AIRFLOW", "DBT_"))}
    return {**env, "HEADWATER_HOME": str(home), **extra}


def _run(cmd: list[str], env: dict[str, str], log_file: Path) -> None:
    with log_file.open("ab") as out:
        rc = subprocess.run(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        ).returncode
    if rc != 0:
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed (exit {rc}); see {log_file}")


def _counts(url: str, schema: str | None) -> dict[str, int]:
    with psycopg.connect(url) as con:
        q = (
            (
                lambda t: sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(t)
                )
            )
            if schema
            else (lambda t: sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t)))
        )
        return {t: con.execute(q(t)).fetchone()[0] for t in TABLES}  # type: ignore[index]


def _run_metrics(metadata_url: str) -> dict[str, Any]:
    url = metadata_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as con:
        start, end = con.execute(
            "SELECT start_date, end_date FROM dag_run WHERE dag_id = %s ORDER BY id DESC LIMIT 1", [PIPELINE]
        ).fetchone()  # type: ignore[misc]
        rows = con.execute(
            "SELECT task_id, state, extract(epoch FROM start_date - scheduled_dttm), "
            "extract(epoch FROM end_date - start_date), hostname FROM task_instance WHERE dag_id = %s",
            [PIPELINE],
        ).fetchall()
    ran = [r for r in rows if r[1] == "success" and r[2] is not None]
    delays = sorted(float(r[2]) for r in ran)
    wall = (end - start).total_seconds()
    return {
        "dag_run_seconds": round(wall, 1),
        "tasks": len(ran),
        "tasks_per_minute": round(len(ran) / wall * 60, 1),
        "scheduling_delay_mean_s": round(statistics.mean(delays), 2) if delays else None,
        "scheduling_delay_p95_s": round(delays[int(0.95 * (len(delays) - 1))], 2) if delays else None,
        "task_seconds_sum": round(sum(float(r[3] or 0) for r in ran), 1),
        "hosts": sorted({r[4] for r in ran if r[4]}),
    }


def _oneshot(home: Path, env: dict[str, str], logs: Path) -> dict[str, Any]:
    started = time.monotonic()
    _run([CLI, "run", PIPELINE, "--quiet"], env, logs / "oneshot.log")
    wall = time.monotonic() - started
    import sqlite3

    con = sqlite3.connect(home / "airflow" / "airflow.db")
    start, end = con.execute(
        "SELECT julianday(start_date), julianday(end_date) FROM dag_run WHERE dag_id = ? "
        "ORDER BY id DESC LIMIT 1",
        [PIPELINE],
    ).fetchone()
    tasks = con.execute(
        "SELECT count(*) FROM task_instance WHERE dag_id = ? AND state = 'success'", [PIPELINE]
    ).fetchone()[0]
    con.close()
    run_s = (end - start) * 86400
    return {"dag_run_seconds": round(run_s, 1), "command_seconds": round(wall, 1), "tasks": tasks,
            "tasks_per_minute": round(tasks / run_s * 60, 1)}  # fmt: skip


def _cluster(setup: str, home: Path, env: dict[str, str], logs: Path, admin: str) -> dict[str, Any]:
    metadata = _db(admin, f"hw_bench_meta_{uuid.uuid4().hex[:8]}")
    up = [CLI, "cluster", "up", "--port", str(free_port())]
    up += ["--executor", "local"] if setup == "local" else ["--workers", setup.removeprefix("celery")]
    env = {
        **env,
        "HEADWATER_CLUSTER_METADATA_URL": metadata,
        "HEADWATER_CLUSTER_BROKER_URL": "redis://127.0.0.1:6379/7",
    }
    try:
        started = time.monotonic()
        _run(up, env, logs / f"{setup}.log")
        ready = time.monotonic() - started
        started = time.monotonic()
        _run([CLI, "cluster", "run", PIPELINE], env, logs / f"{setup}.log")
        wall = time.monotonic() - started
        return {**_run_metrics(metadata), "up_seconds": round(ready, 1), "command_seconds": round(wall, 1)}
    finally:
        _run([CLI, "cluster", "down"], env, logs / f"{setup}.log")
        _db(admin, metadata.rsplit("/", 1)[1], drop=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10)
    ap.add_argument("--setups", default="oneshot,local,celery1,celery2,celery4")
    ap.add_argument(
        "--admin-url",
        default=os.environ.get("HEADWATER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    ap.add_argument("--json", help="write the measurements here")
    o = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hw_bench_cluster_"))
    logs = work / "logs"
    logs.mkdir()
    source = _db(o.admin_url, "hw_bench_cluster_source")
    results: dict[str, Any] = {"scale": o.scale, "loadavg_start": os.getloadavg()[0], "setups": {}}
    try:
        gen_env = _env(work / "gen", {"HEADWATER_SOURCE_TRAVEL_BOOKINGS_MAIN_URL": source})
        started = time.monotonic()
        _run(
            [CLI, "generate", PIPELINE, "--scale", str(o.scale), "--seed", "7"],
            gen_env,
            logs / "generate.log",
        )
        expected = _counts(source, PIPELINE)
        took = time.monotonic() - started
        log(f"source at scale {o.scale}: {sum(expected.values()):,} rows in {took:.0f} s")
        for setup in o.setups.split(","):
            home = work / setup
            home.mkdir()
            warehouse = _db(o.admin_url, f"hw_bench_wh_{setup}")
            env = _env(
                home,
                {"HEADWATER_SOURCE_TRAVEL_BOOKINGS_MAIN_URL": source, "HEADWATER_WAREHOUSE_URL": warehouse},
            )
            log(f"{setup}: running")
            try:
                m = (
                    _oneshot(home, env, logs)
                    if setup == "oneshot"
                    else _cluster(setup, home, env, logs, o.admin_url)
                )
                got = _counts(warehouse, "raw_travel_bookings")
                if got != expected:
                    raise RuntimeError(f"{setup}: raw counts {got} != source {expected}")
            finally:
                _db(o.admin_url, f"hw_bench_wh_{setup}", drop=True)
            m["loadavg"] = os.getloadavg()[0]
            results["setups"][setup] = m
            log(f"{setup}: {m}")
    finally:
        _db(o.admin_url, "hw_bench_cluster_source", drop=True)
    base = results["setups"].get("oneshot", {}).get("dag_run_seconds")
    print("| setup | DAG run (s) | × one-shot | tasks/min | scheduling delay mean / p95 (s) | hosts |")
    print("|---|---|---|---|---|---|")
    for setup, m in results["setups"].items():
        ratio = f"{m['dag_run_seconds'] / base:.2f}×" if base else "-"
        delay = f"{m.get('scheduling_delay_mean_s', '-')} / {m.get('scheduling_delay_p95_s', '-')}"
        hosts = len(m.get("hosts", [])) or "-"
        print(f"| {setup} | {m['dag_run_seconds']} | {ratio} | {m['tasks_per_minute']} | {delay} | {hosts} |")
    if o.json:
        Path(o.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

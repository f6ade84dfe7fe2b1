"""Family "dag": the whole ``travel_bookings`` DAG at growing scale, cold and warm.

For every scale: a fresh ``HEADWATER_HOME`` (embedded default: SQLite source, local Parquet
lake, DuckDB warehouse, Airflow's SQLite metadata), ``headwater generate travel_bookings
--scale N`` (not timed), then ``headwater run travel_bookings`` twice:

* **cold**: the first run, into an empty warehouse and a new Airflow home (includes
  ``airflow db migrate``, the first full extract and load of every table, and all eight dbt
  steps building everything);
* **warm**: the same command again with nothing changed in the source (every table takes
  the skip path; the transform gate skips the dbt steps but source freshness);
* **changed**: ``headwater generate --advance`` with 0.5% new and 0.5% changed bookings (about
  1% of the rows, not timed), then the same command: the everyday incremental run.

Each phase is its own ``headwater run`` process, as a user types it: its start-up (Python,
Airflow, the execution API, dbt's import) is in every line.

The time is the wall time of the ``headwater run`` process; peak RSS is that of the largest
single process of its tree (``headwater run`` starts ``airflow dags test``, which runs every
task in-process). The Airflow task durations of the run are split into EL (plan, extract,
load) and dbt, and shown in the notes; the rest is Airflow's own start-up and scheduling.
After every run the warehouse's raw tables must hold exactly the source's row counts, or the
benchmark fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
from pathlib import Path
from typing import Any

from harness import ChildRun, Results, log, run_child, target

PIPELINE = "travel_bookings"
SOURCE_TABLES = ("booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment")


def clean_env(home: Path, warehouse_url: str | None = None) -> dict[str, str]:
    """The embedded default under ``home`` (or its warehouse at ``warehouse_url``): no URL or
    Airflow setting leaks in from outside."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("HEADWATER_") or k.startswith("AIRFLOW") or k.startswith("DBT_"))
    }
    env["HEADWATER_HOME"] = str(home)
    if warehouse_url:
        env["HEADWATER_WAREHOUSE_URL"] = warehouse_url
    return env


def headwater_cmd() -> str:
    return str(Path(sys.executable).parent / "headwater")


def source_rows(home: Path) -> dict[str, int]:
    con = sqlite3.connect(home / "sources" / f"{PIPELINE}.sqlite")
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SOURCE_TABLES}
    finally:
        con.close()


def task_seconds(home: Path) -> dict[str, Any]:
    """Summed Airflow task durations of the newest run: plan/extract/load vs dbt steps, and
    each task's own (mapped tasks summed over their map indexes), kept in the JSON."""
    con = sqlite3.connect(f"file:{home / 'airflow' / 'airflow.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT task_id, coalesce(sum(duration), 0), group_concat(state) FROM task_instance "
            "WHERE run_id = (SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1) "
            "GROUP BY task_id",
            [PIPELINE],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, Any] = {"el": 0.0, "dbt": 0.0, "el_tasks_skipped": 0.0}
    out["tasks"] = {task_id: round(float(seconds), 3) for task_id, seconds, _ in rows}
    for task_id, seconds, states in rows:
        out["dbt" if task_id.startswith("dbt_") else "el"] += float(seconds)
        if not task_id.startswith("dbt_"):
            out["el_tasks_skipped"] += (states or "").split(",").count("skipped")
    return out


def warehouse_rows(home: Path, warehouse_url: str | None = None) -> dict[str, int]:
    """Live rows per raw table in the run's warehouse (DuckDB read-only, or Postgres), after the
    run: a key the source deleted is marked (``_deleted_at``, a column the first delete check
    adds), not removed."""
    marked = (
        f"SELECT table_name FROM information_schema.columns WHERE table_schema = 'raw_{PIPELINE}' "
        "AND column_name = '_deleted_at'"
    )
    count = 'SELECT count(*) FROM raw_{}."{}"'

    def live(with_marks: set[str], t: str) -> str:
        return count.format(PIPELINE, t) + (" WHERE _deleted_at IS NULL" if t in with_marks else "")

    if warehouse_url:
        import psycopg

        with psycopg.connect(warehouse_url) as pg:
            has = {r[0] for r in pg.execute(marked).fetchall()}
            return {t: pg.execute(live(has, t)).fetchone()[0] for t in SOURCE_TABLES}  # type: ignore[index]
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        has = {r[0] for r in con.execute(marked).fetchall()}
        return {t: con.execute(live(has, t)).fetchone()[0] for t in SOURCE_TABLES}  # type: ignore[index]
    finally:
        con.close()


def fresh_pg_warehouse(server_url: str, scale: float) -> str:
    """A new, empty Postgres database for the Postgres lines of one scale; its URL."""
    import psycopg
    from el import to_url
    from psycopg import sql

    db = _pg_warehouse_name(scale)
    drop_pg_warehouse(server_url, scale)
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    return to_url(server_url, db)


def _pg_warehouse_name(scale: float) -> str:
    return f"hw_bench_dag_{scale:g}".replace(".", "_")


def drop_pg_warehouse(server_url: str, scale: float) -> None:
    """Drop the Postgres lines' database of one scale (after them, unless --keep)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as con:
        db = sql.Identifier(_pg_warehouse_name(scale))
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(db))


def prepare_home(home: Path, scale: float, logfile: Path, warehouse_url: str | None = None) -> dict[str, int]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    with logfile.open("ab") as out:
        gen = run_child(
            [headwater_cmd(), "generate", PIPELINE, "--scale", f"{scale:g}"],
            env=clean_env(home, warehouse_url),
            cwd=home,
            stdout=out,
            what=f"headwater generate --scale {scale:g} (log: {logfile})",
        )
    rows = source_rows(home)
    log(f"  generated scale {scale:g} in {gen.wall:.1f} s: {sum(rows.values()):,} source rows {rows}")
    return rows


CHANGED_FRACTION = 0.005
"""Per kind (new, changed): about 1% of the bookings, and their tickets, segments, passengers."""


def advance_source(home: Path, logfile: Path, warehouse_url: str | None = None) -> dict[str, int]:
    with logfile.open("ab") as out:
        run_child(
            [headwater_cmd(), "generate", PIPELINE, "--advance",
             "--new-fraction", str(CHANGED_FRACTION), "--update-fraction", str(CHANGED_FRACTION)],
            env=clean_env(home, warehouse_url), cwd=home, stdout=out,
            what=f"headwater generate --advance (log: {logfile})",
        )  # fmt: skip
    return source_rows(home)


def run_dag(home: Path, logfile: Path, skip: list[str], warehouse_url: str | None = None) -> ChildRun:
    with logfile.open("ab") as out:
        return run_child(
            [headwater_cmd(), "run", PIPELINE, "--quiet", *(a for step in skip for a in ("--skip", step))],
            env=clean_env(home, warehouse_url),
            cwd=home,
            stdout=out,
            what=f"headwater run {PIPELINE} (log: {logfile})",
        )


def run_family(opts: argparse.Namespace, results: Results, info: dict[str, Any], work: Path) -> Path | None:
    """Measure every scale (and, on the scales of ``--dag-pg-scales``, the same on a Postgres
    warehouse); return the home of the smallest DuckDB one (dbt_overhead reuses it)."""
    first: Path | None = None
    setups = [(scale, "duckdb") for scale in opts.scales]
    setups += [(scale, "postgres") for scale in opts.dag_pg_scales]
    for scale, warehouse in setups:
        pg = warehouse == "postgres"
        name = f"dag_scale_{scale:g}" + ("_pg" if pg else "")
        home, logfile = work / name, work / f"{name}.log"
        url = fresh_pg_warehouse(opts.source_url, scale) if pg else None
        log(f"dag: travel_bookings at scale {scale:g} on {warehouse} (log {logfile})")
        rows = prepare_home(home, scale, logfile, url)
        total = sum(rows.values())
        info.setdefault("dag_source_rows", {})[f"{scale:g}"] = rows
        for phase in opts.dag_phases:
            if phase == "changed":
                rows = advance_source(home, logfile, url)
                total = sum(rows.values())
            run = run_dag(home, logfile, opts.dag_skip, url)
            run.result.update(rows=total, **task_seconds(home))
            loaded = warehouse_rows(home, url)
            if loaded != rows:  # a benchmark that moved the wrong data is no measurement
                what = f"dag scale {scale:g} {warehouse} {phase}"
                raise RuntimeError(f"{what}: warehouse {loaded} != source {rows}")
            info.setdefault("row_checks", []).append(f"DAG scale {scale:g} {warehouse} {phase} {total:,} ok")

            def note(r: dict[str, Any], phase: str = phase) -> str:
                return f"tasks: EL {r['el']:.1f} s + dbt {r['dbt']:.1f} s; rest is Airflow" + (
                    f"; {r['el_tasks_skipped']:.0f} EL tasks skipped" if phase != "cold" else ""
                )

            key = f"dag{'_pg' if pg else ''}_s{scale:g}_{phase}"
            info.setdefault("dag_tasks", {})[key] = run.result.pop("tasks")  # seconds per task, in the JSON
            results.add(
                key,
                f"travel_bookings DAG, scale {scale:g}, {phase}"
                + (" (Postgres warehouse)" if pg else "")
                + (f" (dbt steps off: {', '.join(opts.dag_skip)})" if opts.dag_skip else ""),
                [run],
                lambda r: r["rows"],
                note_of=note,
                family="dag",
                x_limit=False,
            )
        if first is None and not pg:
            first = home
        elif not opts.keep:
            shutil.rmtree(home, ignore_errors=True)
        if url and not opts.keep:
            drop_pg_warehouse(opts.source_url, scale)
    return first


# Issue 17's everyday-run targets, at scale 1 (~60,000 source rows), every dbt step on.
TARGET_SECONDS = {"cold": 15.0, "warm": 8.0, "changed": 15.0}
TARGET_PG_X_DUCKDB = 1.5
"""The same phase on a Postgres warehouse, at most this many times the DuckDB line."""


def evaluate(results: Results, skipped_steps: list[str]) -> list[dict[str, Any] | None]:
    """The scale-1 lines against their wall-time targets (a run with dbt steps off is not one)."""
    if skipped_steps:
        return []
    out: list[dict[str, Any] | None] = []
    for phase, goal in TARGET_SECONDS.items():
        m = results.get(f"dag_s1_{phase}")
        if m is not None:
            out.append(
                target(
                    f"travel_bookings DAG at scale 1, {phase}, wall",
                    m.seconds,
                    goal,
                    "s",
                    m.note,
                )
            )
        pg = results.get(f"dag_pg_s1_{phase}")
        if m is not None and pg is not None:
            out.append(
                target(
                    f"travel_bookings DAG at scale 1, {phase}: Postgres vs DuckDB warehouse",
                    pg.seconds / m.seconds,
                    TARGET_PG_X_DUCKDB,
                    "max_x",
                    f"{pg.seconds:.2f} s / {m.seconds:.2f} s",
                )
            )
    return out

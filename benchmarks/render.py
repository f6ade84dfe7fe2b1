"""Family "render": a pipeline's dbt project as eight steps vs one task per model.

For each warehouse (DuckDB, Postgres) and each ``transform.render`` (``steps``,
``per_model``): a copy of the pipeline folder with ``render`` set, a fresh
``HEADWATER_HOME`` (SQLite source generated at ``--render-scale``, not timed; a new Postgres
database for the Postgres warehouse), then the pipeline's DAG run by Headwater's one-shot
runner (``airflow dags test``, in-process): **cold** (first build) and **warm** (nothing new
in the source: every extract skips, every dbt node runs again). The time is the child's wall
time of the run; the notes split the Airflow task durations into EL and dbt.

After every run the child counts the rows of every table in the pipeline's dbt schemas;
the per-model run must give the same counts as the step run of the same warehouse and phase,
or the benchmark fails. ``--quick`` runs the tiny_shop example on DuckDB, cold only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import Results, log, run_child

RENDERS = ("steps", "per_model")
ROOT = Path(__file__).resolve().parents[1]
PIPELINES = {
    "travel_bookings": ROOT / "src" / "headwater" / "pipelines" / "travel_bookings",
    "tiny_shop": ROOT / "examples" / "pipelines" / "tiny_shop",
}
DAG_FILE = '''"""Airflow DAGs of the benchmark's pipeline copy."""
from pathlib import Path

from headwater.orchestration import build_dags
from headwater.spec import load_spec_from

globals().update(build_dags(load_spec_from(Path({folder!r}))))
'''


def _pipeline_copy(pipeline: str, render: str, into: Path) -> Path:
    folder = into / pipeline
    shutil.copytree(PIPELINES[pipeline], folder, ignore=shutil.ignore_patterns("__pycache__"))
    spec = folder / "pipeline.yaml"
    text = spec.read_text()
    if "\n  render:" in text:
        raise RuntimeError(f"{spec} already sets transform.render")
    spec.write_text(text.replace("\ntransform:\n", f"\ntransform:\n  render: {render}\n", 1))
    return folder


def _env(home: Path, dags: Path, warehouse_url: str | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("HEADWATER_") or k.startswith("AIRFLOW") or k.startswith("DBT_"))
    }
    env.update(HEADWATER_HOME=str(home), HEADWATER_DAGS_FOLDER=str(dags), HEADWATER_RETRIES="0")
    if warehouse_url:
        env["HEADWATER_WAREHOUSE_URL"] = warehouse_url
    return env


def run_family(opts: argparse.Namespace, results: Results, info: dict[str, Any], work: Path) -> None:
    import psycopg
    from psycopg import sql

    pipeline = opts.render_pipeline
    # One as_of for every generated source: the renders must start from the same data.
    as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for warehouse in opts.render_warehouses:
        for render in RENDERS:
            base = work / f"render_{warehouse}_{render}"
            home, dags = base / "hw", base / "dags"
            home.mkdir(parents=True)
            dags.mkdir()
            folder = _pipeline_copy(pipeline, render, base)
            (dags / f"{pipeline}_bench.py").write_text(DAG_FILE.format(folder=str(folder)))
            db = None
            if warehouse == "postgres":
                db = f"hw_bench_render_{render}"
                with psycopg.connect(opts.source_url, autocommit=True) as con:
                    con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
                    con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            url = f"{opts.source_url.rsplit('/', 1)[0]}/{db}" if db else None
            env = _env(home, dags, url)
            logfile = base / "run.log"
            log(f"render: {pipeline} on {warehouse}, {render} (log {logfile})")
            try:
                for i, phase in enumerate(opts.render_phases):
                    out = base / f"{phase}.json"
                    cmd = [sys.executable, __file__, "--child", str(folder), "--out", str(out)]
                    if i == 0:
                        cmd += ["--generate", f"{opts.render_scale:g}", "--as-of", as_of.isoformat()]
                    with logfile.open("ab") as stdout:
                        run = run_child(cmd, out, env=env, cwd=base, stdout=stdout, what=f"{render} {phase}")
                    counts[(warehouse, phase, render)] = run.result.pop("relations")
                    info.setdefault("render_tasks", {})[f"{warehouse}_{render}"] = run.result["tasks"]
                    results.add(
                        f"render_{warehouse}_{render}_{phase}",
                        f"{pipeline} DAG on {warehouse}, dbt as {render}, {phase}",
                        [run],
                        lambda r: r["rows"],
                        note_of=lambda r: (
                            f"{r['tasks']} tasks; EL {r['el']:.1f} s + dbt {r['dbt']:.1f} s in tasks"
                        ),
                        family="render",
                        x_limit=False,
                    )
            finally:
                if db and not opts.keep:
                    with psycopg.connect(opts.source_url, autocommit=True) as con:
                        con.execute(
                            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
                        )
        for phase in opts.render_phases:
            steps, per_model = counts[(warehouse, phase, "steps")], counts[(warehouse, phase, "per_model")]
            if steps != per_model:  # a faster wrong answer is no measurement
                diff = {
                    k: (steps.get(k), per_model.get(k))
                    for k in set(steps) | set(per_model)
                    if steps.get(k) != per_model.get(k)
                }
                raise RuntimeError(f"render {warehouse} {phase}: per_model differs from steps: {diff}")
            info.setdefault("row_checks", []).append(
                f"render {warehouse} {phase}: {len(steps)} dbt relations equal in both renders"
            )


def summary(results: Results) -> list[str]:
    out = []
    for warehouse in ("duckdb", "postgres"):
        for phase in ("cold", "warm"):
            a = results.get(f"render_{warehouse}_steps_{phase}")
            b = results.get(f"render_{warehouse}_per_model_{phase}")
            if a and b:
                out.append(
                    f"per-model vs steps on {warehouse}, {phase}: {b.seconds / a.seconds:.2f}x "
                    f"({b.seconds:.1f} s / {a.seconds:.1f} s)"
                )
    return out


# -- child side -----------------------------------------------------------------------------
def _relation_counts(spec: Any, settings: Any) -> dict[str, int]:
    """Rows of every table in the pipeline's dbt schemas (<pipeline>, <pipeline>_*)."""
    from headwater.duck import quote
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS

    wh = open_warehouse(settings.warehouse_url)
    with wh.session(read_only=True) as con:
        # Tables only: a DuckDB view names the warehouse file's own catalog, not this session's.
        relations = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND (schema_name = ? OR starts_with(schema_name, ?))",
            [ALIAS, spec.name, f"{spec.name}_"],
        ).fetchall()
        counts = {}
        for schema, table in sorted(relations):
            row = con.execute(f"SELECT count(*) FROM {ALIAS}.{quote(schema)}.{quote(table)}").fetchone()
            counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        return counts


def _task_seconds(settings: Any, run_id: str) -> dict[str, Any]:
    from headwater.orchestration.local import airflow_environ

    db = airflow_environ(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT task_id, coalesce(duration, 0) FROM task_instance WHERE run_id = ?", [run_id]
        ).fetchall()
    finally:
        con.close()
    dbt = sum(float(s) for t, s in rows if t.rsplit(".", 1)[-1].startswith("dbt_"))
    return {"el": sum(float(s) for _, s in rows) - dbt, "dbt": dbt, "tasks": len(rows)}


def child(folder: str, out: str, generate: float | None, as_of: str | None) -> int:
    from headwater import discovery
    from headwater.orchestration.pipeline_run import run_pipeline_dags
    from headwater.settings import Settings
    from headwater.spec import load_spec_from

    settings = Settings.from_env()
    spec = load_spec_from(Path(folder))
    if generate is not None:
        at = datetime.fromisoformat(as_of) if as_of else None
        discovery.generator(spec).generate(spec.source_url(settings.home), scale=generate, seed=7, as_of=at)
    started = time.perf_counter()
    outcomes = run_pipeline_dags(settings, spec)
    seconds = time.perf_counter() - started
    failed = [o for o in outcomes if o.state != "success"]
    if failed or not outcomes:
        print(f"run failed: {[(o.dag_id, o.log) for o in failed]}", file=sys.stderr)
        return 1
    relations = _relation_counts(spec, settings)
    result = {"seconds": seconds, "rows": sum(relations.values()), "relations": relations}
    result.update(_task_seconds(settings, str(outcomes[0].run_id)))
    Path(out).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="child side of the render family (started by run.py)")
    ap.add_argument("--child", required=True, metavar="PIPELINE_FOLDER")
    ap.add_argument("--out", required=True)
    ap.add_argument("--generate", type=float, default=None, metavar="SCALE")
    ap.add_argument("--as-of", default=None, help="the generator's as_of (ISO), the same for every render")
    a = ap.parse_args()
    sys.exit(child(a.child, a.out, a.generate, a.as_of))

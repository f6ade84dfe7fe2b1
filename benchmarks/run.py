"""Headwater benchmarks: against the machine's limit and against what users would use instead.

Run from the repository root (``make bench`` / ``make bench-quick`` do this):

    .venv/bin/python benchmarks/run.py                    # 5,000,000 rows; DAG at scale 1, 10, 100
    .venv/bin/python benchmarks/run.py --quick            # CI smoke: tiny sizes, times never checked
    .venv/bin/python benchmarks/run.py --json out.json --only el,alternatives

One run measures every family, so the ratios between lines hold even when the shared
machine's absolute speed drifts:

* ``el`` (el.py): the COPY limit, Headwater's full extract, extract+load into DuckDB and
  Postgres, incremental 1% and 0%, 5% upsert vs bare SQL;
* ``alternatives`` (alternatives.py): dlt (pyarrow / connectorx backends, to Parquet and
  DuckDB) and pandas read_sql -> to_parquet / to_sql, in their own venv (.venv-bench);
* ``dag`` (dag_scale.py): the travel_bookings DAG end to end at several scales, cold and warm;
* ``dbt`` (dbt_overhead.py): dbt's eight steps in-process vs one CLI process per step;
* ``render`` (render.py): the DAG with dbt as steps vs one task per model, DuckDB and Postgres.
* ``reconcile`` (reconcile_family.py): reconcile of an equal and a 0.1%-drifted table vs a
  full extract, and the delete check's cost on a 1% incremental run.

Nothing is asserted: the targets are reported as met or not, with the margin. A failed
child or a wrong row count at a destination fails the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import alternatives  # noqa: E402
import chunked  # noqa: E402
import dag_scale  # noqa: E402
import dbt_overhead  # noqa: E402
import el  # noqa: E402
import reconcile_family  # noqa: E402
import render as render_family  # noqa: E402
from harness import STARTED, Results, log, machine_info, pip_freeze, render  # noqa: E402

FAMILIES = ("el", "alternatives", "dag", "dbt", "chunked", "render", "reconcile")
FULL_ROWS = el.FULL_ROWS
QUICK_ROWS = 50_000
FULL_SCALES = "1,10,100"
QUICK_SCALES = "0.1"
# Quick mode keeps the DAG and dbt families to their cheapest steps: the harness code still runs.
QUICK_DAG_SKIP = "seed,source_tests,staging,snapshot,core,test_all,docs"
QUICK_DBT_STEPS = "source_freshness"
HEADWATER_PACKAGES = (
    "apache-airflow",
    "dbt-core",
    "dbt-duckdb",
    "dbt-postgres",
    "duckdb",
    "pyarrow",
    "psycopg",
    "pandas",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=None, help=f"source rows (default {FULL_ROWS:,})")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"CI smoke: {QUICK_ROWS:,} rows, one repetition, DAG at scale {QUICK_SCALES} cold only "
        "with few dbt steps",
    )
    ap.add_argument(
        "--concurrent-lanes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the source-table families and the DAG/dbt families side by side (default: only "
        "with --quick, whose times are never compared; a full run measures one thing at a time)",
    )
    ap.add_argument("--json", metavar="PATH", help="also write every measurement as JSON here")
    ap.add_argument("--only", default=",".join(FAMILIES), help=f"families to run (default all: {FAMILIES})")
    ap.add_argument("--skip", default="", help="families to leave out, e.g. --skip dag,dbt")
    ap.add_argument(
        "--source-url",
        default=os.environ.get("HEADWATER_BENCH_PG_URL", el.DEFAULT_SOURCE_URL),
        help="Postgres holding the source schema hw_bench; the warehouse databases hw_bench_* are "
        f"created on the same server (default {el.DEFAULT_SOURCE_URL})",
    )
    ap.add_argument(
        "--table", default=None, help="source table in schema hw_bench (default bookings / bookings_<rows>)"
    )
    ap.add_argument(
        "--repeat", type=int, default=None, help="repetitions of each el measurement (default 2; 1 quick)"
    )
    ap.add_argument("--alt-repeat", type=int, default=1, help="repetitions of each alternative (default 1)")
    ap.add_argument(
        "--alt-cases",
        default=",".join(alternatives.CASES),
        help=f"alternatives to run (default all: {', '.join(alternatives.CASES)})",
    )
    ap.add_argument(
        "--alt-python",
        default=str(alternatives.DEFAULT_PYTHON),
        help="python of the alternatives' venv (default .venv-bench/bin/python, made by make bench-venv)",
    )
    ap.add_argument(
        "--chunked-rows",
        type=int,
        default=None,
        help="chunked family: rows in the delivery (default 1M; quick 20k)",
    )
    ap.add_argument("--warehouses", default="duckdb,postgres", help="el family: duckdb and/or postgres")
    ap.add_argument(
        "--scales", default=None, help=f"dag family: travel_bookings scales (default {FULL_SCALES})"
    )
    ap.add_argument(
        "--dag-pg-scales",
        default=None,
        help="dag family: scales also run on a Postgres warehouse (default 1; none with --quick)",
    )
    ap.add_argument(
        "--dag-phases", default=None, help="dag family: cold,warm,changed (default: all; --quick: cold)"
    )
    ap.add_argument(
        "--dag-skip",
        default=None,
        help=f"dag family: dbt steps to switch off in the DAG runs (default none; quick: {QUICK_DAG_SKIP})",
    )
    ap.add_argument(
        "--dbt-steps",
        default=None,
        help=f"dbt family: the steps to compare (default all eight; quick: {QUICK_DBT_STEPS})",
    )
    ap.add_argument(
        "--render-pipeline",
        default=None,
        choices=sorted(render_family.PIPELINES),
        help="render family: the pipeline (default travel_bookings; quick: tiny_shop)",
    )
    ap.add_argument(
        "--render-scale", type=float, default=None, help="render family: source scale (default 1; quick 1)"
    )
    ap.add_argument(
        "--render-warehouses",
        default=None,
        help="render family: duckdb and/or postgres (default both; quick: duckdb)",
    )
    ap.add_argument(
        "--render-phases", default=None, help="render family: cold,warm (default both; quick: cold)"
    )
    ap.add_argument("--workdir", default=None, help="parent of the temporary work folder (default $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder and the hw_bench_* databases")
    ap.add_argument(
        "--keep-source",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="keep hw_bench.<table> for the next run (default: keep)",
    )
    o = ap.parse_args(argv)
    if o.rows is None:
        o.rows = QUICK_ROWS if o.quick else FULL_ROWS
    if o.table is None:
        o.table = "bookings" if o.rows == FULL_ROWS else f"bookings_{o.rows}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", o.table):
        ap.error("--table must be a plain lower-case identifier")
    if o.repeat is None:
        o.repeat = 1 if o.quick else 2
    if o.concurrent_lanes is None:
        o.concurrent_lanes = o.quick
    o.families = [f for f in o.only.split(",") if f and f not in o.skip.split(",")]
    if set(o.families) - set(FAMILIES):
        ap.error(f"families are {FAMILIES}")
    o.warehouses = [w.strip() for w in o.warehouses.split(",") if w.strip()]
    if set(o.warehouses) - {"duckdb", "postgres"}:
        ap.error("--warehouses takes duckdb and/or postgres")
    o.alt_cases = [c for c in o.alt_cases.split(",") if c]
    if set(o.alt_cases) - set(alternatives.CASES):
        ap.error(f"--alt-cases: known cases are {list(alternatives.CASES)}")
    o.scales = [float(s) for s in (o.scales or (QUICK_SCALES if o.quick else FULL_SCALES)).split(",")]
    pg_scales = o.dag_pg_scales if o.dag_pg_scales is not None else ("" if o.quick else "1")
    o.dag_pg_scales = [float(s) for s in pg_scales.split(",") if s]
    o.dag_phases = (o.dag_phases or ("cold" if o.quick else "cold,warm,changed")).split(",")
    if set(o.dag_phases) - {"cold", "warm", "changed"}:
        ap.error("--dag-phases takes cold, warm and/or changed")
    o.dag_skip = [
        x
        for x in (o.dag_skip if o.dag_skip is not None else (QUICK_DAG_SKIP if o.quick else "")).split(",")
        if x
    ]
    o.dbt_steps = [x for x in (o.dbt_steps or (QUICK_DBT_STEPS if o.quick else "")).split(",") if x]
    o.render_pipeline = o.render_pipeline or ("tiny_shop" if o.quick else "travel_bookings")
    o.render_scale = 1.0 if o.render_scale is None else o.render_scale
    o.render_warehouses = (o.render_warehouses or ("duckdb" if o.quick else "duckdb,postgres")).split(",")
    if set(o.render_warehouses) - {"duckdb", "postgres"}:
        ap.error("--render-warehouses takes duckdb and/or postgres")
    o.render_phases = (o.render_phases or ("cold" if o.quick else "cold,warm")).split(",")
    if set(o.render_phases) - {"cold", "warm"}:
        ap.error("--render-phases takes cold and/or warm")
    return o


def main(argv: list[str] | None = None) -> int:
    o = parse_args(argv)
    results = Results()
    info: dict[str, Any] = machine_info()
    info["families"] = o.families
    info["versions"] = pip_freeze(sys.executable, HEADWATER_PACKAGES)
    lock = el.pg_connect(o.source_url)
    if not lock.execute("SELECT pg_try_advisory_lock(hashtext('headwater-benchmark'))").fetchone()[0]:  # type: ignore[index]
        lock.close()
        log(
            "another benchmark run holds the lock on this Postgres server "
            "(its hw_bench_* databases would clash); try again when it is done"
        )
        return 2
    work = Path(tempfile.mkdtemp(prefix="hw_bench_", dir=o.workdir))
    log(f"work folder {work}; families {', '.join(o.families)}")
    bench: el.Bench | None = None
    try:
        if {"el", "alternatives", "reconcile"} & set(o.families):
            info["source"] = el.prepare_source(o)
            info["versions"]["postgres"] = info["source"]["postgres"].split(" ")[0]
            bench = el.Bench(o, results, work)
        lanes = [
            lambda: _source_lane(o, results, info, work, bench),
            lambda: _airflow_lane(o, results, info, work),
        ]
        if o.concurrent_lanes:
            _run_concurrently(lanes)
        else:
            for lane in lanes:
                lane()
        results.items = _in_family_order(results)
    finally:
        if bench is not None:
            bench.cleanup()
        if not o.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"--keep: leaving {work}")
        if not o.keep_source and "source" in info:
            el.drop_source(o)
        lock.close()  # releases the advisory lock
    info["loadavg_end"] = Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else ""
    info["total_seconds"] = round(time.time() - STARTED, 1)
    targets = [
        t
        for t in [
            *el.evaluate(results, o.warehouses),
            *alternatives.evaluate(results),
            *reconcile_family.evaluate(results),
            *dag_scale.evaluate(results, o.dag_skip),
        ]
        if t is not None
    ]
    comparisons = (
        alternatives.compare(results) + dbt_overhead.summary(results) + render_family.summary(results)
    )
    info["comparisons"] = comparisons
    text = render(info, results, targets)
    if comparisons:
        text += "\n\n" + "\n".join(f"* {c}" for c in comparisons)
    print(text)
    if o.json:
        payload = {
            "info": info,
            "results": [m.as_json() for m in results.items.values()],
            "targets": targets,
        }
        Path(o.json).write_text(json.dumps(payload, indent=2, default=str))
        log(f"wrote {o.json}")
    return 0


def _source_lane(
    o: argparse.Namespace, results: Results, info: dict[str, Any], work: Path, bench: el.Bench | None
) -> None:
    """The families on the Postgres source table hw_bench.<table> (and its hw_bench_* clones)."""
    if "el" in o.families and bench is not None:
        bench.run(info)
    if "alternatives" in o.families:
        alternatives.run_family(o, results, info, work, bench)
    if "chunked" in o.families:
        chunked.run_family(o, results, info, work)
    if "reconcile" in o.families:  # last: it drifts the source (and puts it back)
        reconcile_family.run_family(o, results, info, work)


def _airflow_lane(o: argparse.Namespace, results: Results, info: dict[str, Any], work: Path) -> None:
    """The families that run DAGs and dbt on generated pipeline sources of their own."""
    home = None
    if "dag" in o.families:
        home = dag_scale.run_family(o, results, info, work)
    if "dbt" in o.families:
        if home is None:  # the dag family did not run: build a warehouse to run dbt on (not timed)
            home = work / "dbt_home"
            dag_scale.prepare_home(home, o.scales[0], work / "dbt_home.log")
            dag_scale.run_dag(home, work / "dbt_home.log", o.dag_skip)
        dbt_overhead.run_family(o, results, info, home)
    if "render" in o.families:
        render_family.run_family(o, results, info, work)


def _run_concurrently(lanes: list[Any]) -> None:
    """Each lane in its own thread (they share no table or database); the first error wins."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for future in [pool.submit(lane) for lane in lanes]:
            future.result()


def _in_family_order(results: Results) -> dict[str, Any]:
    """Measurements grouped by family in FAMILIES' order (lanes may interleave them)."""
    rank = {f: i for i, f in enumerate(FAMILIES)}
    return dict(sorted(results.items.items(), key=lambda kv: rank.get(kv[1].family, len(rank))))


if __name__ == "__main__":
    sys.exit(main())

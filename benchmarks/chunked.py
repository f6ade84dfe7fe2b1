"""Family "chunked": a large delivery loaded in chunks (``load.chunk_rows``), rows/s against
chunk count and parallel workers, on DuckDB and Postgres.

The forex generator writes one messy transactions file of ``--chunked-rows`` rows (1,000,000
by default); Headwater extracts it once into the lake (not timed). Then, per warehouse and
per (chunks, workers), a fresh child process on a fresh warehouse times what the DAG's
``batches`` and mapped ``load`` tasks do: split the batch into chunks in the lake (by key
hash), prepare the raw table, and load the chunks with ``workers`` threads (each chunk one
transaction: the upsert, its ledger row; the last one moves the watermark). DuckDB has one
writer, so it runs with one worker only; Postgres takes the chunks side by side. The
warehouse must then hold exactly the file's distinct keyed transactions, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from harness import Results, log, run_child

FULL_ROWS = 1_000_000
QUICK_ROWS = 20_000
FULL_PLAN = {"duckdb": [(1, 1), (4, 1), (16, 1)], "postgres": [(1, 1), (4, 1), (4, 2), (16, 2), (16, 4)]}
QUICK_PLAN = {"duckdb": [(1, 1), (4, 1)], "postgres": [(1, 1), (4, 2)]}
"""(chunks, workers) per warehouse."""
RUN_ID = "bench_chunked"


def _spec(chunk_rows: int | None):
    import dataclasses

    from headwater.spec import load_spec

    spec = load_spec("forex")
    return dataclasses.replace(spec, tables=(dataclasses.replace(spec.tables[0], chunk_rows=chunk_rows),))


def _settings(work: Path, warehouse_url: str, source: str):
    from headwater.settings import Settings

    return Settings(
        home=work,
        warehouse_url=warehouse_url,
        lake_url=str(work / "lake"),
        source_url=None,
        dags_folder=work,
        source_urls={"FOREX_MAIN": source},
    )


def child_extract(p: dict[str, Any]) -> dict[str, Any]:
    """Generate the delivery and extract it into the lake once (the measured loads share it)."""
    from headwater import flow
    from headwater.pipelines.forex import generator

    t0 = time.perf_counter()
    generator.generate(p["source"], scale=p["rows"] / generator.ROWS_PER_SCALE, seed=4)
    generated = time.perf_counter() - t0
    settings = _settings(Path(p["work"]), "duckdb:///" + p["work"] + "/unused.duckdb", p["source"])
    spec = _spec(None)
    t0 = time.perf_counter()
    rows = 0
    for table_plan in flow.plan(spec, settings):
        batch = flow.extract(spec, table_plan, RUN_ID, settings)
        assert batch is not None, "the delivery had no rows"
        rows = batch["rows"]
    seconds = time.perf_counter() - t0
    import duckdb

    parts = str(Path(p["work"]) / "lake" / "forex" / "transactions" / f"batch={RUN_ID}" / "part-*.parquet")
    counted = duckdb.sql(f"SELECT count(DISTINCT transaction_id) FROM read_parquet({parts!r})").fetchone()
    keys = counted[0] if counted else 0
    return {"seconds": seconds, "generated_seconds": generated, "rows": rows, "keys": keys}


def child_load(p: dict[str, Any]) -> dict[str, Any]:
    """Split (when chunks > 1), prepare and load, with ``workers`` threads; count the result."""
    from concurrent.futures import ThreadPoolExecutor

    from headwater import flow
    from headwater.warehouse import open_warehouse

    spec = _spec(math.ceil(p["rows"] / p["chunks"]) if p["chunks"] > 1 else None)
    settings = _settings(Path(p["work"]), p["warehouse_url"], p["source"])
    t0 = time.perf_counter()
    loads = flow.batches(spec, ["transactions"], RUN_ID, settings)
    split = time.perf_counter() - t0
    with ThreadPoolExecutor(p["workers"]) as pool:
        results = list(pool.map(lambda b: flow.load(spec, b, settings), loads))
    seconds = time.perf_counter() - t0
    wh = open_warehouse(settings.warehouse_url)
    (held,) = wh.query("SELECT count(*) FROM wh.raw_forex.transactions")[0]
    return {
        "seconds": seconds,
        "split_seconds": split,
        "loads": len(loads),
        "rows": p["rows"],
        "held": held,
        "changed": sum(r["rows_changed"] for r in results),
    }


CHILDREN = {"extract": child_extract, "load": child_load}


def run_family(opts: argparse.Namespace, results: Results, info: dict[str, Any], work: Path) -> None:
    from el import drop_database, recreate_database, to_url

    rows = opts.chunked_rows or (QUICK_ROWS if opts.quick else FULL_ROWS)
    plan = QUICK_PLAN if opts.quick else FULL_PLAN
    base = work / "chunked"
    base.mkdir(parents=True, exist_ok=True)
    source = str(base / "drop")
    log(f"chunked: a {rows:,}-row forex delivery, loaded in chunks (work {base})")
    extracted = _child("extract", base, {"source": source, "rows": rows, "work": str(base)})
    lines, keys = extracted.result["rows"], extracted.result["keys"]
    info["chunked"] = {"rows": rows, "generated_seconds": extracted.result["generated_seconds"]}
    for wh in [w for w in opts.warehouses if w in plan]:
        for chunks, workers in plan[wh]:
            name = f"hw_bench_chunked_{chunks}_{workers}"
            if wh == "duckdb":
                url = f"duckdb:///{base / (name + '.duckdb')}"
            else:
                recreate_database(opts.source_url, name)
                url = to_url(opts.source_url, name)
            try:
                # a fresh lake copy per line: the chunk files of one line never serve the next
                lake = base / f"lake_{wh}_{chunks}_{workers}"
                shutil.copytree(base / "lake", lake)
                run = _child(
                    "load",
                    base,
                    {
                        "source": source,
                        "rows": lines,
                        "work": str(base),
                        "warehouse_url": url,
                        "chunks": chunks,
                        "workers": workers,
                    },
                    lake,
                )
            finally:
                if wh == "postgres" and not opts.keep:
                    drop_database(opts.source_url, name)
            if run.result["loads"] != chunks or run.result["held"] != keys:
                raise RuntimeError(
                    f"chunked {wh} {chunks}x{workers}: {run.result['loads']} loads for {chunks} chunks, "
                    f"{run.result['held']} keys held of the file's {keys}"
                )
            results.add(
                f"chunked_{wh}_{chunks}_{workers}",
                f"chunked load ({wh}): {chunks} chunk(s), {workers} worker(s)",
                [run],
                lambda r: int(r["rows"]),
                note_of=lambda r: f"split {r['split_seconds']:.2f} s; {r['held']:,} keys held",
                family="chunked",
                x_limit=False,
            )


def _child(task: str, base: Path, params: dict[str, Any], lake: Path | None = None):
    out = base / f"child-{task}-{time.time_ns()}.json"
    if lake is not None:  # the child's settings read <work>/lake: point work at a private copy
        work = lake.parent / (lake.name + "_home")
        work.mkdir(exist_ok=True)
        (work / "lake").symlink_to(lake, target_is_directory=True)
        params = {**params, "work": str(work)}
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        task,
        "--child-params",
        json.dumps(params),
    ]
    return run_child([*cmd, "--child-out", str(out)], out, what=f"chunked child {task}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="child side of the chunked family (started by run.py)")
    ap.add_argument("--child", required=True, choices=sorted(CHILDREN))
    ap.add_argument("--child-params", required=True)
    ap.add_argument("--child-out", required=True)
    a = ap.parse_args()
    result = CHILDREN[a.child](json.loads(a.child_params))
    Path(a.child_out).write_text(json.dumps(result, default=str))

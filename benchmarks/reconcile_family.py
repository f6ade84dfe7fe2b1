"""Family "reconcile": ``headwater reconcile`` and the delete check against a full extract.

On the el family's Postgres source table (5M rows at full size), loaded once into a DuckDB
warehouse (not timed):

* the full extract of the table to Parquet (the cost reconcile must undercut);
* the first reconcile of the equal copy (cold: one canonical aggregate per side, both in
  parallel; it stores each side's fast fingerprints per bucket);
* reconcile of the equal copy again (the measured case: the fast fingerprints of both sides
  vouch for every bucket; see headwater/reconcile/state.py);
* reconcile with 0.1% of the rows changed at the source without touching their cursor (the
  silent drift reconcile exists for), then changed back;
* a 1% incremental run (plan + extract + load) and the delete check (key-set comparison)
  that would follow it in the DAG, and its floor: every key read once on each side, nothing else.

Targets (reported, never asserted): reconcile of an equal table <= 0.3x the full extract;
the delete check adds < 50% to the 1% incremental run. Every measurement runs in a fresh
child process (this file with ``--child``), like the el family's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import el
from harness import ChildRun, Results, log, run_child, target

FAMILY = "reconcile"
TARGET_EQUAL_X_EXTRACT = 0.3
TARGET_DELETES_SHARE = 0.5
DRIFT_WHERE = "booking_id % 1000 = 7"
"""0.1% of the rows, spread over every key bucket."""


def child_reconcile(args: dict[str, Any]) -> dict[str, Any]:
    from headwater.reconcile import reconcile_table

    spec, settings = el._headwater(args)
    t0 = time.perf_counter()
    report = reconcile_table(spec, args["table"], settings)
    c = report.comparison
    assert report.status in ("equal", "different"), report.as_dict()
    return {
        "seconds": time.perf_counter() - t0,
        "rows": c.source_rows,
        "missing": c.missing,
        "extra": c.extra,
        "different": c.different,
        "levels": c.levels,
        "reused": c.reused_buckets,
        "compared": c.buckets_compared,
    }


def child_detect(args: dict[str, Any]) -> dict[str, Any]:
    from dataclasses import replace

    from headwater.reconcile.deletes import detect_deletes
    from headwater.spec import DeletesSpec

    spec, settings = el._headwater(args)
    spec = replace(spec, tables=tuple(replace(t, deletes=DeletesSpec()) for t in spec.tables))
    t0 = time.perf_counter()
    [report] = detect_deletes(spec, list(spec.tables), settings, args["run_id"])
    return {
        "seconds": time.perf_counter() - t0,
        "rows": report.comparison.source_rows,
        "marked": report.marked,
        "levels": report.comparison.levels,
        "compared": report.comparison.buckets_compared,
    }


def child_key_floor(args: dict[str, Any]) -> dict[str, Any]:
    """The floor of any key-set comparison without CDC: every key read once on each side, and
    nothing else (a new psycopg connection counting the source's keys, then DuckDB counting the
    warehouse's). A delete leaves no trace in the source but its missing key."""
    import duckdb
    import psycopg

    t0 = time.perf_counter()
    with psycopg.connect(args["source_url"]) as conn:
        row = conn.execute(f'SELECT count(booking_id) FROM {el.SCHEMA}."{args["table"]}"').fetchone()
    t_source = time.perf_counter()
    con = duckdb.connect(args["warehouse_url"].removeprefix("duckdb:///"), read_only=True)
    con.execute(f'SELECT count(booking_id) FROM {el.RAW_SCHEMA}."{args["table"]}"').fetchone()
    con.close()
    done = time.perf_counter()
    return {
        "seconds": done - t0,
        "rows": int(row[0]) if row else 0,
        "source_seconds": t_source - t0,
        "warehouse_seconds": done - t_source,
    }


CHILDREN = {"reconcile": child_reconcile, "detect": child_detect, "key_floor": child_key_floor}


class ReconcileBench:
    def __init__(self, opts: argparse.Namespace, results: Results, work: Path) -> None:
        self.opts, self.results = opts, results
        self.work = work / FAMILY
        self.work.mkdir(parents=True, exist_ok=True)
        self.el = el.Bench(opts, results, work)  # for its extract/el children
        self.el.work = self.work
        self.el.lake = self.work / "lake"
        self.seq = 0

    def child(self, task: str, **params: Any) -> ChildRun:
        self.seq += 1
        out = self.work / f"child-{self.seq:02d}-{task}.json"
        base = {"source_url": self.opts.source_url, "table": self.opts.table, "work": str(self.work),
                "lake": str(self.work / "lake")}  # fmt: skip
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", task, "--child-params",
               json.dumps({**base, **params}), "--child-out", str(out)]  # fmt: skip
        return run_child(cmd, out, what=f"reconcile child {task}")

    def add(self, key: str, label: str, runs: list[ChildRun], note=lambda r: "") -> None:
        self.results.add(key, label, runs, lambda r: r["rows"], note_of=note, family=FAMILY, x_limit=False)

    def run(self, info: dict[str, Any]) -> None:
        o = self.opts
        wh = f"duckdb:///{self.work / 'reconcile.duckdb'}"
        log("reconcile: full extract -> Parquet (the yardstick)")
        self.el.child("limit")  # warm the source's pages, as the el family does
        extract = self.el.child("extract", run_id="rc_extract_only")
        self.add("rc_extract", "full extract -> Parquet (same table)", [extract])
        log("reconcile: load the table into a DuckDB warehouse (not timed)")
        self.el.child("el", warehouse_url=wh, run_id="rc_full")
        first = self.child("reconcile", warehouse_url=wh)
        assert first.result["different"] == first.result["missing"] == first.result["extra"] == 0
        self.add("rc_first", "reconcile, equal copy, first run (cold)", [first], _levels)
        equal = self.child("reconcile", warehouse_url=wh)
        assert equal.result["different"] == equal.result["missing"] == equal.result["extra"] == 0
        self.add("rc_equal", "reconcile, equal copy (DuckDB wh)", [equal], _levels)
        changed = _drift(o.source_url, o.table, +1)
        try:
            drift = self.child("reconcile", warehouse_url=wh)
        finally:
            _drift(o.source_url, o.table, -1)
        assert drift.result["different"] == changed, (drift.result, changed)
        self.add(
            "rc_drift",
            "reconcile, 0.1% rows differing",
            [drift],
            lambda r: f"{r['different']:,} found; {_levels(r)}",
        )
        log("reconcile: 1% incremental run, then the delete check that follows it")
        el.touch_rows(o.source_url, o.table, el.ONE_PCT_WHERE)
        inc = self.el.child("el", warehouse_url=wh, run_id="rc_inc1")
        assert inc.result["mode"] == "incremental", inc.result
        self.add("rc_inc1", "incremental 1% (plan+extract+load)", [inc], el.phases)
        detect = self.child("detect", warehouse_url=wh, run_id="rc_inc1")
        self.add(
            "rc_detect",
            "delete check after it (key sets)",
            [detect],
            lambda r: (
                f"{r['marked']} marked; "
                + ("key-set totals equal" if r["compared"] == 0 else f"{r['compared']:,} buckets compared")
            ),
        )
        floor = self.child("key_floor", warehouse_url=wh)
        self.add(
            "rc_key_floor",
            "the floor: every key read once on each side",
            [floor],
            lambda r: f"source {r['source_seconds']:.2f} s, then warehouse {r['warehouse_seconds']:.2f} s",
        )


def _levels(r: dict[str, Any]) -> str:
    return (
        f"{r['levels']} canonical level(s), {r['compared']:,} buckets hashed, "
        f"{r['reused']:,} vouched for by stored fingerprints"
    )


def _drift(url: str, table: str, sign: int) -> int:
    """Change ``amount`` of 0.1% of the rows without touching updated_at (a cursor misses it)."""
    with el.pg_connect(url) as conn:
        cur = conn.execute(
            f"UPDATE {el.SCHEMA}.{table} SET amount = amount + {int(sign)} WHERE {DRIFT_WHERE}"
        )
        n = cur.rowcount
        conn.execute(f"VACUUM (ANALYZE) {el.SCHEMA}.{table}")
    return n


def run_family(o: argparse.Namespace, results: Results, info: dict[str, Any], work: Path) -> None:
    ReconcileBench(o, results, work).run(info)


def evaluate(results: Results) -> list[dict[str, Any] | None]:
    ext, eq, inc, det = (results.get(k) for k in ("rc_extract", "rc_equal", "rc_inc1", "rc_detect"))
    out: list[dict[str, Any] | None] = []
    if ext and eq:
        out.append(
            target(
                "reconcile of an equal table vs full extract",
                eq.seconds / ext.seconds,
                TARGET_EQUAL_X_EXTRACT,
                "max_x",
                f"{eq.seconds:.2f} s / {ext.seconds:.2f} s",
            )
        )
    if inc and det:
        out.append(
            target(
                "delete check added to a 1% incremental run",
                det.seconds / inc.seconds,
                TARGET_DELETES_SHARE,
                "share",
                f"{det.seconds:.2f} s / {inc.seconds:.2f} s",
            )
        )
    floor = results.get("rc_key_floor")
    if inc and det and floor:
        out.append(
            target(
                "the floor of a key-set check vs the same 1% run: whether < 50% is reachable",
                floor.seconds / inc.seconds,
                TARGET_DELETES_SHARE,
                "share",
                f"{floor.seconds:.2f} s / {inc.seconds:.2f} s",
            )
        )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", required=True)
    ap.add_argument("--child-params", required=True)
    ap.add_argument("--child-out", required=True)
    a = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="  [child %(name)s] %(message)s")
    Path(a.child_out).write_text(json.dumps(CHILDREN[a.child](json.loads(a.child_params)), default=str))

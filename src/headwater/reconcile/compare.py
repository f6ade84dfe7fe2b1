"""Compare two sides by key buckets, narrowing only where they differ.

Level 1 groups every row by three hex digits of its key (4096 buckets: see
:func:`headwater.reconcile.sides.bucket_of`) and compares count and hash sum per bucket.
Buckets that agree are done. Differing buckets are split again (two more digits) until the
rows left in them are few, then only those rows' key and row hashes are fetched from both
sides and joined here. Equal tables therefore cost
one aggregate scan per side; the rest grows with the difference, not with the table.
Both sides run their query at the same time (each in its own database).

With stored fingerprints (``known``, see :mod:`headwater.reconcile.state`), level 1 is
preceded by a cheap pass: each side's fast fingerprints, first as one total per side (no
grouping), then, if the totals moved, per bucket. Buckets both sides still vouch for are
equal; only the others are hashed canonically. Level 1 then also reads the fast
fingerprints of the buckets it finds equal, for the next run.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from headwater.reconcile import state as stored
from headwater.reconcile.sides import Side, bucket_value, integer_key

FIRST_DEPTH = 3
STEP = 2
MAX_DEPTH = 8
KEY_LEVEL_ROWS = 20_000
"""Fetch rows once the differing buckets hold at most this many (or splitting stops helping)."""
EXAMPLES = 5
SCAN_ALL_SHARE = 0.5
"""Past this share of level-1 buckets left to compare, level 1 scans the whole table (a list
of thousands of buckets in the query would cost more than it saves)."""


@dataclass
class Comparison:
    """What two sides of one table hold, compared on the key and the given columns."""

    source_rows: int = 0
    warehouse_rows: int = 0
    missing: int = 0
    extra: int = 0
    different: int = 0
    buckets_compared: int = 0
    levels: int = 0
    examples: dict[str, Any] = field(default_factory=lambda: {"missing": [], "extra": [], "different": []})
    missing_hashes: list[str] = field(default_factory=list)
    """Key identities of the rows only the source has (for delete handling: keys to un-mark)."""
    extra_hashes: list[str] = field(default_factory=list)
    """Key identities of the rows only the warehouse has (for delete handling: keys to mark)."""
    seconds: float = 0.0
    reused_buckets: int = 0
    """Buckets found equal by the stored fast fingerprints of both sides alone."""
    state: stored.Fingerprints | None = None
    """Fingerprints to store for the next run; None when there is nothing new to store."""

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.different)


def _both(source: Side, warehouse: Side, call: str, *args: Any) -> tuple[pa.Table, pa.Table]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(getattr(source, call), *args)
        b = pool.submit(getattr(warehouse, call), *args)
        return a.result(), b.result()


def compare(
    source: Side,
    warehouse: Side,
    key: list[tuple[str, str]],
    columns: list[tuple[str, str]],
    with_examples: bool = True,
    known: stored.Fingerprints | None = None,
) -> Comparison:
    """Compare ``source`` and ``warehouse``; with ``known`` (stored fingerprints, possibly
    none yet: both sides must have a fast fingerprint), reuse and renew them."""
    started = time.monotonic()
    result = Comparison()
    local = duckdb.connect()
    fresh: stored.Fingerprints = {}
    try:
        depth, within = FIRST_DEPTH, None
        if columns == key and integer_key(key):
            # A key set (the delete check): first the whole sets' size, sum and sum of 64-bit
            # key hashes, ungrouped. Equal: done; else the buckets narrow down as below.
            src_t, wh_t = _both(source, warehouse, "key_totals", key)
            s, w = src_t.to_pylist()[0], wh_t.to_pylist()[0]
            result.source_rows, result.warehouse_rows = int(s["n"]), int(w["n"])
            result.levels = 1
            if s == w:
                return result
        if known:
            fresh, suspects = _vouched(source, warehouse, key, columns, known, result)
            if not suspects:
                result.state = None if fresh == known else fresh
                return result
            if len(suspects) <= SCAN_ALL_SHARE * 16**FIRST_DEPTH:
                within = (FIRST_DEPTH, [bucket_value(key, b) for b in suspects])
        canonical = 0
        while True:
            first = canonical == 0
            canonical += 1
            fast = first and known is not None
            src, wh = _both(source, warehouse, "buckets", key, columns, depth, within, fast)
            result.levels += 1
            result.buckets_compared += max(src.num_rows, wh.num_rows)
            local.register("src_b", src)
            local.register("wh_b", wh)
            if first and not known:  # else the fast pass counted every row already
                result.source_rows, result.warehouse_rows = local.execute(
                    "SELECT (SELECT coalesce(sum(n), 0) FROM src_b), (SELECT coalesce(sum(n), 0) FROM wh_b)"
                ).fetchone() or (0, 0)
            if fast:  # the buckets found equal, with both sides' fast sums from the same reads
                for b, sn, sfs, wn, wfs in local.execute(
                    "SELECT s.bucket, s.n, s.fs, w.n, w.fs FROM src_b AS s JOIN wh_b AS w "
                    "ON s.bucket = w.bucket WHERE s.n = w.n AND s.s = w.s"
                ).fetchall():
                    fresh[str(b)] = (int(sn), str(sfs), int(wn), str(wfs))
            differing = local.execute(
                "SELECT coalesce(s.bucket, w.bucket), greatest(coalesce(s.n, 0), coalesce(w.n, 0)) "
                "FROM src_b AS s FULL OUTER JOIN wh_b AS w ON s.bucket = w.bucket "
                "WHERE s.n IS DISTINCT FROM w.n OR s.s IS DISTINCT FROM w.s"
            ).fetchall()
            local.unregister("src_b")
            local.unregister("wh_b")
            if fast:
                for b, _ in differing:  # changed since the fast pass vouched for it: not stored
                    fresh.pop(str(b), None)
                result.state = fresh
            if not differing:
                break
            prefixes = [r[0] for r in differing]
            rows_left = sum(int(r[1]) for r in differing)
            deeper_helps = rows_left > 4 * len(prefixes)
            if rows_left <= KEY_LEVEL_ROWS or depth >= MAX_DEPTH or not deeper_helps:
                _key_level(local, source, warehouse, key, columns, depth, prefixes, result, with_examples)
                break
            within = (depth, prefixes)
            depth += STEP
    finally:
        local.close()
        result.seconds = time.monotonic() - started
    return result


def _vouched(
    source: Side,
    warehouse: Side,
    key: list[tuple[str, str]],
    columns: list[tuple[str, str]],
    known: stored.Fingerprints,
    result: Comparison,
) -> tuple[stored.Fingerprints, list[str]]:
    """(kept, suspects): the stored buckets whose fast fingerprints still match on both
    sides, and the buckets left for the canonical comparison. Counts the rows of each side."""
    src_t, wh_t = _both(source, warehouse, "fast_totals", key, columns)
    sn, sfs = src_t.to_pylist()[0].values()
    wn, wfs = wh_t.to_pylist()[0].values()
    result.source_rows, result.warehouse_rows = int(sn), int(wn)
    if (int(sn), int(sfs or 0), int(wn), int(wfs or 0)) == stored.totals(known):
        result.reused_buckets = len(known)
        return known, []
    src_f, wh_f = _both(source, warehouse, "fast_buckets", key, columns, FIRST_DEPTH)
    src = {str(r["bucket"]): (int(r["n"]), int(r["fs"])) for r in src_f.to_pylist()}
    wh = {str(r["bucket"]): (int(r["n"]), int(r["fs"])) for r in wh_f.to_pylist()}
    kept: stored.Fingerprints = {}
    suspects = []
    for b in sorted(set(src) | set(wh) | set(known)):
        k = known.get(b)
        if k is not None and src.get(b) == (k[0], int(k[1])) and wh.get(b) == (k[2], int(k[3])):
            kept[b] = k
        elif b in src or b in wh:
            suspects.append(b)
        # else: verified once, empty on both sides now: equal, nothing to keep
    result.reused_buckets = len(kept)
    return kept, suspects


def _key_level(
    local: duckdb.DuckDBPyConnection,
    source: Side,
    warehouse: Side,
    key: list[tuple[str, str]],
    columns: list[tuple[str, str]],
    depth: int,
    prefixes: list[str],
    result: Comparison,
    with_examples: bool,
) -> None:
    src, wh = _both(source, warehouse, "rows", key, columns, depth, prefixes)
    local.register("src_r", src)
    local.register("wh_r", wh)
    local.execute(
        "CREATE TEMP TABLE diff AS SELECT coalesce(s.kh, w.kh) AS kh, "
        "coalesce(s.key_text, w.key_text) AS key_text, "
        "CASE WHEN w.kh IS NULL THEN 'missing' WHEN s.kh IS NULL THEN 'extra' ELSE 'different' END AS what "
        "FROM src_r AS s FULL OUTER JOIN wh_r AS w ON s.kh = w.kh "
        "WHERE s.kh IS NULL OR w.kh IS NULL OR s.rh <> w.rh"
    )
    for what, n in local.execute("SELECT what, count(*) FROM diff GROUP BY 1").fetchall():
        setattr(result, what, int(n))
    result.missing_hashes = [
        r[0] for r in local.execute("SELECT kh FROM diff WHERE what = 'missing'").fetchall()
    ]
    result.extra_hashes = [r[0] for r in local.execute("SELECT kh FROM diff WHERE what = 'extra'").fetchall()]
    if with_examples:
        for what in ("missing", "extra"):
            rows = local.execute(
                "SELECT key_text FROM diff WHERE what = ? ORDER BY key_text LIMIT ?", [what, EXAMPLES]
            ).fetchall()
            result.examples[what] = [r[0] for r in rows]
        picked = local.execute(
            "SELECT kh, key_text FROM diff WHERE what = 'different' ORDER BY key_text LIMIT ?", [EXAMPLES]
        ).fetchall()
        if picked:
            result.examples["different"] = _differing_columns(source, warehouse, key, columns, picked)
    local.unregister("src_r")
    local.unregister("wh_r")


def _differing_columns(
    source: Side,
    warehouse: Side,
    key: list[tuple[str, str]],
    columns: list[tuple[str, str]],
    picked: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """For a few differing keys: which columns differ (their canonical values, both sides)."""
    hashes = [kh for kh, _ in picked]
    src, wh = _both(source, warehouse, "values", key, columns, hashes)
    by_key_src = {r["kh"]: r for r in src.to_pylist()}  # a handful of rows: examples only
    by_key_wh = {r["kh"]: r for r in wh.to_pylist()}
    examples = []
    for kh, key_text in picked:
        s, w = by_key_src.get(kh, {}), by_key_wh.get(kh, {})
        differs = [name for name, _ in columns if s.get(name) != w.get(name)]
        examples.append(
            {
                "key": key_text,
                "columns": differs,
                "source": {c: s.get(c) for c in differs},
                "warehouse": {c: w.get(c) for c in differs},
            }
        )
    return examples

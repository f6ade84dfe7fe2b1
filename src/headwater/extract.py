"""Extract: stream one table's changed rows from the source into an immutable lake batch.

DuckDB copies the source query straight into Parquet (no Python row loop, memory bounded by
DuckDB's streaming, not by table size). Then the batch is described in a manifest: row count,
columns, cursor range, and the fingerprint of the look-back window that the next run compares
against to decide whether the table has anything new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from headwater import duck
from headwater.lake import Lake, Manifest, parquet_relation
from headwater.sources import SqlSource
from headwater.spec import PipelineSpec, TableSpec
from headwater.watermark import Bound, WatermarkState, lower_bound

log = logging.getLogger(__name__)

PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES '256MB', FILENAME_PATTERN 'part-{i}'"


@dataclass(frozen=True)
class TablePlan:
    """What one table's extract will do in this run (decided by the plan task)."""

    table: str
    mode: str
    watermark: str | None = None
    cursor_type: str | None = None
    window_count: int | None = None
    window_fingerprint: str | None = None
    until: str | None = None
    """Backfills only: the exclusive upper cursor bound (the lower one is ``watermark``)."""

    @classmethod
    def decide(cls, table: TableSpec, state: WatermarkState | None, full_refresh: bool) -> TablePlan:
        if full_refresh or table.effective_mode == "full" or state is None or state.watermark is None:
            return cls(table.name, "full")
        return cls(
            table.name,
            "incremental",
            state.watermark,
            state.cursor_type,
            state.window_count,
            state.window_fingerprint,
        )


def extract_table(
    spec: PipelineSpec, plan: TablePlan, source: SqlSource, lake: Lake, run_id: str, batch_id: str
) -> Manifest | None:
    """Write the batch and return its manifest, or None when the table has nothing new."""
    table = spec.table(plan.table)
    since: Bound | None = None
    until: Bound | None = None
    if plan.mode == "incremental" and plan.watermark is not None and plan.cursor_type:
        since = lower_bound(plan.watermark, plan.cursor_type, spec.lookback_seconds)
    elif plan.mode == "backfill" and plan.cursor_type:
        since = Bound(plan.watermark, plan.cursor_type) if plan.watermark else None
        until = Bound(plan.until, plan.cursor_type) if plan.until else None

    con = duck.connect()
    try:
        source.attach(con)
        lake.configure(con)
        source.check_table(con, table)
        folder = lake.prepare_batch(spec.name, table.name, batch_id)
        query = source.select(table, since, until)
        con.execute(f"COPY ({query}) TO {duck.literal(folder)} ({PARQUET_OPTIONS})")
        files = lake.parquet_files(spec.name, table.name, batch_id)
        batch = parquet_relation(files) if files else None
        rows = duck.scalar(con, f"SELECT count(*) FROM {batch}") if batch else 0
        if rows == 0:
            lake.discard_batch(spec.name, table.name, batch_id)
            log.info("%s.%s: no rows since %s; skipping", spec.name, table.name, plan.watermark)
            return None
        assert batch is not None
        columns = [[r[0], r[1]] for r in con.execute(f"DESCRIBE SELECT * FROM {batch}").fetchall()]
        manifest = Manifest(
            pipeline=spec.name,
            table=table.name,
            run_id=run_id,
            batch_id=batch_id,
            mode=plan.mode,
            rows=rows,
            files=[f.rsplit("/", 1)[-1] for f in files],
            columns=columns,
            cursor=table.cursor,
            watermark_before=plan.watermark,
            extracted_at=datetime.now(UTC).isoformat(),
        )
        if table.cursor:
            cursor_type = dict((c[0], c[1]) for c in columns)[table.cursor]
            c = duck.quote(table.cursor)
            lo, hi = duck.first_row(con, f"SELECT min({c})::VARCHAR, max({c})::VARCHAR FROM {batch}")
            manifest.cursor_min, manifest.cursor_max = lo, hi
            manifest.extra["cursor_type"] = cursor_type
            if (
                plan.mode == "incremental"
                and since is not None
                and _nothing_new(con, batch, table, plan, since, cursor_type)
            ):
                lake.discard_batch(spec.name, table.name, batch_id)
                log.info("%s.%s: only already-loaded rows at the watermark; skipping", spec.name, table.name)
                return None
            window = lower_bound(hi, cursor_type, spec.lookback_seconds)
            manifest.window_count, manifest.window_fingerprint = window_fingerprint(con, batch, table, window)
        lake.write_manifest(manifest)
        log.info("%s.%s: extracted %d rows (%s) to %s", spec.name, table.name, rows, plan.mode, folder)
        return manifest
    finally:
        con.close()


def window_fingerprint(con, relation: str, table: TableSpec, since: Bound) -> tuple[int, str]:
    """Count and order-independent hash of (key, cursor) of the rows with cursor >= since."""
    assert table.cursor
    cols = ", ".join(duck.quote(c) for c in (*table.primary_key, table.cursor))
    n, fp = con.execute(
        f"SELECT count(*), coalesce(sum(hash({cols})), 0)::VARCHAR FROM {relation} "
        f"WHERE {duck.quote(table.cursor)} >= {since.duckdb_literal()}"
    ).fetchone()
    return int(n), str(fp)


def _nothing_new(con, batch: str, table: TableSpec, plan: TablePlan, since: Bound, cursor_type: str) -> bool:
    """True when the batch holds exactly the rows already loaded in the last window.

    The batch reads from the same lower bound as the window recorded at the last load; if no
    row lies past the old watermark, the batch *is* that window, and equal count and
    fingerprint mean no row in it was inserted or updated since.
    """
    if plan.watermark is None or plan.window_fingerprint is None or table.cursor is None:
        return False
    newer = duck.scalar(
        con,
        f"SELECT count(*) FROM {batch} WHERE {duck.quote(table.cursor)} > "
        f"{Bound(plan.watermark, cursor_type).duckdb_literal()}",
    )
    if newer:
        return False
    count, fingerprint = window_fingerprint(con, batch, table, since)
    return count == plan.window_count and fingerprint == plan.window_fingerprint

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
from headwater.errors import RejectedRowsError
from headwater.lake import REJECTS_FILE, Lake, Manifest, parquet_relation
from headwater.sources import Source
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
    files_fingerprint: str | None = None
    """File sources: the files the last full or incremental read loaded (the same files
    again: skip; their rejected lines would otherwise be reported again on every run)."""

    @classmethod
    def decide(cls, table: TableSpec, state: WatermarkState | None, full_refresh: bool) -> TablePlan:
        if full_refresh or state is None:
            return cls(table.name, "full")
        if table.effective_mode == "full" or state.watermark is None:
            # A full read; the fingerprint of the files it read last (file sources) lets an
            # unchanged delivery be skipped.
            return cls(table.name, "full", files_fingerprint=state.files_fingerprint)
        return cls(
            table.name,
            "incremental",
            state.watermark,
            state.cursor_type,
            state.window_count,
            state.window_fingerprint,
            files_fingerprint=state.files_fingerprint,
        )


def extract_table(
    spec: PipelineSpec, plan: TablePlan, source: Source, lake: Lake, run_id: str, batch_id: str
) -> Manifest | None:
    """Write the batch and return its manifest, or None when the table has nothing new.

    Rows the source could not read go to ``_rejects.parquet`` beside the batch (the load
    quarantines them); when their share passes the spec's ``max_rejected_share`` the extract
    fails without a manifest, so nothing is loaded and the rejects stay in the lake to inspect.
    """
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
        files_fingerprint = _files_fingerprint(con, source, table)
        if plan.mode != "backfill" and files_fingerprint and files_fingerprint == plan.files_fingerprint:
            log.info("%s.%s: the same files as at the last load; skipping", spec.name, table.name)
            return None
        folder = lake.prepare_batch(spec.name, table.name, batch_id)
        query = source.relation(con, table, since, until)
        con.execute(f"COPY ({query}) TO {duck.literal(folder)} ({PARQUET_OPTIONS})")
        rejected = _write_rejects(con, source, table, folder)
        _write_recovered(con, source, table, folder)
        files = lake.parquet_files(spec.name, table.name, batch_id)
        batch = parquet_relation(files) if files else None
        rows = duck.scalar(con, f"SELECT count(*) FROM {batch}") if batch else 0
        if rejected:
            # Rejected lines carry no readable cursor, so an incremental read of files reports
            # those of every file it read: weigh them against all the rows read, not only the
            # rows past the watermark.
            read = getattr(source, "rows_before_cursor_filter", None)
            readable = read(con) if read is not None and since is not None else None
            _check_rejected_share(con, spec, table, rows if readable is None else readable, rejected, folder)
        if rows == 0 and rejected == 0:
            lake.discard_batch(spec.name, table.name, batch_id)
            log.info("%s.%s: no rows since %s; skipping", spec.name, table.name, plan.watermark)
            return None
        if batch is None:  # every row rejected (and the threshold allows it): quarantine only
            batch = f"({query} LIMIT 0)"
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
            rejected=rejected,
        )
        if files_fingerprint:
            manifest.extra["files_fingerprint"] = files_fingerprint
        if table.cursor and rows:
            cursor_type = dict((c[0], c[1]) for c in columns)[table.cursor]
            c = duck.quote(table.cursor)
            lo, hi = duck.first_row(con, f"SELECT min({c})::VARCHAR, max({c})::VARCHAR FROM {batch}")
            manifest.cursor_min, manifest.cursor_max = lo, hi
            manifest.extra["cursor_type"] = cursor_type
            if (
                plan.mode == "incremental"
                and since is not None
                and not rejected
                and _nothing_new(con, batch, table, plan, since, cursor_type)
            ):
                lake.discard_batch(spec.name, table.name, batch_id)
                log.info("%s.%s: only already-loaded rows at the watermark; skipping", spec.name, table.name)
                return None
            if table.effective_mode == "incremental":  # a full table's cursor only orders versions
                window = lower_bound(hi, cursor_type, spec.lookback_seconds)
                manifest.window_count, manifest.window_fingerprint = window_fingerprint(
                    con, batch, table, window
                )
        lake.write_manifest(manifest)
        log.info("%s.%s: extracted %d rows (%s) to %s", spec.name, table.name, rows, plan.mode, folder)
        return manifest
    finally:
        con.close()
        close = getattr(source, "close", None)
        if close is not None:  # scratch space of sources that fetch before reading
            close()


def _files_fingerprint(con, source: Source, table: TableSpec) -> str | None:
    fingerprint = getattr(source, "fingerprint", None)
    return fingerprint(con, table) if fingerprint is not None else None


def _write_rejects(con, source: Source, table: TableSpec, folder: str) -> int:
    """Copy the rows the source rejected next to the batch; return how many there were."""
    rejects = source.rejects(con, table)
    if rejects is None:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE __hw_batch_rejects AS {rejects}")
    n = int(duck.scalar(con, "SELECT count(*) FROM __hw_batch_rejects"))
    if n:
        target = duck.literal(f"{folder}/{REJECTS_FILE}")
        con.execute(f"COPY __hw_batch_rejects TO {target} (FORMAT parquet, COMPRESSION zstd)")
        log.warning("%s: %d rows could not be read; they will be quarantined", table.name, n)
    return n


def _write_recovered(con, source: Source, table: TableSpec, folder: str) -> None:
    """Add to the batch the rows a source read only after its rejects (see sources.csv_files)."""
    recovered = getattr(source, "recovered", None)
    sql = recovered(con, table) if recovered is not None else None
    if sql:
        target = duck.literal(f"{folder}/part-recovered.parquet")
        con.execute(f"COPY ({sql}) TO {target} (FORMAT parquet, COMPRESSION zstd)")


def _check_rejected_share(
    con, spec: PipelineSpec, table: TableSpec, rows: int, rejected: int, folder: str
) -> None:
    """Fail when too much of the batch was rejected: a broken delivery, not a few bad rows.

    The message counts rejects per column and kind of error; it never quotes row contents
    (it reaches logs and Slack).
    """
    share = rejected / (rows + rejected)
    if share <= spec.max_rejected_share:
        return
    kinds = con.execute(
        "SELECT coalesce(column_name, '(line)'), split_part(reason, ':', 1), count(*) AS n "
        "FROM __hw_batch_rejects GROUP BY ALL ORDER BY n DESC, 1 LIMIT 5"
    ).fetchall()
    summary = ", ".join(f"{n} x {col} ({kind})" for col, kind, n in kinds)
    raise RejectedRowsError(
        f"{spec.name}.{table.name}: {rejected} of {rows + rejected} rows rejected "
        f"({share:.1%}, above max_rejected_share {spec.max_rejected_share:.1%}): {summary}. "
        f"Nothing was loaded; the rejected rows are in {folder}/{REJECTS_FILE}"
    )


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

"""What every warehouse does the same way: the load transaction, metadata, state.

One batch is one transaction: stage (deduplicated on the key, latest cursor wins) -> upsert
into ``raw_<pipeline>.<table>`` stamping ``_loaded_at``/``_run_id`` -> ledger row ->
watermark. A killed or failed load therefore leaves the table as it was, and a batch already
in the ledger is a no-op, so retries and replays never duplicate. Adapters only supply the
dialect: how to attach, run native SQL, create the raw table and upsert.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb

from headwater import duck
from headwater.errors import TerminalError, connection_error
from headwater.lake import CHUNK_LEDGER_PREFIX, REJECTS_FILE, Lake, Manifest, parquet_relation
from headwater.spec import PipelineSpec, TableSpec
from headwater.warehouse.capabilities import Capabilities
from headwater.warehouse.migrations import migrate
from headwater.warehouse.schema import diff_columns, enforce
from headwater.watermark import WatermarkState

log = logging.getLogger(__name__)

ALIAS = "wh"
META = "headwater"
SYSTEM_COLUMNS = ("_loaded_at", "_run_id")

QUARANTINE_INSERT = (
    f"INSERT INTO {ALIAS}.{META}.quarantine (pipeline, table_name, run_id, batch_id, reason, record, "
    "quarantined_at, source_file, source_line, column_name, record_length, truncated) "
)
QUARANTINE_RECORD_LIMIT = 10_000
"""Characters of a quarantined row's raw text kept; longer ones say so (truncated, length)."""
LEDGER_COLUMNS = (
    "pipeline", "table_name", "run_id", "batch_id", "mode", "rows_in_batch", "rows_changed",
    "rows_deleted", "rows_quarantined", "watermark_before", "watermark_after", "loaded_at",
    "duration_seconds", "extracted_at", "schema_changes", "rows_skipped", "bytes", "rows_read",
)  # fmt: skip


_METADATA_READY: set[str] = set()
"""Warehouse URLs whose metadata tables this process has already created or upgraded."""


@dataclass(frozen=True)
class LoadResult:
    table: str
    batch_id: str
    rows_in_batch: int
    rows_changed: int
    rows_deleted: int
    rows_quarantined: int
    watermark_after: str | None
    replayed: bool = False
    duration_seconds: float = 0.0


class Warehouse(ABC):
    kind: str
    capabilities: Capabilities

    def __init__(self, url: str) -> None:
        self.url = url
        self._scratch_suffix = ""
        """Appended to scratch relations in the warehouse, so parallel chunk loads of one
        table never share one (Postgres)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({duck.mask_url(self.url)})"

    # -- dialect hooks ----------------------------------------------------------------------
    @abstractmethod
    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None: ...

    @abstractmethod
    def native(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        """Run SQL in the warehouse's own dialect, inside the current transaction."""

    @abstractmethod
    def _stage(self, con: duckdb.DuckDBPyConnection, schema: str, table: str, select: str) -> str:
        """Materialize ``select`` as a stage relation; return its (qualified, quoted) name."""

    @abstractmethod
    def _create_raw_from(self, con, schema: str, table: TableSpec, select: str) -> int:
        """Create the raw table from ``select`` (its first batch); return the rows written."""

    @abstractmethod
    def _upsert(
        self, con, schema: str, table: TableSpec, stage: str, columns: list[str], key: tuple, older: bool
    ) -> int:
        """Insert new keys, update changed rows that are not older; return rows inserted or changed.

        Which rows may be replaced is :func:`replace_guard`'s rule, shared by every dialect.
        """

    def _lock_table(  # noqa: B027
        self, con: duckdb.DuckDBPyConnection, pipeline: str, table: str, shared: bool = False
    ) -> None:
        """Serialize concurrent loads of one table until the transaction ends (if needed).

        DuckDB needs nothing: one process holds the file. Postgres takes an advisory lock;
        chunks of one batch (disjoint keys) take it ``shared``, so they run side by side while
        any other load of the table waits for them.
        """

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection, schema: str) -> None:
        """Create ``schema`` if missing, in a transaction of its own (before a load's)."""
        self.native(con, f"CREATE SCHEMA IF NOT EXISTS {duck.quote(schema)}")

    def _refresh_catalog(self, con: duckdb.DuckDBPyConnection) -> None:  # noqa: B027 (optional hook)
        """Forget cached catalog entries after native DDL (Postgres only)."""

    # -- sessions ---------------------------------------------------------------------------
    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duck.connect()
        try:
            try:
                self._attach(con, read_only)
            except duckdb.Error as e:
                # The driver's message can carry the DSN with its password: never re-raise it.
                raise connection_error("the warehouse", self.url, e) from None
            yield con
        finally:
            con.close()

    def ensure_metadata(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bring the metadata tables to the latest version (see migrations.py), once per
        warehouse and process: checking costs a round of catalog statements (~0.5 s on
        Postgres), which a small incremental load would otherwise pay in every session."""
        if self.url in _METADATA_READY:
            return
        applied = migrate(self, con, ALIAS)
        if applied:
            log.info("%r: metadata migrated to version %d", self, applied[-1])
        _METADATA_READY.add(self.url)

    def column_types_of(self, con, schema: str, table: str) -> dict[str, str]:
        # literals, not parameters: binding one makes DuckDB's client import pandas (duck.value)
        rows = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
            f"{duck.value(ALIAS)} AND schema_name = {duck.value(schema)} AND table_name = "
            f"{duck.value(table)} ORDER BY column_index"
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def columns_of(self, con, schema: str, table: str) -> list[str]:
        return list(self.column_types_of(con, schema, table))

    # -- state ------------------------------------------------------------------------------
    def watermarks(self, pipeline: str) -> dict[str, WatermarkState]:
        with self.session() as con:
            self.ensure_metadata(con)
            rows = duck.run(
                con,
                f"SELECT table_name, cursor_column, watermark, cursor_type, window_count, "
                f"window_fingerprint, updated_at, run_id, files_fingerprint FROM {ALIAS}.{META}.watermarks "
                "WHERE pipeline = ?",
                [pipeline],
            ).fetchall()
        return {r[0]: WatermarkState(*r) for r in rows}

    # -- the load transaction ---------------------------------------------------------------
    def load(
        self,
        spec: PipelineSpec,
        manifest: Manifest,
        lake: Lake,
        force: bool = False,
        fill_gaps: bool = False,
    ) -> LoadResult:
        """Load one batch in one transaction; ``force`` reloads a batch the ledger already has.

        A batch extracted before the table's last loaded batch (a killed run resumed later, a
        replay of an old batch) is refused with :class:`StaleBatchError`, unless ``fill_gaps``:
        then it only adds the keys the table lacks and versions whose cursor is newer, and
        deletes nothing. No load ever puts an older version of a row back.

        DuckDB's postgres extension runs transactions at REPEATABLE READ, so a load that waited
        for another load of the same table fails with a serialization error once that one
        commits; it is retried with a fresh snapshot (the lock order is kept).
        """
        for attempt in range(1, 6):
            try:
                result = self._load_once(spec, manifest, lake, force, fill_gaps)
                if result.replayed and manifest.chunk is not None:
                    # A chunk killed after its commit: the watermark may still be due.
                    self._finish_chunks(spec, spec.table(manifest.table), manifest)
                return result
            except duckdb.Error as e:
                if "could not serialize access" not in str(e) or attempt == 5:
                    raise
                log.info(
                    "%s.%s: concurrent load committed first; retrying (%d)",
                    spec.name,
                    manifest.table,
                    attempt,
                )
        raise AssertionError("unreachable")

    def _load_once(
        self, spec: PipelineSpec, manifest: Manifest, lake: Lake, force: bool, fill_gaps: bool
    ) -> LoadResult:
        table = spec.table(manifest.table)
        schema = spec.raw_schema
        started = time.monotonic()
        folder = lake.batch_uri(spec.name, manifest.table, manifest.batch_id)
        files = [f"{folder}/{f}" for f in manifest.files]
        source = parquet_relation(files)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        chunk = manifest.chunk
        self._scratch_suffix = f"_c{chunk[0]}" if chunk else ""
        with self.session() as con:
            lake.configure(con)
            self.ensure_metadata(con)
            batch_bytes = _parquet_bytes(con, files)  # the files' footers, outside the transaction
            self._ensure_schema(con, schema)
            con.execute("BEGIN")
            try:
                self._lock_table(con, spec.name, table.name, shared=chunk is not None)
                if not force and self._already_loaded(con, spec.name, table.name, manifest):
                    con.execute("ROLLBACK")
                    log.info(
                        "%s.%s batch %s already loaded: nothing to do",
                        spec.name,
                        table.name,
                        manifest.ledger_id,
                    )
                    return LoadResult(
                        table.name,
                        manifest.batch_id,
                        manifest.rows,
                        0,
                        0,
                        0,
                        manifest.cursor_max,
                        replayed=True,
                    )
                last = self._last_loaded_batch(con, spec.name, table.name)
                older = _is_older(manifest, last)
                if older and not fill_gaps:
                    raise StaleBatchError(_stale_message(spec.name, table.name, manifest, last))
                self._refresh_catalog(con)
                quarantined, select = 0, ""
                if manifest.rejected:
                    quarantined += self._quarantine_rejects(con, spec, table, manifest, folder, loaded_at)
                if manifest.rows:
                    quarantined += self._quarantine_null_keys(con, spec, table, manifest, source, loaded_at)
                    select, conflicting = self._unique_rows(con, spec, table, manifest, source, loaded_at)
                    quarantined += conflicting
                existing = self.column_types_of(con, schema, table.name)
                drift: list[str] = []
                deleted = 0
                stage: str | None = None
                if manifest.rows == 0:
                    # Every row of the batch was rejected: the quarantine is all there is.
                    changed = 0
                elif not existing:
                    # First load: build the raw table straight from the batch. A stage plus a
                    # MERGE into an empty table costs twice the time and memory (benchmarks/).
                    changed = self._create_raw_from(con, schema, table, select)
                else:
                    drift = self._reconcile_schema(con, spec, schema, table.name, manifest, existing)
                    stage = self._stage(con, schema, table.name, select)
                    columns = [c[0] for c in manifest.columns] + list(SYSTEM_COLUMNS)
                    # An older full read misses newer keys; a chunk sees only its share of them.
                    if manifest.mode == "full" and not older and chunk is None:
                        deleted = self._delete_missing(con, schema, table, stage)
                    changed = self._upsert(con, schema, table, stage, columns, table.primary_key, older)
                # A chunk leaves the watermark to the last chunk of its batch (_finish_chunks).
                watermark = None if chunk else self._advance_watermark(con, spec, table, manifest, older)
                duration = time.monotonic() - started
                duck.run(
                    con,
                    f"INSERT INTO {ALIAS}.{META}.load_ledger ({', '.join(LEDGER_COLUMNS)}) "
                    f"VALUES ({', '.join(['?'] * len(LEDGER_COLUMNS))})",
                    [
                        spec.name,
                        table.name,
                        manifest.run_id,
                        manifest.ledger_id,
                        manifest.mode,
                        manifest.rows,
                        changed,
                        deleted,
                        quarantined,
                        manifest.watermark_before,
                        watermark,
                        loaded_at,
                        duration,
                        manifest.extracted_at,
                        "; ".join(drift) or None,
                        # rows that changed nothing: unchanged, or an older duplicate of a key
                        max(manifest.rows - changed - quarantined, 0),
                        batch_bytes,
                        # rows the source read: the batch's plus those it could not read
                        manifest.rows + manifest.rejected,
                    ],
                )
                if stage is not None:
                    self._drop_stage(con, stage)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        if chunk is not None:
            watermark = self._finish_chunks(spec, table, manifest)
        log.info(
            "%s.%s: %d rows in batch, %d inserted/changed, %d deleted, %d quarantined",
            spec.name,
            table.name,
            manifest.rows,
            changed,
            deleted,
            quarantined,
        )
        return LoadResult(
            table.name,
            manifest.batch_id,
            manifest.rows,
            changed,
            deleted,
            quarantined,
            watermark,
            duration_seconds=duration,
        )

    def _drop_stage(self, con, stage: str) -> None:
        con.execute(f"DROP TABLE IF EXISTS {stage}")

    def _already_loaded(self, con, pipeline: str, table: str, manifest: Manifest) -> bool:
        """Was this very batch loaded? A re-extracted batch of the same run is a new batch."""
        n = duck.scalar(
            con,
            f"SELECT count(*) FROM {ALIAS}.{META}.load_ledger "
            "WHERE pipeline = ? AND table_name = ? AND batch_id = ? AND extracted_at = ?",
            [pipeline, table, manifest.ledger_id, manifest.extracted_at],
        )
        return bool(n)

    def prepare_chunks(self, spec: PipelineSpec, manifest: Manifest, lake: Lake) -> None:
        """Before a batch's chunks load side by side: the raw table exists and has the batch's
        columns (created empty, or altered by the schema-change policy), in one transaction
        holding the table's lock, so no two chunks ever race to create or alter it."""
        table = spec.table(manifest.table)
        schema = spec.raw_schema
        folder = lake.batch_uri(spec.name, manifest.table, manifest.batch_id)
        source = parquet_relation([f"{folder}/{f}" for f in manifest.files])
        with self.session() as con:
            lake.configure(con)
            self.ensure_metadata(con)
            self._ensure_schema(con, schema)
            con.execute("BEGIN")
            try:
                self._lock_table(con, spec.name, table.name)
                self._refresh_catalog(con)
                existing = self.column_types_of(con, schema, table.name)
                if existing:
                    self._reconcile_schema(con, spec, schema, table.name, manifest, existing)
                elif manifest.rows:
                    empty = (
                        f"SELECT *, NULL::TIMESTAMP AS _loaded_at, NULL::VARCHAR AS _run_id "
                        f"FROM {source} LIMIT 0"
                    )
                    self._create_raw_from(con, schema, table, empty)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _finish_chunks(self, spec: PipelineSpec, table: TableSpec, manifest: Manifest) -> str | None:
        """Advance the watermark once every chunk of the batch is in the ledger.

        Runs after a chunk's commit, in a transaction of its own: whichever chunk commits last
        sees all the others and moves the watermark (a watermark moved before every chunk
        was in would let the next run skip the rest). Two chunks finishing at once both write
        the same value; Postgres makes one of them retry.
        """
        assert manifest.chunk is not None
        chunks = manifest.chunk[1]
        prefix = f"{manifest.batch_id}/{CHUNK_LEDGER_PREFIX}"
        for attempt in range(1, 6):
            try:
                with self.session() as con:
                    con.execute("BEGIN")
                    try:
                        done = duck.scalar(
                            con,
                            f"SELECT count(DISTINCT batch_id) FROM {ALIAS}.{META}.load_ledger "
                            "WHERE pipeline = ? AND table_name = ? AND starts_with(batch_id, ?) "
                            "AND extracted_at = ?",
                            [spec.name, table.name, prefix, manifest.extracted_at],
                        )
                        if int(done) < chunks:
                            con.execute("ROLLBACK")
                            return None
                        older = _is_older(manifest, self._last_loaded_batch(con, spec.name, table.name))
                        watermark = self._advance_watermark(con, spec, table, manifest, older)
                        con.execute("COMMIT")
                        return watermark
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
            except duckdb.Error as e:
                if "could not serialize access" not in str(e) or attempt == 5:
                    raise
        raise AssertionError("unreachable")

    def _last_loaded_batch(self, con, pipeline: str, table: str) -> tuple[str, str] | None:
        """(batch id, extracted_at) of the table's most recently extracted loaded batch."""
        row = duck.run(
            con,
            f"SELECT batch_id, extracted_at FROM {ALIAS}.{META}.load_ledger "
            "WHERE pipeline = ? AND table_name = ? AND coalesce(extracted_at, '') <> '' "
            "ORDER BY CAST(extracted_at AS TIMESTAMPTZ) DESC LIMIT 1",
            [pipeline, table],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def _quarantine(self, con, spec, table: TableSpec, manifest: Manifest, at: datetime, rows: str) -> int:
        """Add ``rows`` (reason, record, source_file, source_line, column_name) to the quarantine.

        A row already there (same table, reason, content, file and line: the same line read
        again by a later full read, a re-run or a replay) is not added twice.
        """
        quarantine = f"{ALIAS}.{META}.quarantine"
        cut = (
            f"SELECT reason, left(record, {QUARANTINE_RECORD_LIMIT}) AS record, "
            "coalesce(record_length, length(record))::BIGINT AS record_length, "
            f"coalesce(coalesce(record_length, length(record)) > least(length(record), "
            f"{QUARANTINE_RECORD_LIMIT}), false) AS truncated, "
            f"source_file, source_line, column_name FROM ({rows}) AS r0"
        )
        duck.run(
            con,
            f"CREATE OR REPLACE TEMP TABLE __hw_quarantine AS SELECT * FROM ({cut}) AS r "
            f"WHERE NOT EXISTS (SELECT 1 FROM {quarantine} AS q WHERE q.pipeline = ? AND q.table_name = ? "
            "AND q.reason = r.reason AND q.record IS NOT DISTINCT FROM r.record "
            "AND q.source_file IS NOT DISTINCT FROM r.source_file "
            "AND q.source_line IS NOT DISTINCT FROM r.source_line)",
            [spec.name, table.name],
        )
        n = int(duck.scalar(con, "SELECT count(*) FROM __hw_quarantine"))
        if n:
            duck.run(
                con,
                f"{QUARANTINE_INSERT} SELECT ?, ?, ?, ?, reason, record, ?, source_file, source_line, "
                "column_name, record_length, truncated FROM __hw_quarantine",
                [spec.name, table.name, manifest.run_id, manifest.batch_id, at],
            )
            reasons = con.execute("SELECT DISTINCT split_part(reason, ':', 1) FROM __hw_quarantine LIMIT 3")
            log.warning(
                "%s.%s: %d rows quarantined (%s)",
                spec.name,
                table.name,
                n,
                "; ".join(r[0] for r in reasons.fetchall()),
            )
        return n

    def _quarantine_null_keys(
        self, con, spec, table: TableSpec, manifest: Manifest, source: str, at: datetime
    ) -> int:
        """Rows whose key has a NULL cannot be upserted: keep them, with the reason."""
        null_key = " OR ".join(f"{duck.quote(c)} IS NULL" for c in table.primary_key)
        if not duck.scalar(con, f"SELECT count(*) FROM {source} WHERE {null_key}"):
            return 0
        reason = f"NULL in primary key ({', '.join(table.primary_key)})"
        rows = _whole_rows(reason, f"(SELECT * FROM {source} WHERE {null_key})")
        return self._quarantine(con, spec, table, manifest, at, rows)

    def _quarantine_rejects(
        self, con, spec, table: TableSpec, manifest: Manifest, folder: str, at: datetime
    ) -> int:
        """Rows the source could not read, with file, line, column and reason."""
        rejects = parquet_relation([f"{folder}/{REJECTS_FILE}"])
        # Sources that know a rejected line's full length (when their record is cut) say so.
        has_length = any(
            r[0] == "record_length" for r in con.execute(f"DESCRIBE SELECT * FROM {rejects}").fetchall()
        )
        length = "record_length" if has_length else "NULL::BIGINT AS record_length"
        return self._quarantine(
            con,
            spec,
            table,
            manifest,
            at,
            f"SELECT reason, record, source_file, source_line, column_name, {length} FROM {rejects}",
        )

    def _unique_rows(
        self, con, spec, table: TableSpec, manifest: Manifest, source: str, at: datetime
    ) -> tuple[str, int]:
        """The batch's rows one per key (the stage's SELECT), and how many were quarantined.

        Most batches have no repeated key, and then no window sort is paid. Otherwise the
        latest cursor wins; exact copies collapse into one; rows that share a key and that
        latest cursor but differ in content cannot be ordered, so all of them are quarantined.
        """
        keys = ", ".join(duck.quote(c) for c in table.primary_key)
        not_null = " AND ".join(f"{duck.quote(c)} IS NOT NULL" for c in table.primary_key)
        stamp = (
            f"{duck.literal(at.isoformat(sep=' '))}::TIMESTAMP AS _loaded_at, "
            f"{duck.literal(manifest.run_id)}::VARCHAR AS _run_id"
        )
        repeated = duck.scalar(
            con, f"SELECT count(*) - count(DISTINCT ({keys})) FROM {source} WHERE {not_null}"
        )
        if not repeated:
            return f"SELECT *, {stamp} FROM {source} WHERE {not_null}", 0
        content = [c[0] for c in manifest.columns if c[0] not in ("_source_file", "_source_line")]
        order = f"{duck.quote(table.cursor)} DESC NULLS LAST" if table.cursor else "1"
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __hw_unique AS "
            "WITH latest AS (SELECT * EXCLUDE (__hw_rank), "
            f"hash({', '.join(duck.quote(c) for c in content)}) AS __hw_hash FROM ("
            f"SELECT *, rank() OVER (PARTITION BY {keys} ORDER BY {order}) AS __hw_rank "
            f"FROM {source} WHERE {not_null}) WHERE __hw_rank = 1) "
            "SELECT *, min(__hw_hash) OVER k <> max(__hw_hash) OVER k AS __hw_conflict, "
            f"row_number() OVER k AS __hw_n FROM latest WINDOW k AS (PARTITION BY {keys})"
        )
        internal = "EXCLUDE (__hw_hash, __hw_conflict, __hw_n)"
        n = 0
        if duck.scalar(con, "SELECT count(*) FROM __hw_unique WHERE __hw_conflict"):
            reason = (
                f"duplicate key ({', '.join(table.primary_key)}) in one batch with conflicting values"
                + (f" at the same {table.cursor}" if table.cursor else "")
            )
            rows = _whole_rows(reason, f"(SELECT * {internal} FROM __hw_unique WHERE __hw_conflict)")
            n = self._quarantine(con, spec, table, manifest, at, rows)
        return f"SELECT * {internal}, {stamp} FROM __hw_unique WHERE NOT __hw_conflict AND __hw_n = 1", n

    def _reconcile_schema(
        self, con, spec: PipelineSpec, schema: str, table: str, manifest: Manifest, existing: dict[str, str]
    ) -> list[str]:
        """Apply the pipeline's schema-change policy; return the changes, for the ledger."""
        diff = diff_columns(existing, manifest.columns)
        if not diff:
            return []
        enforce(spec.schema_changes, diff, table)
        target = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table)}"
        for name, type_ in diff.added:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {duck.quote(name)} {_safe_type(type_)}")
        for name, _old, new in diff.retyped:
            self._alter_column_type(con, schema, table, name, _safe_type(new))
        messages = diff.describe(table)
        for m in messages:
            log.warning("%s: schema change: %s", spec.name, m)
        return messages

    def _alter_column_type(self, con, schema: str, table: str, column: str, new_type: str) -> None:
        con.execute(
            f"ALTER TABLE {ALIAS}.{duck.quote(schema)}.{duck.quote(table)} "
            f"ALTER COLUMN {duck.quote(column)} SET DATA TYPE {new_type}"
        )

    def _delete_missing(self, con, schema: str, table: TableSpec, stage: str) -> int:
        target = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table.name)}"
        match = " AND ".join(f"t.{duck.quote(c)} = s.{duck.quote(c)}" for c in table.primary_key)
        row = con.execute(
            f"DELETE FROM {target} AS t WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match})"
        ).fetchone()
        return int(row[0]) if row else 0

    def _advance_watermark(
        self, con, spec: PipelineSpec, table: TableSpec, manifest: Manifest, older: bool = False
    ) -> str | None:
        """Move the table's watermark forward to the batch's newest cursor, never backwards.

        A backfill or an older batch never moves it; a full load sets it to the batch's newest
        cursor. The look-back window's fingerprint is kept with the watermark it belongs to.
        """
        if older:
            current = duck.run(
                con,
                f"SELECT watermark FROM {ALIAS}.{META}.watermarks WHERE pipeline = ? AND table_name = ?",
                [spec.name, table.name],
            ).fetchone()
            return current[0] if current else None
        # A read of files remembers which files it read, so an unchanged delivery is skipped
        # next time (see extract.py).
        files = manifest.extra.get("files_fingerprint") if manifest.mode != "backfill" else None
        if not table.cursor or manifest.cursor_max is None:
            if files and manifest.mode == "full":
                self._write_watermark(
                    con, spec.name, table.name, None, None, None, None, None, manifest.run_id, files
                )
            return None
        current = duck.run(
            con,
            f"SELECT watermark, window_count, window_fingerprint FROM {ALIAS}.{META}.watermarks "
            "WHERE pipeline = ? AND table_name = ?",
            [spec.name, table.name],
        ).fetchone()
        if manifest.mode == "backfill":
            return current[0] if current else None
        cursor_type = _safe_type(manifest.extra["cursor_type"])
        new, count, fingerprint = manifest.cursor_max, manifest.window_count, manifest.window_fingerprint
        if current and current[0] is not None and manifest.mode != "full":
            newer = duck.scalar(
                con,
                f"SELECT CAST(? AS {cursor_type}) > CAST(? AS {cursor_type})",
                [current[0], manifest.cursor_max],
            )
            if newer:  # an older batch (a replay): keep the watermark and its window
                new, count, fingerprint = current
        self._write_watermark(
            con,
            spec.name,
            table.name,
            table.cursor,
            cursor_type,
            new,
            count,
            fingerprint,
            manifest.run_id,
            files,
        )
        return new

    def _write_watermark(
        self,
        con,
        pipeline: str,
        table: str,
        cursor: str | None,
        cursor_type: str | None,
        value: str | None,
        count: int | None,
        fingerprint: str | None,
        run_id: str,
        files_fingerprint: str | None = None,
    ) -> None:
        duck.run(
            con,
            f"DELETE FROM {ALIAS}.{META}.watermarks WHERE pipeline = ? AND table_name = ?",
            [pipeline, table],
        )
        duck.run(
            con,
            f"INSERT INTO {ALIAS}.{META}.watermarks (pipeline, table_name, cursor_column, cursor_type, "
            "watermark, window_count, window_fingerprint, run_id, updated_at, files_fingerprint) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                pipeline,
                table,
                cursor,
                cursor_type,
                value,
                count,
                fingerprint,
                run_id,
                datetime.now(UTC).replace(tzinfo=None),
                files_fingerprint,
            ],
        )

    # -- state commands ---------------------------------------------------------------------
    def reset_watermarks(self, pipeline: str, table: str | None = None) -> int:
        """Forget watermarks so the next run loads in full; returns how many were removed."""
        with self.session() as con:
            self.ensure_metadata(con)
            where, params = "pipeline = ?", [pipeline]
            if table:
                where, params = where + " AND table_name = ?", params + [table]
            n = duck.scalar(con, f"SELECT count(*) FROM {ALIAS}.{META}.watermarks WHERE {where}", params)
            duck.run(con, f"DELETE FROM {ALIAS}.{META}.watermarks WHERE {where}", params)
            return int(n)

    def set_watermark(self, pipeline: str, table: TableSpec, value: str, cursor_type: str) -> None:
        """Set a table's watermark by hand (the next run reads rows from ``value`` on)."""
        cursor_type = _safe_type(cursor_type)
        with self.session() as con:
            self.ensure_metadata(con)
            normal = duck.scalar(con, f"SELECT CAST(? AS {cursor_type})::VARCHAR", [value])
            self._write_watermark(
                con, pipeline, table.name, table.cursor, cursor_type, normal, None, None, "manual"
            )

    def quarantined(
        self, pipeline: str | None = None, table: str | None = None, limit: int = 50
    ) -> list[tuple]:
        where = "1 = 1"
        params: list[Any] = []
        if pipeline:
            where, params = where + " AND pipeline = ?", params + [pipeline]
        if table:
            where, params = where + " AND table_name = ?", params + [table]
        with self.session() as con:
            self.ensure_metadata(con)
            return duck.run(
                con,
                "SELECT pipeline, table_name, run_id, reason, record, quarantined_at, source_file, "
                f"source_line "
                f"FROM {ALIAS}.{META}.quarantine WHERE {where} ORDER BY quarantined_at DESC LIMIT ?",
                params + [limit],
            ).fetchall()

    # -- dbt and reporting ------------------------------------------------------------------
    def record_dbt_results(self, pipeline: str, run_id: str, step: str, rows: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.session() as con:
            self.ensure_metadata(con)
            con.execute("BEGIN")
            duck.run(
                con,
                f"DELETE FROM {ALIAS}.{META}.dbt_results WHERE pipeline = ? AND run_id = ? AND step = ?",
                [pipeline, run_id, step],
            )
            for r in rows:  # one row per dbt node: tens, not millions
                duck.run(
                    con,
                    f"INSERT INTO {ALIAS}.{META}.dbt_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        pipeline,
                        run_id,
                        step,
                        r["unique_id"],
                        r["resource_type"],
                        r["status"],
                        r["execution_time"],
                        r.get("rows_affected"),
                        r.get("failures"),
                        r.get("message"),
                        now,
                    ],
                )
            con.execute("COMMIT")

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Run a read query (DuckDB dialect, tables under ``wh.``) and return all rows."""
        with self.session() as con:
            self.ensure_metadata(con)
            return duck.run(con, sql, params or ()).fetchall()  # literals: no pandas import


class StaleBatchError(TerminalError):
    """A batch older than the table's last loaded one: loading it would roll rows back."""


def _is_older(manifest: Manifest, last: tuple[str, str] | None) -> bool:
    """Was ``manifest`` extracted before the table's last loaded batch?"""
    if last is None or not manifest.extracted_at:
        return False
    return datetime.fromisoformat(manifest.extracted_at) < datetime.fromisoformat(last[1])


def _stale_message(pipeline: str, table: str, manifest: Manifest, last: tuple[str, str] | None) -> str:
    last_id, last_at = last or ("?", "?")
    return (
        f"{pipeline}.{table}: batch {manifest.batch_id} (extracted {manifest.extracted_at}) is older "
        f"than the table's last loaded batch {last_id} (extracted {last_at}); loading it would put "
        "older versions of rows back, so nothing was loaded. This happens when a run killed earlier "
        "is resumed (or an old batch replayed) after a newer run: the table is already newer. To "
        f"add only the rows the table lacks from it: headwater replay {pipeline} --table {table} "
        f"--batch {manifest.batch_id} --fill-gaps"
    )


def replace_guard(table: TableSpec, older: bool, new: str, current: str) -> str:
    """SQL condition under which row ``new`` may replace the stored row ``current`` (aliases).

    With a cursor the cursor decides: a batch in order replaces rows whose cursor is not newer
    than its own; an older batch (``fill_gaps``) only rows strictly older. Without a cursor only
    the batch order can: an older batch replaces nothing.
    """
    if table.cursor is None:
        return "FALSE" if older else "TRUE"
    c = duck.quote(table.cursor)
    if older:
        return f"{new}.{c} > {current}.{c}"
    return f"({current}.{c} IS NULL OR {new}.{c} >= {current}.{c})"


def _whole_rows(reason: str, relation: str) -> str:
    """Quarantine rows (reason, record, ...) for whole rows of a batch, kept as JSON."""
    return (
        f"SELECT {duck.literal(reason)} AS reason, to_json(q)::VARCHAR AS record, "
        "NULL::VARCHAR AS source_file, NULL::BIGINT AS source_line, NULL::VARCHAR AS column_name, "
        f"NULL::BIGINT AS record_length FROM {relation} AS q"
    )


def _parquet_bytes(con, files: list[str]) -> int:
    """Compressed bytes of a batch's Parquet data, for the ledger (the footer, not the rows)."""
    listed = ", ".join(duck.literal(f) for f in files)
    sql = f"SELECT coalesce(sum(total_compressed_size), 0) FROM parquet_metadata([{listed}])"
    return int(duck.scalar(con, sql))


_TYPE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 (),_")


def _safe_type(type_: str) -> str:
    if not set(type_.upper()) <= _TYPE_CHARS:
        raise ValueError(f"refusing column type {type_!r}")
    return type_

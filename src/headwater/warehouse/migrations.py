"""The metadata tables (schema ``headwater``), versioned: every change is a numbered step here.

``headwater.schema_version`` records the steps a warehouse has had. Opening a warehouse
applies the missing ones, in order, in one transaction with their version rows, so a step
is either applied and recorded or not at all. Steps only add (tables, columns),
and the early ones use IF NOT EXISTS, so warehouses created before versioning existed (which
have some of them already) are brought up to date the same way. A warehouse migrated by a
newer Headwater is refused instead of written with an older layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from headwater import duck
from headwater.errors import ConfigError

if TYPE_CHECKING:
    import duckdb

    from headwater.warehouse.base import Warehouse

META = "headwater"
VERSION_TABLE = f"{META}.schema_version"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "metadata tables: watermarks, load ledger, quarantine, dbt results",
        f"""
        CREATE TABLE IF NOT EXISTS {META}.watermarks (
            pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, cursor_column VARCHAR,
            cursor_type VARCHAR, watermark VARCHAR, window_count BIGINT, window_fingerprint VARCHAR,
            run_id VARCHAR, updated_at TIMESTAMP);
        CREATE TABLE IF NOT EXISTS {META}.load_ledger (
            pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
            batch_id VARCHAR NOT NULL, mode VARCHAR, rows_in_batch BIGINT, rows_changed BIGINT,
            rows_deleted BIGINT, rows_quarantined BIGINT, watermark_before VARCHAR,
            watermark_after VARCHAR, loaded_at TIMESTAMP, duration_seconds DOUBLE PRECISION);
        CREATE TABLE IF NOT EXISTS {META}.quarantine (
            pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, run_id VARCHAR, batch_id VARCHAR,
            reason VARCHAR NOT NULL, record VARCHAR, quarantined_at TIMESTAMP);
        CREATE TABLE IF NOT EXISTS {META}.dbt_results (
            pipeline VARCHAR NOT NULL, run_id VARCHAR, step VARCHAR, unique_id VARCHAR,
            resource_type VARCHAR, status VARCHAR, execution_time DOUBLE PRECISION,
            rows_affected BIGINT, failures BIGINT, message VARCHAR, recorded_at TIMESTAMP);
        """,
    ),
    Migration(
        2,
        "load ledger: extraction time and schema changes of each batch",
        f"""
        ALTER TABLE {META}.load_ledger ADD COLUMN IF NOT EXISTS extracted_at VARCHAR;
        ALTER TABLE {META}.load_ledger ADD COLUMN IF NOT EXISTS schema_changes VARCHAR;
        """,
    ),
    Migration(
        3,
        "quarantine: source file, line and column; ledger: rows skipped and bytes; "
        "watermarks: fingerprint of the files a full read saw",
        f"""
        ALTER TABLE {META}.load_ledger ADD COLUMN IF NOT EXISTS rows_skipped BIGINT;
        ALTER TABLE {META}.load_ledger ADD COLUMN IF NOT EXISTS bytes BIGINT;
        ALTER TABLE {META}.watermarks ADD COLUMN IF NOT EXISTS files_fingerprint VARCHAR;
        ALTER TABLE {META}.quarantine ADD COLUMN IF NOT EXISTS source_file VARCHAR;
        ALTER TABLE {META}.quarantine ADD COLUMN IF NOT EXISTS source_line BIGINT;
        ALTER TABLE {META}.quarantine ADD COLUMN IF NOT EXISTS column_name VARCHAR;
        """,
    ),
    Migration(
        4,
        "quarantine: whether the kept record was cut, and its original length; "
        "ledger: rows read from the source files (loaded + quarantined + superseded)",
        f"""
        ALTER TABLE {META}.quarantine ADD COLUMN IF NOT EXISTS truncated BOOLEAN;
        ALTER TABLE {META}.quarantine ADD COLUMN IF NOT EXISTS record_length BIGINT;
        ALTER TABLE {META}.load_ledger ADD COLUMN IF NOT EXISTS rows_read BIGINT;
        """,
    ),
    Migration(
        5,
        "run ledger: one row per DAG run, alert state per pipeline, dbt source freshness",
        f"""
        CREATE TABLE IF NOT EXISTS {META}.runs (
            pipeline VARCHAR NOT NULL, run_id VARCHAR NOT NULL, logical_date TIMESTAMP,
            started_at TIMESTAMP, ended_at TIMESTAMP, outcome VARCHAR, duration_seconds DOUBLE PRECISION,
            tasks_failed BIGINT, tasks_upstream_failed BIGINT, tasks_skipped BIGINT, tables_loaded BIGINT,
            rows_extracted BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, rows_skipped BIGINT,
            bytes_loaded BIGINT, el_seconds DOUBLE PRECISION, dbt_seconds DOUBLE PRECISION,
            dbt_models_ok BIGINT, dbt_tests_passed BIGINT, dbt_tests_warned BIGINT,
            dbt_tests_failed BIGINT, alert VARCHAR, error VARCHAR);
        CREATE TABLE IF NOT EXISTS {META}.alerts (
            pipeline VARCHAR NOT NULL, state VARCHAR NOT NULL, fingerprint VARCHAR,
            first_failed_run VARCHAR, first_failed_at TIMESTAMP, last_posted_at TIMESTAMP,
            last_run_id VARCHAR, failed_runs BIGINT, suppressed BIGINT, updated_at TIMESTAMP);
        CREATE TABLE IF NOT EXISTS {META}.source_freshness (
            pipeline VARCHAR NOT NULL, run_id VARCHAR, source VARCHAR, table_name VARCHAR,
            max_loaded_at TIMESTAMP, snapshotted_at TIMESTAMP, age_seconds DOUBLE PRECISION,
            status VARCHAR, warn_after_seconds DOUBLE PRECISION, error_after_seconds DOUBLE PRECISION,
            checked_at TIMESTAMP);
        """,
    ),
    Migration(
        6,
        "reconciliations: per table, what a source/warehouse comparison or a delete check found",
        f"""
        CREATE TABLE IF NOT EXISTS {META}.reconciliations (
            pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, run_id VARCHAR, kind VARCHAR,
            checked_at TIMESTAMP, source_rows BIGINT, warehouse_rows BIGINT, rows_missing BIGINT,
            rows_extra BIGINT, rows_different BIGINT, rows_marked_deleted BIGINT,
            rows_unmarked BIGINT, buckets_compared BIGINT, duration_seconds DOUBLE PRECISION,
            status VARCHAR, message VARCHAR, examples VARCHAR);
        """,
    ),
    Migration(
        7,
        "transforms: per DAG run, whether its dbt steps ran (and why) and how they ended",
        f"""
        CREATE TABLE IF NOT EXISTS {META}.transforms (
            pipeline VARCHAR NOT NULL, dbt_target VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
            decided_at TIMESTAMP, decision VARCHAR, reason VARCHAR, project_fingerprint VARCHAR,
            changes_seen BIGINT, outcome VARCHAR, finished_at TIMESTAMP);
        """,
    ),
    Migration(
        8,
        "reconcile_state: per table and key bucket, the cheap fingerprints of both sides when "
        "reconcile last found the bucket equal (see reconcile/state.py)",
        f"""
        CREATE TABLE IF NOT EXISTS {META}.reconcile_state (
            pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, spec_fingerprint VARCHAR NOT NULL,
            bucket VARCHAR NOT NULL, source_rows BIGINT, source_hash VARCHAR, warehouse_rows BIGINT,
            warehouse_hash VARCHAR, verified_at TIMESTAMP);
        """,
    ),
)
LATEST = MIGRATIONS[-1].version


def current_version(con: duckdb.DuckDBPyConnection, alias: str) -> int:
    """The warehouse's metadata version: 0 before versioning (or on a new warehouse)."""
    import duckdb

    try:
        row = con.execute(f"SELECT coalesce(max(version), 0) FROM {alias}.{VERSION_TABLE}").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def migrate(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, alias: str) -> list[int]:
    """Apply the missing steps to the warehouse attached as ``alias``; return those applied.

    Concurrent processes serialize on the warehouse's lock for the metadata (Postgres: an
    advisory lock, taken before any DDL, since even CREATE SCHEMA IF NOT EXISTS races there;
    DuckDB: one writer holds the file) and re-read the version under it, so each step is
    applied once.
    """
    import duckdb

    for attempt in range(1, 6):
        if current_version(con, alias) == LATEST:
            return []  # the common case: one query, no transaction, no lock
        try:
            return _migrate_once(warehouse, con, alias)
        except duckdb.Error:
            # Another process migrated while this transaction waited for the lock: its
            # snapshot predates their commit (REPEATABLE READ), so start again with a new one.
            if attempt == 5:
                raise
            warehouse._refresh_catalog(con)
            time.sleep(0.1 * attempt)
    raise AssertionError("unreachable")


def _migrate_once(warehouse: Warehouse, con: duckdb.DuckDBPyConnection, alias: str) -> list[int]:
    applied = []
    con.execute("BEGIN")
    try:
        warehouse._lock_table(con, META, "schema_version")
        warehouse.native(
            con,
            f"CREATE SCHEMA IF NOT EXISTS {META}; CREATE TABLE IF NOT EXISTS {VERSION_TABLE} "
            "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)",
        )
        warehouse._refresh_catalog(con)
        version = current_version(con, alias)
        if version > LATEST:
            raise ConfigError(
                f"the warehouse's metadata is at version {version}, newer than this Headwater knows "
                f"({LATEST}): upgrade Headwater before using this warehouse"
            )
        for step in MIGRATIONS:
            if step.version <= version:
                continue
            warehouse.native(con, step.sql)
            warehouse._refresh_catalog(con)
            duck.run(
                con,
                f"INSERT INTO {alias}.{VERSION_TABLE} VALUES (?, ?, ?)",
                [step.version, step.description, datetime.now(UTC).replace(tzinfo=None)],
            )
            applied.append(step.version)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return applied


__all__ = ["LATEST", "MIGRATIONS", "Migration", "current_version", "migrate"]

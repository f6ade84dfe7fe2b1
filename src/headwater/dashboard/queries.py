"""The SQL behind every chart and number of the dashboards, as plain functions.

Each function takes a DuckDB connection on which the warehouse is attached read-only as
``wh`` (see :mod:`headwater.dashboard.db`) and returns a pandas DataFrame or a small dict, so
tests can call them directly and compare with figures computed from the source. Queries are
written in DuckDB's dialect; on a Postgres warehouse DuckDB's postgres extension reads the
tables. Date ranges are inclusive on both ends. Nothing here writes.

A pipeline that has not run yet has no tables: :func:`missing_tables` tells the pages so
they can show an empty state instead of failing on a missing relation. The queries of a
pipeline's own page live in its folder (``pipelines/<name>/dashboard.py``) and find its marts
through :mod:`headwater.dashboard.marts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import duckdb
import pandas as pd

from headwater.dashboard.db import ALIAS

META = "headwater"

FAILED_STATUSES = ("fail", "error", "runtime error")


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


# --------------------------------------------------------------------------------------------
# catalog


def relations(con: duckdb.DuckDBPyConnection, schemas: Iterable[str] | None = None) -> set[tuple[str, str]]:
    """(schema, name) of every table and view in the warehouse (optionally in ``schemas``)."""
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "UNION SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ?",
        [ALIAS, ALIAS],
    ).fetchall()
    wanted = set(schemas) if schemas is not None else None
    return {(s, t) for s, t in rows if wanted is None or s in wanted}


def missing_tables(
    con: duckdb.DuckDBPyConnection, required: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The ``required`` (schema, table) pairs that do not exist (yet)."""
    required = list(required)
    present = relations(con, {s for s, _ in required})
    return [r for r in required if r not in present]


def missing_columns(
    con: duckdb.DuckDBPyConnection, schema: str, wanted: dict[str, tuple[str, ...]]
) -> list[str]:
    """``table.column`` for every wanted column that the (existing) tables do not have."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ?",
        [ALIAS, schema],
    ).fetchall()
    present = set(rows)
    return [f"{t}.{c}" for t, cols in wanted.items() for c in cols if (t, c) not in present]


def has_metadata(con: duckdb.DuckDBPyConnection) -> bool:
    return not missing_tables(con, [(META, "load_ledger"), (META, "dbt_results"), (META, "quarantine")])


# --------------------------------------------------------------------------------------------
# overview: runs, rows moved, freshness, quarantine, dbt results (the metadata schema)

OVERVIEW_COLUMNS = [
    "pipeline",
    "run_id",
    "run_started_at",
    "run_finished_at",
    "tables_loaded",
    "rows_moved",
    "rows_changed",
    "rows_quarantined_run",
    "last_loaded_at",
    "newest_data_at",
    "quarantined_total",
    "models_built",
    "models_failed",
    "tests_passed",
    "tests_warned",
    "tests_failed",
    "freshness_status",
]


def pipeline_overview(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per pipeline that has run: its latest run and what it did.

    The latest run is the one with the newest load or dbt result. ``rows_*`` and the dbt
    counts are for that run (a run whose extracts were all skipped moved 0 rows);
    ``last_loaded_at`` is the last time any row was loaded, ``newest_data_at`` the newest
    timestamp watermark (how recent the source data is), ``quarantined_total`` every row
    ever quarantined. ``models_built`` counts the models built (by resource type, whatever
    step or per-model task built them, as the ``headwater run`` summary does), ``models_failed``
    any seed, snapshot or model that
    errored. ``freshness_status`` is dbt's source freshness result of that run
    (``pass``/``warn``/``error``, None when the step did not run). Timestamps are UTC.
    """
    if not has_metadata(con):
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    m = f"{ALIAS}.{META}"
    failed = ", ".join(f"'{s}'" for s in FAILED_STATUSES)
    watermarks = (
        f"""
        SELECT pipeline, max(TRY_CAST(watermark AS TIMESTAMP)) AS newest_data_at
        FROM {m}.watermarks
        WHERE cursor_type ILIKE 'TIMESTAMP%' OR cursor_type ILIKE 'DATE%'
        GROUP BY pipeline
        """
        if (META, "watermarks") in relations(con, [META])
        else "SELECT NULL::VARCHAR AS pipeline, NULL::TIMESTAMP AS newest_data_at WHERE false"
    )
    return frame(
        con,
        f"""
        WITH events AS (
            SELECT pipeline, run_id, loaded_at AS event_at FROM {m}.load_ledger
            UNION ALL
            SELECT pipeline, run_id, recorded_at FROM {m}.dbt_results
        ),
        runs AS (
            SELECT pipeline, run_id, min(event_at) AS run_started_at, max(event_at) AS run_finished_at
            FROM events GROUP BY pipeline, run_id
        ),
        latest AS (
            SELECT * FROM runs
            QUALIFY row_number() OVER (PARTITION BY pipeline ORDER BY run_finished_at DESC, run_id DESC) = 1
        ),
        loads AS (
            SELECT l.pipeline,
                count(DISTINCT l.table_name) AS tables_loaded,
                sum(l.rows_in_batch) AS rows_moved,
                sum(l.rows_changed) AS rows_changed,
                sum(l.rows_quarantined) AS rows_quarantined_run
            FROM {m}.load_ledger AS l JOIN latest USING (pipeline, run_id)
            GROUP BY l.pipeline
        ),
        ever_loaded AS (
            SELECT pipeline, max(loaded_at) AS last_loaded_at FROM {m}.load_ledger GROUP BY pipeline
        ),
        dbt AS (
            SELECT d.pipeline,
                count(*) FILTER (WHERE d.resource_type = 'model'
                                 AND d.status = 'success') AS models_built,
                count(*) FILTER (WHERE d.resource_type IN ('model', 'snapshot', 'seed')
                                 AND d.status IN ({failed})) AS models_failed,
                count(*) FILTER (WHERE d.resource_type IN ('test', 'unit_test')
                                 AND d.status = 'pass') AS tests_passed,
                count(*) FILTER (WHERE d.resource_type IN ('test', 'unit_test')
                                 AND d.status = 'warn') AS tests_warned,
                count(*) FILTER (WHERE d.resource_type IN ('test', 'unit_test')
                                 AND d.status IN ({failed})) AS tests_failed,
                CASE
                    WHEN count(*) FILTER (WHERE d.step = 'source_freshness') = 0 THEN NULL
                    WHEN bool_or(d.step = 'source_freshness' AND d.status IN ('error', 'runtime error'))
                        THEN 'error'
                    WHEN bool_or(d.step = 'source_freshness' AND d.status = 'warn') THEN 'warn'
                    ELSE 'pass'
                END AS freshness_status
            FROM {m}.dbt_results AS d JOIN latest USING (pipeline, run_id)
            GROUP BY d.pipeline
        ),
        quarantined AS (
            SELECT pipeline, count(*) AS quarantined_total FROM {m}.quarantine GROUP BY pipeline
        ),
        wm AS ({watermarks})
        SELECT latest.pipeline, latest.run_id, latest.run_started_at, latest.run_finished_at,
            coalesce(loads.tables_loaded, 0) AS tables_loaded,
            coalesce(loads.rows_moved, 0)::BIGINT AS rows_moved,
            coalesce(loads.rows_changed, 0)::BIGINT AS rows_changed,
            coalesce(loads.rows_quarantined_run, 0)::BIGINT AS rows_quarantined_run,
            ever_loaded.last_loaded_at,
            wm.newest_data_at,
            coalesce(quarantined.quarantined_total, 0) AS quarantined_total,
            coalesce(dbt.models_built, 0) AS models_built,
            coalesce(dbt.models_failed, 0) AS models_failed,
            coalesce(dbt.tests_passed, 0) AS tests_passed,
            coalesce(dbt.tests_warned, 0) AS tests_warned,
            coalesce(dbt.tests_failed, 0) AS tests_failed,
            dbt.freshness_status
        FROM latest
        LEFT JOIN loads USING (pipeline)
        LEFT JOIN ever_loaded USING (pipeline)
        LEFT JOIN wm USING (pipeline)
        LEFT JOIN quarantined USING (pipeline)
        LEFT JOIN dbt USING (pipeline)
        ORDER BY latest.pipeline
        """,
    )[OVERVIEW_COLUMNS]


def load_history(con: duckdb.DuckDBPyConnection, pipeline: str, limit: int = 20) -> pd.DataFrame:
    """Rows moved per run (the ``limit`` most recent runs that loaded anything), oldest first."""
    if not has_metadata(con):
        return pd.DataFrame(columns=["run_id", "loaded_at", "rows_moved", "rows_changed", "seconds"])
    return frame(
        con,
        f"""
        SELECT * FROM (
            SELECT run_id, min(loaded_at) AS loaded_at,
                sum(rows_in_batch)::BIGINT AS rows_moved,
                sum(rows_changed)::BIGINT AS rows_changed,
                sum(duration_seconds) AS seconds
            FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ?
            GROUP BY run_id ORDER BY loaded_at DESC LIMIT ?
        ) ORDER BY loaded_at
        """,
        [pipeline, limit],
    )


def run_tables(con: duckdb.DuckDBPyConnection, pipeline: str, run_id: str) -> pd.DataFrame:
    """What each table's load did in one run."""
    return frame(
        con,
        f"""
        SELECT table_name, mode, rows_in_batch, rows_changed, rows_deleted, rows_quarantined,
            watermark_after AS watermark, loaded_at, duration_seconds
        FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? AND run_id = ?
        ORDER BY table_name
        """,
        [pipeline, run_id],
    )


def dbt_problems(con: duckdb.DuckDBPyConnection, pipeline: str, run_id: str) -> pd.DataFrame:
    """The dbt nodes of one run that did not simply pass: warnings, failures, errors."""
    return frame(
        con,
        f"""
        SELECT step, resource_type, unique_id, status, failures, message
        FROM {ALIAS}.{META}.dbt_results
        WHERE pipeline = ? AND run_id = ? AND status NOT IN ('success', 'pass', 'skipped', 'no op')
        ORDER BY CASE WHEN status = 'warn' THEN 1 ELSE 0 END, step, unique_id
        """,
        [pipeline, run_id],
    )


def quarantine_summary(con: duckdb.DuckDBPyConnection, pipeline: str | None = None) -> pd.DataFrame:
    """Quarantined rows per pipeline, table and reason, with the last time one arrived."""
    if not has_metadata(con):
        return pd.DataFrame(columns=["pipeline", "table_name", "reason", "rows", "last_at"])
    where, params = ("WHERE pipeline = ?", [pipeline]) if pipeline else ("", [])
    return frame(
        con,
        f"""
        SELECT pipeline, table_name, reason, count(*) AS rows, max(quarantined_at) AS last_at
        FROM {ALIAS}.{META}.quarantine {where}
        GROUP BY ALL ORDER BY pipeline, table_name, reason
        """,
        params,
    )


def reconcile_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per pipeline: the latest reconcile of each table summed (missing, extra, different, when)
    and the rows the delete check has marked deleted so far."""
    columns = ["pipeline", "tables", "missing", "extra", "different", "checked_at", "marked_deleted"]
    if missing_tables(con, [(META, "reconciliations")]):
        return pd.DataFrame(columns=columns)
    return frame(
        con,
        f"""
        WITH latest AS (
            SELECT * FROM {ALIAS}.{META}.reconciliations WHERE kind = 'reconcile' AND status <> 'error'
            QUALIFY row_number() OVER (PARTITION BY pipeline, table_name ORDER BY checked_at DESC) = 1
        ),
        checked AS (
            SELECT pipeline, count(*) AS tables, sum(rows_missing) AS missing, sum(rows_extra) AS extra,
                sum(rows_different) AS different, max(checked_at) AS checked_at
            FROM latest GROUP BY pipeline
        ),
        marked AS (
            SELECT pipeline, sum(coalesce(rows_marked_deleted, 0)) AS marked_deleted
            FROM {ALIAS}.{META}.reconciliations WHERE kind = 'deletes' GROUP BY pipeline
        )
        SELECT coalesce(c.pipeline, m.pipeline) AS pipeline, c.tables, c.missing, c.extra, c.different,
            c.checked_at, coalesce(m.marked_deleted, 0) AS marked_deleted
        FROM checked AS c FULL OUTER JOIN marked AS m USING (pipeline)
        """,
    )

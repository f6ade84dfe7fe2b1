"""The run ledger: one row per DAG run, alert state per pipeline, dbt source freshness.

These tables live next to the load ledger (``headwater.load_ledger``, one row per table and
batch) and ``headwater.dbt_results`` (one row per dbt node) in the warehouse's metadata
schema. They are created by the metadata migrations (headwater.warehouse.migrations, step 5),
like every other metadata table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from headwater.warehouse.base import ALIAS, META, Warehouse


@dataclass
class RunRecord:
    """One DAG run as the ledger keeps it (``headwater.runs``)."""

    pipeline: str
    run_id: str
    logical_date: datetime | None
    started_at: datetime | None
    ended_at: datetime
    outcome: str
    duration_seconds: float | None
    tasks_failed: int = 0
    tasks_upstream_failed: int = 0
    tasks_skipped: int = 0
    tables_loaded: int = 0
    rows_extracted: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    bytes_loaded: int = 0
    el_seconds: float = 0.0
    dbt_seconds: float = 0.0
    dbt_models_ok: int = 0
    dbt_tests_passed: int = 0
    dbt_tests_warned: int = 0
    dbt_tests_failed: int = 0
    alert: str | None = None
    error: str | None = None


RUN_COLUMNS = tuple(f.name for f in fields(RunRecord))


@dataclass
class AlertState:
    """Where a DAG's alerting stands (``headwater.alerts``, one row per DAG; ``pipeline`` holds
    the dag id, which is the pipeline's name for its default single DAG)."""

    pipeline: str
    state: str  # "ok" or "failing"
    fingerprint: str | None = None
    first_failed_run: str | None = None
    first_failed_at: datetime | None = None
    last_posted_at: datetime | None = None
    last_run_id: str | None = None
    failed_runs: int = 0
    suppressed: int = 0
    updated_at: datetime | None = None


ALERT_COLUMNS = tuple(f.name for f in fields(AlertState))


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_monitoring(wh: Warehouse, con) -> None:
    wh.ensure_metadata(con)


def _insert(con, table: str, columns: tuple[str, ...], values: list[Any]) -> None:
    con.execute(
        f"INSERT INTO {ALIAS}.{META}.{table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        values,
    )


def alert_state(wh: Warehouse, pipeline: str) -> AlertState:
    with wh.session() as con:
        ensure_monitoring(wh, con)
        row = con.execute(
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM {ALIAS}.{META}.alerts WHERE pipeline = ?", [pipeline]
        ).fetchone()
    return AlertState(*row) if row else AlertState(pipeline, "ok")


def record_run(wh: Warehouse, run: RunRecord, state: AlertState | None) -> None:
    """Write the run's ledger row and the pipeline's alert state in one transaction."""
    with wh.session() as con:
        ensure_monitoring(wh, con)
        con.execute("BEGIN")
        try:
            con.execute(
                f"DELETE FROM {ALIAS}.{META}.runs WHERE pipeline = ? AND run_id = ?",
                [run.pipeline, run.run_id],
            )
            _insert(con, "runs", RUN_COLUMNS, list(asdict(run).values()))
            if state is not None:
                con.execute(f"DELETE FROM {ALIAS}.{META}.alerts WHERE pipeline = ?", [state.pipeline])
                _insert(con, "alerts", ALERT_COLUMNS, list(asdict(state).values()))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def freshness_rows(result: Any) -> list[dict[str, Any]]:
    """dbt ``source freshness`` results as rows for ``headwater.source_freshness``."""
    rows = []
    for r in getattr(result, "results", None) or []:
        node = getattr(r, "node", None)
        if node is None:
            continue
        freshness = getattr(node, "freshness", None)
        rows.append(
            {
                "source": getattr(node, "unique_id", "?"),
                "table_name": getattr(node, "name", "?"),
                "max_loaded_at": _naive(getattr(r, "max_loaded_at", None)),
                "snapshotted_at": _naive(getattr(r, "snapshotted_at", None)),
                "age_seconds": getattr(r, "age", None),
                "status": str(getattr(r, "status", "?")),
                "warn_after_seconds": _period_seconds(getattr(freshness, "warn_after", None)),
                "error_after_seconds": _period_seconds(getattr(freshness, "error_after", None)),
            }
        )
    return rows


_PERIOD = {"minute": 60, "hour": 3600, "day": 86400}


def _period_seconds(after: Any) -> float | None:
    count, period = getattr(after, "count", None), getattr(after, "period", None)
    if count is None or period is None:
        return None
    return float(count) * _PERIOD.get(str(getattr(period, "value", period)), 0) or None


def _naive(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def record_freshness(wh: Warehouse, pipeline: str, run_id: str, rows: list[dict[str, Any]]) -> None:
    columns = (
        "pipeline",
        "run_id",
        "source",
        "table_name",
        "max_loaded_at",
        "snapshotted_at",
        "age_seconds",
        "status",
        "warn_after_seconds",
        "error_after_seconds",
        "checked_at",
    )
    now = utcnow()
    with wh.session() as con:
        ensure_monitoring(wh, con)
        con.execute("BEGIN")
        con.execute(
            f"DELETE FROM {ALIAS}.{META}.source_freshness WHERE pipeline = ? AND run_id = ?",
            [pipeline, run_id],
        )
        for r in rows:  # one row per source table: a handful
            _insert(con, "source_freshness", columns, [pipeline, run_id, *(r[c] for c in columns[2:-1]), now])
        con.execute("COMMIT")

"""What a run did and where things stand, read back from the warehouse's metadata schema."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headwater import duck
from headwater.spec import PipelineSpec
from headwater.warehouse import open_warehouse
from headwater.warehouse.base import ALIAS, META


@dataclass
class RunReport:
    pipeline: str
    run_id: str | None
    raw_rows: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, dict[str, Any]] = field(default_factory=dict)
    dbt: dict[str, dict[str, int]] = field(default_factory=dict)
    """dbt resource type (model, test, snapshot, seed, source) -> {status: count}"""
    watermarks: dict[str, str | None] = field(default_factory=dict)

    @property
    def models_built(self) -> int:
        # by resource type, not step name: a DAG shape names its own steps
        return self.dbt.get("model", {}).get("success", 0)

    def tests(self) -> dict[str, int]:
        # Only tests end as pass/warn/fail (models: success/error), whichever step ran them.
        out = {"pass": 0, "warn": 0, "fail": 0, "error": 0}
        for kind in ("test", "unit_test"):
            for status, n in self.dbt.get(kind, {}).items():
                out[status] = out.get(status, 0) + n
        return out


def latest_run_id(con, pipeline: str) -> str | None:
    """The pipeline's most recent run by time (run ids do not sort by time: ``backfill__…``).

    The run ledger says when each DAG run ended; loads and dbt steps recorded outside a DAG
    run (replays, backfills, older warehouses) count by when they were written.
    """
    parts = [
        f"SELECT run_id, loaded_at AS seen_at FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ?",
        f"SELECT run_id, recorded_at FROM {ALIAS}.{META}.dbt_results WHERE pipeline = ?",
    ]
    has_runs = duck.scalar(
        con,
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = 'runs'",
        [ALIAS, META],
    )
    if has_runs:
        parts.append(f"SELECT run_id, ended_at FROM {ALIAS}.{META}.runs WHERE pipeline = ?")
    row = duck.run(
        con, " UNION ALL ".join(parts) + " ORDER BY seen_at DESC NULLS LAST LIMIT 1", [pipeline] * len(parts)
    ).fetchone()
    return row[0] if row else None


def run_report(
    spec: PipelineSpec, warehouse_url: str, run_ids: str | Sequence[str] | None = None
) -> RunReport:
    """What one run did; a pipeline of several DAGs passes the run id of each DAG's run (its
    loads are keyed by the ingest DAG's run, its dbt results by the transform DAG's). With no
    run id: the pipeline's latest run."""
    ids = [run_ids] if isinstance(run_ids, str) else list(run_ids or [])
    wh = open_warehouse(warehouse_url)
    with wh.session(read_only=True) as con:
        meta_exists = bool(
            duck.scalar(
                con,
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
                "AND table_name = 'load_ledger'",
                [ALIAS, META],
            )
        )
        if not ids and meta_exists:
            ids = [r for r in [latest_run_id(con, spec.name)] if r]
        report = RunReport(spec.name, ids[0] if ids else None)
        existing = duck.tables_in(con, ALIAS, spec.raw_schema)
        for t in spec.tables:
            if t.name in existing:
                report.raw_rows[t.name] = duck.scalar(
                    con, f"SELECT count(*) FROM {ALIAS}.{duck.quote(spec.raw_schema)}.{duck.quote(t.name)}"
                )
        if not meta_exists:
            return report
        for table, rows, changed, quarantined, wm in duck.run(
            con,
            # a table can have several batches in one run (chunks, a retried load): add them up
            f"SELECT table_name, sum(rows_in_batch), sum(rows_changed), sum(rows_quarantined), "
            f"max(watermark_after) FROM {ALIAS}.{META}.load_ledger "
            "WHERE pipeline = ? AND list_contains(?, run_id) GROUP BY table_name",
            [spec.name, ids],
        ).fetchall():
            report.loaded[table] = {
                "rows": rows,
                "changed": changed,
                "quarantined": quarantined,
                "watermark": wm,
            }
        for resource_type, status, n in duck.run(
            con,
            f"SELECT resource_type, status, count(*) FROM {ALIAS}.{META}.dbt_results "
            "WHERE pipeline = ? AND list_contains(?, run_id) GROUP BY ALL",
            [spec.name, ids],
        ).fetchall():
            report.dbt.setdefault(resource_type, {})[status] = n
        for table, wm in duck.run(
            con,
            f"SELECT table_name, watermark FROM {ALIAS}.{META}.watermarks WHERE pipeline = ?",
            [spec.name],
        ).fetchall():
            report.watermarks[table] = wm
    return report

"""What a run did and where things stand, read back from the warehouse's metadata schema."""

from __future__ import annotations

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
    """step -> {status: count}"""
    watermarks: dict[str, str | None] = field(default_factory=dict)

    types: dict[str, dict[str, int]] = field(default_factory=dict)
    """dbt resource type -> {status: count} (whatever the steps or per-model tasks were)"""

    @property
    def models_built(self) -> int:
        return self.types.get("model", {}).get("success", 0)

    def tests(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "error": 0}
        for kind in ("test", "unit_test"):
            for status, n in self.types.get(kind, {}).items():
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
    row = con.execute(
        " UNION ALL ".join(parts) + " ORDER BY seen_at DESC NULLS LAST LIMIT 1", [pipeline] * len(parts)
    ).fetchone()
    return row[0] if row else None


def run_report(spec: PipelineSpec, warehouse_url: str, run_id: str | None = None) -> RunReport:
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
        if run_id is None and meta_exists:
            run_id = latest_run_id(con, spec.name)
        report = RunReport(spec.name, run_id)
        existing = duck.tables_in(con, ALIAS, spec.raw_schema)
        for t in spec.tables:
            if t.name in existing:
                report.raw_rows[t.name] = duck.scalar(
                    con, f"SELECT count(*) FROM {ALIAS}.{duck.quote(spec.raw_schema)}.{duck.quote(t.name)}"
                )
        if not meta_exists:
            return report
        for table, rows, changed, quarantined, wm in con.execute(
            f"SELECT table_name, rows_in_batch, rows_changed, rows_quarantined, watermark_after "
            f"FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? AND run_id = ?",
            [spec.name, run_id],
        ).fetchall():
            report.loaded[table] = {
                "rows": rows,
                "changed": changed,
                "quarantined": quarantined,
                "watermark": wm,
            }
        for step, kind, status, n in con.execute(
            f"SELECT step, resource_type, status, count(*) FROM {ALIAS}.{META}.dbt_results "
            "WHERE pipeline = ? AND run_id = ? GROUP BY ALL",
            [spec.name, run_id],
        ).fetchall():
            counts = report.dbt.setdefault(step, {})
            counts[status] = counts.get(status, 0) + n
            by_type = report.types.setdefault(kind, {})
            by_type[status] = by_type.get(status, 0) + n
        for table, wm in con.execute(
            f"SELECT table_name, watermark FROM {ALIAS}.{META}.watermarks WHERE pipeline = ?", [spec.name]
        ).fetchall():
            report.watermarks[table] = wm
    return report

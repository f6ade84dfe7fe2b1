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

    @property
    def models_built(self) -> int:
        return sum(c.get("success", 0) for s, c in self.dbt.items() if s in ("staging", "core"))

    def tests(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "error": 0}
        for step in ("source_tests", "test_all"):
            for status, n in self.dbt.get(step, {}).items():
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


def run_report(
    spec: PipelineSpec, warehouse_url: str, run_id: str | None = None, also: tuple[str, ...] = ()
) -> RunReport:
    """What the run ``run_id`` (and the runs ``also``: the other DAGs of one pipeline run) did."""
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
        run_ids = [run_id, *(r for r in also if r != run_id)]
        among = ", ".join("?" for _ in run_ids)
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
            f"FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? AND run_id IN ({among})",
            [spec.name, *run_ids],
        ).fetchall():
            report.loaded[table] = {
                "rows": rows,
                "changed": changed,
                "quarantined": quarantined,
                "watermark": wm,
            }
        for step, status, n in con.execute(
            f"SELECT step, status, count(*) FROM {ALIAS}.{META}.dbt_results "
            f"WHERE pipeline = ? AND run_id IN ({among}) GROUP BY ALL",
            [spec.name, *run_ids],
        ).fetchall():
            report.dbt.setdefault(step, {})[status] = n
        for table, wm in con.execute(
            f"SELECT table_name, watermark FROM {ALIAS}.{META}.watermarks WHERE pipeline = ?", [spec.name]
        ).fetchall():
            report.watermarks[table] = wm
    return report

"""``headwater status [pipeline]``: the run ledger as readable tables.

Recent runs (newest first, by time), then for the latest run: per table rows extracted /
loaded / quarantined / skipped, bytes, load time, watermark before and after, and how fresh
the source data is; then the dbt nodes: failed tests with failing rows, slowest models.
Reads only (a short read-only session), so it can run while a pipeline is loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from headwater import duck
from headwater.report import latest_run_id
from headwater.spec import PipelineSpec
from headwater.warehouse.base import ALIAS, META

RUN_FIELDS = ("run_id", "started_at", "duration_seconds", "outcome", "rows_extracted", "rows_loaded",
              "rows_quarantined", "dbt_tests_failed", "alert")  # fmt: skip


@dataclass
class PipelineStatus:
    pipeline: str
    run_id: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    failed_tests: list[tuple[str, str, int | None]] = field(default_factory=list)
    slowest_models: list[tuple[str, float]] = field(default_factory=list)
    dbt_counts: dict[str, dict[str, int]] = field(default_factory=dict)


def _meta_tables(con) -> set[str]:
    return duck.tables_in(con, ALIAS, META)


def read_status(spec: PipelineSpec, warehouse_url: str, recent: int = 5) -> PipelineStatus:
    from headwater.dashboard.db import Reader

    def read(con) -> PipelineStatus:
        status = PipelineStatus(spec.name)
        meta = _meta_tables(con)
        if "load_ledger" not in meta:
            return status
        status.run_id = latest_run_id(con, spec.name)
        if "runs" in meta:
            rows = con.execute(
                f"SELECT {', '.join(RUN_FIELDS)} FROM {ALIAS}.{META}.runs WHERE pipeline = ? "
                "ORDER BY ended_at DESC LIMIT ?",
                [spec.name, recent],
            ).fetchall()
            status.runs = [dict(zip(RUN_FIELDS, r, strict=True)) for r in rows]
        ledger = {
            r[0]: r
            for r in con.execute(
                "SELECT table_name, sum(rows_in_batch), sum(rows_changed), sum(rows_quarantined), "
                "sum(coalesce(rows_skipped, 0)), sum(coalesce(bytes, 0)), sum(duration_seconds), "
                f"min(watermark_before), max(watermark_after) FROM {ALIAS}.{META}.load_ledger "
                "WHERE pipeline = ? AND run_id = ? GROUP BY table_name",
                [spec.name, status.run_id],
            ).fetchall()
        }
        marks = dict(
            con.execute(
                f"SELECT table_name, watermark FROM {ALIAS}.{META}.watermarks WHERE pipeline = ?", [spec.name]
            ).fetchall()
        )
        fresh: dict[str, tuple] = {}
        if "source_freshness" in meta:
            for table, max_loaded_at, status_, error_after in con.execute(
                "SELECT table_name, max_loaded_at, status, error_after_seconds "
                f"FROM {ALIAS}.{META}.source_freshness WHERE pipeline = ? "
                "QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY checked_at DESC) = 1",
                [spec.name],
            ).fetchall():
                fresh[table] = (max_loaded_at, status_, error_after)
        raw = duck.tables_in(con, ALIAS, spec.raw_schema)
        for t in spec.tables:
            row = ledger.get(t.name)
            rows_now = None
            if t.name in raw:
                rows_now = con.execute(
                    f"SELECT count(*) FROM {ALIAS}.{duck.quote(spec.raw_schema)}.{duck.quote(t.name)}"
                ).fetchone()[0]
            status.tables.append(
                {
                    "table": t.name,
                    "rows": rows_now,
                    "extracted": row[1] if row else None,
                    "loaded": row[2] if row else None,
                    "quarantined": row[3] if row else None,
                    "skipped": row[4] if row else None,
                    "bytes": row[5] if row else None,
                    "seconds": row[6] if row else None,
                    "watermark_before": row[7] if row else None,
                    "watermark_after": (row[8] if row else None) or marks.get(t.name),
                    "freshness": fresh.get(t.name),
                }
            )
        for step, st, n in con.execute(
            f"SELECT step, status, count(*) FROM {ALIAS}.{META}.dbt_results "
            "WHERE pipeline = ? AND run_id = ? GROUP BY ALL ORDER BY 1, 2",
            [spec.name, status.run_id],
        ).fetchall():
            status.dbt_counts.setdefault(step, {})[st] = n
        status.failed_tests = [
            (r[0], r[1], r[2])
            for r in con.execute(
                f"SELECT unique_id, status, failures FROM {ALIAS}.{META}.dbt_results WHERE pipeline = ? "
                "AND run_id = ? AND resource_type = 'test' AND status IN ('fail', 'error', 'warn') "
                "ORDER BY 1",
                [spec.name, status.run_id],
            ).fetchall()
        ]
        status.slowest_models = [
            (r[0], r[1])
            for r in con.execute(
                f"SELECT unique_id, execution_time FROM {ALIAS}.{META}.dbt_results WHERE pipeline = ? "
                "AND run_id = ? AND resource_type = 'model' ORDER BY execution_time DESC LIMIT 5",
                [spec.name, status.run_id],
            ).fetchall()
        ]
        return status

    return Reader(warehouse_url).run(read)


def _n(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


def _age(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "-"
    seconds = max((now - at).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


WIDE_ENOUGH = 160
"""Columns the tables need to stay readable; narrower output (a pipe: 80) gets one block per row."""


def render(console: Console, status: PipelineStatus, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC).replace(tzinfo=None)
    console.rule(f"{status.pipeline}: last run {status.run_id or '(never)'}")
    if console.width < WIDE_ENOUGH:
        _render_blocks(console, status, now)
    else:
        _render_tables(console, status, now)
    _render_dbt(console, status)


def _render_blocks(console: Console, status: PipelineStatus, now: datetime) -> None:
    """The same figures as the tables, one short block per run and per table."""
    if status.runs:
        console.print("[bold]recent runs[/]")
    for r in status.runs:
        colour = "green" if r["outcome"] == "success" else "red"
        started = f"{r['started_at']:%Y-%m-%d %H:%M:%S}" if r["started_at"] else "-"
        took = f"{r['duration_seconds']:.0f} s" if r["duration_seconds"] is not None else "-"
        console.print(f"  {escape(str(r['run_id']))}", soft_wrap=True)
        console.print(
            f"    [{colour}]{r['outcome']}[/], started {started} (UTC), took {took}; rows extracted "
            f"{_n(r['rows_extracted'])}, loaded {_n(r['rows_loaded'])}, quarantined "
            f"{_n(r['rows_quarantined'])}; tests failed {_n(r['dbt_tests_failed'])}; alert "
            f"{escape(str(r['alert'] or '-'))}"
        )
    console.print("[bold]tables (latest run)[/]")
    for t in status.tables:
        fresh = t["freshness"]
        fresh_text = "-"
        if fresh:
            colour = {"pass": "green", "warn": "yellow"}.get(str(fresh[1]), "red")
            newest = f"{fresh[0]:%Y-%m-%d %H:%M:%S}" if fresh[0] else "-"
            fresh_text = f"newest source row {newest}, [{colour}]{_age(fresh[0], now)} old ({fresh[1]})[/]"
        seconds = f"{t['seconds']:.2f} s" if t["seconds"] is not None else "-"
        console.print(
            f"  [bold]{t['table']}[/]: {_n(t['rows'])} rows now; extracted {_n(t['extracted'])}, loaded "
            f"{_n(t['loaded'])}, quarantined {_n(t['quarantined'])}, skipped {_n(t['skipped'])}; "
            f"{_n(t['bytes'])} bytes in {seconds}"
        )
        console.print(
            f"    watermark {t['watermark_before'] or '-'} -> {t['watermark_after'] or '-'}; "
            f"freshness: {fresh_text}"
        )


def _render_tables(console: Console, status: PipelineStatus, now: datetime) -> None:
    if status.runs:
        runs = Table(title="recent runs", title_justify="left")
        for col in ("run", "started (UTC)", "took", "outcome", "extracted", "loaded", "quarantined",
                    "tests failed", "alert"):  # fmt: skip
            runs.add_column(col, justify="right" if col in ("took", "extracted", "loaded") else "left")
        for r in status.runs:
            colour = "green" if r["outcome"] == "success" else "red"
            runs.add_row(
                escape(str(r["run_id"])),
                f"{r['started_at']:%Y-%m-%d %H:%M:%S}" if r["started_at"] else "-",
                f"{r['duration_seconds']:.0f} s" if r["duration_seconds"] is not None else "-",
                f"[{colour}]{r['outcome']}[/]",
                _n(r["rows_extracted"]),
                _n(r["rows_loaded"]),
                _n(r["rows_quarantined"]),
                _n(r["dbt_tests_failed"]),
                escape(str(r["alert"] or "-")),
            )
        console.print(runs)
    tables = Table(title="tables (latest run)", title_justify="left")
    numeric = {"rows now", "extracted", "loaded", "quarantined", "skipped", "bytes", "load s"}
    for col in ("table", "rows now", "extracted", "loaded", "quarantined", "skipped", "bytes", "load s",
                "watermark before", "watermark after", "newest source row", "freshness"):  # fmt: skip
        tables.add_column(col, justify="right" if col in numeric else "left")
    for t in status.tables:
        fresh = t["freshness"]
        fresh_text = "-"
        if fresh:
            colour = {"pass": "green", "warn": "yellow"}.get(str(fresh[1]), "red")
            fresh_text = f"[{colour}]{_age(fresh[0], now)} old ({fresh[1]})[/]"
        tables.add_row(
            t["table"],
            _n(t["rows"]),
            _n(t["extracted"]),
            _n(t["loaded"]),
            _n(t["quarantined"]),
            _n(t["skipped"]),
            _n(t["bytes"]),
            f"{t['seconds']:.2f}" if t["seconds"] is not None else "-",
            str(t["watermark_before"] or "-"),
            str(t["watermark_after"] or "-"),
            f"{fresh[0]:%Y-%m-%d %H:%M:%S}" if fresh and fresh[0] else "-",
            fresh_text,
        )
    console.print(tables)


def _render_dbt(console: Console, status: PipelineStatus) -> None:
    for step, counts in status.dbt_counts.items():
        console.print(f"  dbt {step}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for node, st, failures in status.failed_tests:
        rows = f", {failures:,} failing rows" if failures is not None else ""
        console.print(f"  [red]test {escape(node)}: {st}{rows}[/]")
    if status.slowest_models:
        console.print(
            "  slowest models: "
            + ", ".join(f"{escape(n.split('.')[-1])} {s:.2f} s" for n, s in status.slowest_models)
        )

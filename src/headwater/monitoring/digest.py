"""The optional daily digest: what every pipeline did in the last day, in one Slack message.

``headwater digest --post`` (from cron, or an Airflow DAG of your own) sends it; without
``--post`` it only prints. Counts and identifiers only: runs, rows moved, quarantined rows,
how old each pipeline's newest source row is, and warnings (dbt tests that warned, sources
past their freshness warning).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headwater import duck
from headwater.warehouse.base import ALIAS, META


@dataclass
class PipelineDay:
    pipeline: str
    runs_ok: int
    runs_failed: int
    rows_loaded: int
    rows_quarantined: int
    tests_warned: int
    oldest_source_age_seconds: float | None
    stale_sources: int


def read_digest(warehouse_url: str, hours: float = 24, now: datetime | None = None) -> list[PipelineDay]:
    from headwater.dashboard.db import Reader

    now = now or datetime.now(UTC).replace(tzinfo=None)
    since = now - timedelta(hours=hours)

    def read(con) -> list[PipelineDay]:
        meta = duck.tables_in(con, ALIAS, META)
        if "runs" not in meta:
            return []
        fresh: dict[str, tuple[Any, int]] = {}
        if "source_freshness" in meta:
            for pipeline, oldest, stale in con.execute(
                "SELECT pipeline, min(max_loaded_at), count(*) FILTER (WHERE status <> 'pass') FROM ("
                f"SELECT * FROM {ALIAS}.{META}.source_freshness QUALIFY row_number() OVER "
                "(PARTITION BY pipeline, table_name ORDER BY checked_at DESC) = 1) GROUP BY pipeline"
            ).fetchall():
                fresh[pipeline] = (oldest, stale)
        days = []
        for row in con.execute(
            "SELECT pipeline, count(*) FILTER (WHERE outcome = 'success'), "
            "count(*) FILTER (WHERE outcome <> 'success'), coalesce(sum(rows_loaded), 0), "
            "coalesce(sum(rows_quarantined), 0), coalesce(sum(dbt_tests_warned), 0) "
            f"FROM {ALIAS}.{META}.runs WHERE ended_at >= ? GROUP BY pipeline ORDER BY pipeline",
            [since],
        ).fetchall():
            oldest, stale = fresh.get(row[0], (None, 0))
            age = (now - oldest).total_seconds() if isinstance(oldest, datetime) else None
            p, ok, failed, loaded, quarantined, warned = row
            days.append(
                PipelineDay(
                    p, int(ok), int(failed), int(loaded), int(quarantined), int(warned), age, int(stale)
                )
            )
        return days

    return Reader(warehouse_url).run(read)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def digest_message(days: list[PipelineDay], hours: float = 24) -> dict[str, Any]:
    text = (
        f":bar_chart: Headwater digest, last {hours:g} h: {len(days)} pipeline{'s' if len(days) != 1 else ''}"
    )
    lines = []
    for d in days:
        warnings = []
        if d.tests_warned:
            warnings.append(f"{d.tests_warned} dbt test warning{'s' if d.tests_warned != 1 else ''}")
        if d.stale_sources:
            warnings.append(
                f"{d.stale_sources} source table{'s' if d.stale_sources != 1 else ''} past freshness"
            )
        lines.append(
            f"• *{d.pipeline}*: {d.runs_ok} ok / {d.runs_failed} failed runs, {d.rows_loaded:,} rows loaded, "
            f"{d.rows_quarantined:,} quarantined; newest source data {_age(d.oldest_source_age_seconds)} old"
            + (f"; warnings: {', '.join(warnings)}" if warnings else "")
        )
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:2900]}})
    return {"text": text, "blocks": blocks}

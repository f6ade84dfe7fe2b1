"""Does the warehouse still equal the source? Reconciliation and delete detection.

``reconcile_pipeline`` compares every listable table's source with its raw copy (missing
rows, rows only in the warehouse, rows whose content differs) and records the result in the
run ledger (``headwater.reconciliations``). ``detect_deletes`` compares key sets only and
marks the raw rows whose key vanished from the source (see :mod:`headwater.reconcile.deletes`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from headwater import duck
from headwater.errors import HeadwaterError
from headwater.reconcile import state
from headwater.reconcile.compare import FIRST_DEPTH, Comparison, compare
from headwater.reconcile.tables import NotComparable, open_pair
from headwater.settings import Settings
from headwater.spec import PipelineSpec

log = logging.getLogger(__name__)

RECONCILE = "reconcile"
DELETES = "deletes"


@dataclass
class TableReport:
    pipeline: str
    table: str
    status: str
    """equal, different, empty_source, skipped or error."""
    message: str = ""
    comparison: Comparison = field(default_factory=Comparison)
    marked: int = 0
    unmarked: int = 0

    def as_dict(self) -> dict[str, Any]:
        c = self.comparison
        return {
            "pipeline": self.pipeline,
            "table": self.table,
            "status": self.status,
            "message": self.message,
            "source_rows": c.source_rows,
            "warehouse_rows": c.warehouse_rows,
            "missing": c.missing,
            "extra": c.extra,
            "different": c.different,
            "marked_deleted": self.marked,
            "unmarked": self.unmarked,
            "buckets_compared": c.buckets_compared,
            "buckets_reused": c.reused_buckets,
            "seconds": round(c.seconds, 3),
            "examples": c.examples,
        }


def reconcile_table(spec: PipelineSpec, table_name: str, settings: Settings) -> TableReport:
    """Compare one table's source and raw copy on the source's columns."""
    table = spec.table(table_name)
    fingerprint = None
    try:
        with open_pair(spec, table, settings, fast=True) as pair:
            known = None
            if pair.source.fast and pair.warehouse.fast:
                fingerprint = state.spec_fingerprint(
                    pair.source, pair.warehouse, pair.key, pair.columns, FIRST_DEPTH
                )
                known = state.load(pair.warehouse.con, spec.name, table.name, fingerprint)
            comparison = compare(pair.source, pair.warehouse, pair.key, pair.columns, known=known)
            notes = []
            if pair.source_only_columns:
                notes.append(
                    f"source columns not in the warehouse (not compared): {pair.source_only_columns}"
                )
    except NotComparable as e:
        return TableReport(spec.name, table.name, "skipped", str(e))
    except HeadwaterError as e:
        return TableReport(spec.name, table.name, "error", f"{e}; nothing was compared or changed")
    except duckdb.Error as e:  # a query failed midway (a server gone): the driver's text, masked
        from headwater.urls import mask_secrets

        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        for url in (settings.source_url_for(spec, table.source), settings.warehouse_url):
            text = mask_secrets(text, url)
        return TableReport(spec.name, table.name, "error", f"{text}; nothing was compared or changed")
    if fingerprint is not None and comparison.state is not None:
        try:
            state.save(settings, spec.name, table.name, fingerprint, comparison.state)
        except (HeadwaterError, duckdb.Error) as e:  # the result stands; the next run is slower
            log.warning("%s.%s: reconcile's fingerprints not stored (%s)", spec.name, table.name, e)
    status = "equal" if comparison.equal else "different"
    if comparison.source_rows == 0 and comparison.warehouse_rows > 0:
        status = "empty_source"
        notes.append(
            "the source table answered with no rows: if that is wrong, check the source; "
            "the warehouse was left as it is"
        )
    return TableReport(spec.name, table.name, status, "; ".join(notes), comparison)


def reconcile_pipeline(
    spec: PipelineSpec, settings: Settings, tables: list[str] | None = None, run_id: str | None = None
) -> list[TableReport]:
    """Reconcile every table (or those named) and record the results in the run ledger."""
    names = tables or [t.name for t in spec.tables]
    reports = [reconcile_table(spec, name, settings) for name in names]
    record(settings, reports, RECONCILE, run_id or f"reconcile__{datetime.now(UTC):%Y%m%dT%H%M%S}")
    return reports


def record(settings: Settings, reports: list[TableReport], kind: str, run_id: str, con: Any = None) -> None:
    """Write ``reports`` to ``headwater.reconciliations`` (in ``con``'s transaction if given)."""
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS, META

    rows = [_ledger_row(r, kind, run_id) for r in reports if r.status != "skipped"]
    if not rows:
        return
    # one row per table, as literals (duck.value: no parameter binding, no pandas import)
    sql = (
        f"INSERT INTO {ALIAS}.{META}.reconciliations (pipeline, table_name, run_id, kind, checked_at, "
        "source_rows, warehouse_rows, rows_missing, rows_extra, rows_different, rows_marked_deleted, "
        "rows_unmarked, buckets_compared, duration_seconds, status, message, examples) VALUES "
        + ", ".join("(" + ", ".join(duck.value(v) for v in row) + ")" for row in rows)
    )
    if con is not None:
        con.execute(sql)
        return
    warehouse = open_warehouse(settings.warehouse_url)
    with warehouse.session() as session:
        warehouse.ensure_metadata(session)
        session.execute("BEGIN")
        session.execute(sql)
        session.execute("COMMIT")


def _ledger_row(r: TableReport, kind: str, run_id: str) -> list[Any]:
    c = r.comparison
    # Keys and column names only: row contents stay out of the ledger (it feeds alerts).
    examples = {
        "missing": c.examples.get("missing", []),
        "extra": c.examples.get("extra", []),
        "different": [{"key": e["key"], "columns": e["columns"]} for e in c.examples.get("different", [])],
    }
    return [
        r.pipeline,
        r.table,
        run_id,
        kind,
        datetime.now(UTC).replace(tzinfo=None),
        c.source_rows,
        c.warehouse_rows,
        c.missing,
        c.extra,
        c.different,
        r.marked,
        r.unmarked,
        c.buckets_compared,
        c.seconds,
        r.status,
        r.message[:2000],
        json.dumps(examples),
    ]


__all__ = ["TableReport", "reconcile_pipeline", "reconcile_table", "record"]

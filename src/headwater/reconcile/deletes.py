"""Carry the source's deletes without CDC: compare key sets, mark what vanished.

For each table with ``deletes: detect`` that is due (``every_runs``), the source's key set is
compared with the raw table's live keys (the bucket comparison of :mod:`compare`, on the key
columns only). Keys only the warehouse has get ``_deleted_at`` (the moment of the check);
keys the source has again lose it. Marking, un-marking and the ledger row are one warehouse
transaction. Nothing is marked when the source cannot be read (the error propagates before
any write) or when it answers with no rows at all and the raw table has some, unless the
spec says ``allow_empty``: an empty answer is far more often a broken source than a table
whose every row was deleted.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from datetime import UTC, datetime

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.reconcile import DELETES, TableReport, record
from headwater.reconcile.compare import compare
from headwater.reconcile.sides import with_identities
from headwater.reconcile.tables import DELETED_AT, SourceConnections, pair_on
from headwater.settings import Settings
from headwater.spec import PipelineSpec, TableSpec
from headwater.warehouse import open_warehouse
from headwater.warehouse.base import ALIAS, META, Warehouse

log = logging.getLogger(__name__)


def tables_with_deletes(spec: PipelineSpec, tables: list[str] | None = None) -> list[TableSpec]:
    return [t for t in spec.tables if t.deletes is not None and (tables is None or t.name in tables)]


def due(spec: PipelineSpec, tables: list[TableSpec], settings: Settings) -> list[TableSpec]:
    """The tables whose check is due: never checked, or ``every_runs`` runs ended since."""
    warehouse = open_warehouse(settings.warehouse_url)
    chosen = []
    with warehouse.session(read_only=True) as con:
        warehouse.ensure_metadata(con)
        for t in tables:
            assert t.deletes is not None
            if t.deletes.every_runs <= 1:
                chosen.append(t)
                continue
            last = duck.run(
                con,
                f"SELECT max(checked_at) FROM {ALIAS}.{META}.reconciliations "
                "WHERE pipeline = ? AND table_name = ? AND kind = ?",
                [spec.name, t.name, DELETES],
            ).fetchone()
            if not last or last[0] is None:
                chosen.append(t)
                continue
            runs = duck.scalar(
                con,
                f"SELECT count(*) FROM {ALIAS}.{META}.runs WHERE pipeline = ? AND ended_at > ?",
                [spec.name, last[0]],
            )
            if int(runs) >= t.deletes.every_runs:
                chosen.append(t)
    return chosen


def replaced_this_run(spec: PipelineSpec, settings: Settings, run_id: str) -> set[str]:
    """The tables this run loaded whole (``full`` mode: a first load, a full-mode table).

    A full load makes the raw table the source's rows as of the extract, so keys gone at the
    source are gone from raw too: comparing key sets right after it can find nothing new."""
    warehouse = open_warehouse(settings.warehouse_url)
    with warehouse.session(read_only=True) as con:
        warehouse.ensure_metadata(con)
        rows = duck.run(
            con,
            f"SELECT DISTINCT table_name FROM {ALIAS}.{META}.load_ledger "
            "WHERE pipeline = ? AND run_id = ? AND mode = 'full'",
            [spec.name, run_id],
        ).fetchall()
    return {str(r[0]) for r in rows}


def detect_deletes(
    spec: PipelineSpec, tables: list[TableSpec], settings: Settings, run_id: str
) -> list[TableReport]:
    """Check each table's key set and mark/un-mark in the raw table; one report per table.

    One warehouse session and one connection per source serve every table (opening them costs
    more than checking a small table); each table's marks and ledger row are one transaction."""
    warehouse = open_warehouse(settings.warehouse_url)
    with ExitStack() as stack:
        con = stack.enter_context(warehouse.session())
        warehouse.ensure_metadata(con)
        sources = SourceConnections(spec, settings)
        stack.callback(sources.close)
        return [_detect_one(spec, t, settings, run_id, warehouse, con, sources) for t in tables]


def _detect_one(
    spec: PipelineSpec,
    table: TableSpec,
    settings: Settings,
    run_id: str,
    warehouse: Warehouse,
    con: duckdb.DuckDBPyConnection,
    sources: SourceConnections,
) -> TableReport:
    assert table.deletes is not None
    pair = pair_on(spec, table, warehouse, con, sources)
    key = pair.key
    result = compare(pair.source, pair.warehouse, key, key, with_examples=False)
    report = TableReport(spec.name, table.name, "equal" if result.equal else "different", comparison=result)
    if result.source_rows == 0 and result.warehouse_rows > 0 and not table.deletes.allow_empty:
        report.status = "empty_source"
        report.message = (
            f"{spec.name}.{table.name}: the source answered with no rows while the warehouse holds "
            f"{result.warehouse_rows}; nothing was marked deleted. If the table really is empty now, "
            "set deletes: {detect: true, allow_empty: true} for it"
        )
        record(settings, [report], DELETES, run_id, con=con)
        raise SourceError(report.message)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN")
    try:
        _ensure_deleted_at(warehouse, con, spec.raw_schema, table.name)
        schema, name = spec.raw_schema, table.name
        report.marked = _set_deleted(warehouse, con, schema, name, key, result.extra_hashes, now)
        report.unmarked = _set_deleted(warehouse, con, schema, name, key, result.missing_hashes, None)
        record(settings, [report], DELETES, run_id, con=con)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    if report.marked or report.unmarked:
        log.info(
            "%s.%s: %d keys marked deleted, %d deletes undone (keys back at the source)",
            spec.name,
            table.name,
            report.marked,
            report.unmarked,
        )
    return report


def _ensure_deleted_at(warehouse, con, schema: str, table: str) -> None:
    if DELETED_AT in warehouse.column_types_of(con, schema, table):
        return
    target = _native_table(warehouse, schema, table)
    warehouse.native(con, f"ALTER TABLE {target} ADD COLUMN {duck.quote(DELETED_AT)} TIMESTAMP")
    warehouse._refresh_catalog(con)


def _native_table(warehouse, schema: str, table: str) -> str:
    # DuckDB runs native SQL on the attached file (default database wh); Postgres on its own.
    return (
        duck.qualified(schema, table)
        if warehouse.kind == "postgres"
        else duck.qualified(ALIAS, schema, table)
    )


def _set_deleted(
    warehouse,
    con,
    schema: str,
    table: str,
    key: list[tuple[str, str]],
    hashes: list[str],
    when: datetime | None,
) -> int:
    """Stamp (or, with ``when`` None, clear) ``_deleted_at`` on the rows whose key hash is listed."""
    if not hashes:
        return 0
    dialect = "postgres" if warehouse.kind == "postgres" else "duckdb"
    target = _native_table(warehouse, schema, table)
    column = duck.quote(DELETED_AT)
    if when is None:
        assignment, condition = "NULL", f"{column} IS NOT NULL"
    else:
        stamp = when.isoformat(sep=" ")
        assignment, condition = f"CAST('{stamp}' AS TIMESTAMP)", f"{column} IS NULL"
    statement = (
        f"UPDATE {target} AS r SET {column} = {assignment} "
        f"WHERE {condition} AND {with_identities(dialect, key, hashes)}"
    )
    if warehouse.kind == "postgres":
        from psycopg import sql

        return warehouse._counted(con, schema, f"_hw_deleted_{table}", sql.SQL(statement + " RETURNING 1"))
    row = con.execute(statement).fetchone()
    return int(row[0]) if row else 0

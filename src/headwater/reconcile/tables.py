"""Open both copies of a pipeline table as :class:`Side`s: the source and the raw table.

The columns compared are the source's columns that the raw table has, typed as the raw
table types them (that type is what both copies share). The raw table's rows marked deleted
(``_deleted_at``) count as absent: they are the source's deletes, already carried.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.reconcile.sides import Side
from headwater.reconcile.state import enable_fast
from headwater.settings import Settings
from headwater.sources import open_source
from headwater.sources.base import Source
from headwater.sources.sql import SqlSource
from headwater.spec import PipelineSpec, TableSpec
from headwater.warehouse import open_warehouse
from headwater.warehouse.base import ALIAS as WH_ALIAS
from headwater.warehouse.base import Warehouse

DELETED_AT = "_deleted_at"
SYSTEM = ("_loaded_at", "_run_id", DELETED_AT)


class NotComparable(Exception):
    """The table cannot be listed at its source (an API, incremental files) or is not loaded."""


@dataclass
class Pair:
    source: Side
    warehouse: Side
    key: list[tuple[str, str]]
    columns: list[tuple[str, str]]
    source_only_columns: list[str]
    has_deleted_at: bool


def listable(spec: PipelineSpec, table: TableSpec) -> str | None:
    """None when the source can list the table's whole content; else why not."""
    kind = spec.source_named(table.source).kind
    if kind == "http":
        return "an HTTP API source cannot be listed whole"
    if kind == "files" and table.effective_mode != "full":
        return "incremental files: files already read may be gone, so the files are not the table"
    return None


@contextmanager
def open_pair(spec: PipelineSpec, table: TableSpec, settings: Settings, fast: bool = False) -> Iterator[Pair]:
    """Both sides of ``table``, each on its own DuckDB connection (they run in parallel).

    With ``fast``, both sides get their fast fingerprints when the source's database has one
    (Postgres; SQLite and file sources have none): see :mod:`headwater.reconcile.state`."""
    why = listable(spec, table)
    if why:
        raise NotComparable(why)
    with ExitStack() as stack:
        warehouse = open_warehouse(settings.warehouse_url)
        wh_con = stack.enter_context(warehouse.session(read_only=True))
        sources = SourceConnections(spec, settings)
        stack.callback(sources.close)
        yield pair_on(spec, table, warehouse, wh_con, sources, fast)


class SourceConnections:
    """One DuckDB connection per source of a pipeline, attached on first use: the tables of a
    check that share a source share its connection (loading the database's extension and
    attaching it cost more than comparing a small table)."""

    def __init__(self, spec: PipelineSpec, settings: Settings) -> None:
        self.spec, self.settings = spec, settings
        self._open: dict[str, tuple[duckdb.DuckDBPyConnection, Source]] = {}

    def get(self, table: TableSpec) -> tuple[duckdb.DuckDBPyConnection, Source]:
        if table.source not in self._open:
            src_spec = self.spec.source_named(table.source)
            source = open_source(src_spec, self.settings.source_url_for(self.spec, table.source))
            con = duck.connect()
            try:
                source.attach(con)  # unreachable: a clear, masked SourceError/TransientError
            except BaseException:
                con.close()
                raise
            self._open[table.source] = (con, source)
        return self._open[table.source]

    def close(self) -> None:
        for con, _ in self._open.values():
            con.close()
        self._open.clear()


def pair_on(
    spec: PipelineSpec,
    table: TableSpec,
    warehouse: Warehouse,
    wh_con: duckdb.DuckDBPyConnection,
    sources: SourceConnections,
    fast: bool = False,
) -> Pair:
    """Both sides of ``table`` on open connections: the warehouse's session and its source's."""
    why = listable(spec, table)
    if why:
        raise NotComparable(why)
    types = warehouse.column_types_of(wh_con, spec.raw_schema, table.name)
    if not types:
        raise NotComparable(f"raw table {spec.raw_schema}.{table.name} does not exist yet (not loaded)")
    src_con, src = sources.get(table)
    source, readable = _source_side(spec, table, src, src_con)
    names = _source_columns(src_con, readable, spec, table)
    deleted = DELETED_AT in types
    compared = [(n, types[n]) for n in names if n in types and n not in SYSTEM]
    wh_side = Side(
        "warehouse",
        wh_con,
        "postgres" if warehouse.kind == "postgres" else "duckdb",
        (
            f"{duck.qualified(spec.raw_schema, table.name)} AS r"
            if warehouse.kind == "postgres"
            else f"{duck.qualified(WH_ALIAS, spec.raw_schema, table.name)} AS r"
        ),
        alias=WH_ALIAS if warehouse.kind == "postgres" else None,
        where=f"r.{duck.quote(DELETED_AT)} IS NULL" if deleted else "",
    )
    missing_key = [c for c in table.primary_key if c not in types]
    if missing_key:
        raise NotComparable(f"raw table lacks key column(s) {missing_key}")
    if fast and source.dialect == "postgres":
        enable_fast(source)
        if source.fast:
            enable_fast(wh_side)
    return Pair(
        source,
        wh_side,
        [(c, types[c]) for c in table.primary_key],
        compared,
        [n for n in names if n not in types],
        deleted,
    )


def _source_side(spec: PipelineSpec, table: TableSpec, source: Source, con) -> tuple[Side, str]:
    """The source's side, and DuckDB SQL of the whole table (its columns are read from it)."""
    source.check_table(con, table)  # a missing table: a clear SourceError
    if isinstance(source, SqlSource):
        whole = source.select(table, None)
        if source.kind == "postgres":
            native = f"{duck.qualified(source.schema or 'public', table.name)} AS r"
            return Side("source", con, "postgres", native, alias="src"), whole
        return Side("source", con, "duckdb", f"({whole}) AS r"), whole
    whole = source.relation(con, table, None, None)
    return Side("source", con, "duckdb", f"({whole}) AS r"), whole


def _source_columns(con, whole: str, spec: PipelineSpec, table: TableSpec) -> list[str]:
    """The source table's column names (DESCRIBE: catalog only, no rows read)."""
    import duckdb

    try:
        probe = f"SELECT * FROM ({whole}) AS r LIMIT 0"
        return [r[0] for r in con.execute(f"DESCRIBE {probe}").fetchall()]
    except duckdb.Error as e:  # the driver's text may echo a DSN: name the error type only
        raise SourceError(
            f"source table {table.name!r} of pipeline {spec.name!r} cannot be described ({type(e).__name__})"
        ) from None

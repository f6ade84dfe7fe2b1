"""The SQL sink: a SQLite file or a Postgres schema, written through its native driver.

Rows are built set-based in an in-memory DuckDB (``out_<table>``, ``upd_<table>``); this
module declares the tables with the portable DDL of :mod:`headwater.synthetic.schema`, bulk
inserts through :func:`headwater.duck.attach` (no Python row loop), and applies an advance's
staged inserts and updates in one native transaction: DuckDB's sqlite extension cannot bind
timestamps in an UPDATE, and a half-applied advance would leave the source inconsistent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from headwater import duck
from headwater.errors import SourceError
from headwater.synthetic.arguments import as_datetime
from headwater.synthetic.schema import Schema, Table

NEW_PREFIX = "_hw_new_"
UPD_PREFIX = "_hw_upd_"
DEL_PREFIX = "_hw_del_"


@dataclass(frozen=True)
class Target:
    kind: str  # "sqlite" or "postgres"
    url: str
    location: str  # file path (SQLite) or libpq DSN (Postgres)
    schema: str | None  # Postgres schema; None on SQLite
    pipeline: str = "synthetic"
    """Named in error messages."""

    @classmethod
    def from_url(cls, url: str, schema: str, pipeline: str = "synthetic") -> Self:
        kind, location = duck.parse_url(url)
        if kind == "sqlite":
            return cls("sqlite", url, location, None, pipeline)
        if kind == "postgres":
            duck.quote(schema)  # validates the name
            return cls("postgres", url, duck.postgres_dsn(url), schema, pipeline)
        raise ValueError(
            f"the {pipeline} source must be SQLite or Postgres, not {kind}: {duck.mask_url(url)}"
        )

    def table(self, name: str) -> str:
        """The table's name for native SQL."""
        if self.schema is None:
            return duck.quote(name)
        return duck.qualified(self.schema, name)

    def duck_table(self, alias: str, name: str) -> str:
        """The table's name inside DuckDB with the target attached as ``alias``."""
        if self.schema is None:
            return duck.qualified(alias, name)
        return duck.qualified(alias, self.schema, name)

    def prepare(self) -> None:
        if self.kind == "sqlite":
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        else:
            assert self.schema is not None
            self.run_in_transaction([f"CREATE SCHEMA IF NOT EXISTS {duck.quote(self.schema)}"])

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.kind == "sqlite":
            # Autocommit mode, so BEGIN/COMMIT below are the only transaction boundaries.
            con = sqlite3.connect(self.location, isolation_level=None)
            try:
                yield con
            finally:
                con.close()
        else:
            import psycopg

            with psycopg.connect(self.location, autocommit=True) as pg:
                yield pg

    def run_in_transaction(self, statements: Sequence[str]) -> None:
        with self._connection() as con:
            con.execute("BEGIN")
            try:
                for statement in statements:
                    con.execute(statement)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(self, sql: str) -> tuple[Any, ...]:
        with self._connection() as con:
            return tuple(con.execute(sql).fetchone())

    # --- whole-source operations -----------------------------------------------------------

    def recreate(self, source: Schema) -> None:
        """Drop (children first) and create every declared table, in one transaction."""
        self.prepare()
        self.run_in_transaction(
            [f"DROP TABLE IF EXISTS {self.table(t.name)}" for t in reversed(source.tables)]
            + [t.create_sql(self.table(t.name)) for t in source]
        )

    def bulk_write(self, con: Any, writes: Sequence[tuple[Table, str, str]]) -> None:
        """Insert DuckDB relations into target tables in one transaction, in key order.

        ``writes`` holds (declared table, target table name, DuckDB relation); the relation
        needs the declared columns (extra ones are ignored).
        """
        # The caller may have attached the target already (to read the existing rows).
        attached = bool(
            duck.scalar(con, "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'src'")
        )
        if not attached:
            duck.attach(con, self.url, "src")
        try:
            con.execute("BEGIN")
            for table, dest, relation in writes:
                names = ", ".join(duck.quote(c) for c in table.column_names)
                order = ", ".join(duck.quote(c) for c in table.key)
                con.execute(
                    f"INSERT INTO {self.duck_table('src', dest)} ({names}) "
                    f"SELECT {names} FROM {relation} ORDER BY {order}"
                )
            con.execute("COMMIT")
        finally:
            if not attached:
                con.execute("DETACH src")

    def create_indexes(self, source: Schema) -> None:
        """Cursor and declared indexes, after the bulk insert: building them once is faster
        than maintaining them; statistics too on Postgres."""
        statements = [
            f"CREATE INDEX {duck.quote('ix_' + t.name + '_' + '_'.join(cols))} "
            f"ON {self.table(t.name)} ({', '.join(duck.quote(c) for c in cols)})"
            for t in source
            for cols in t.all_indexes()
        ]
        if self.kind == "postgres":
            statements += [f"ANALYZE {self.table(t.name)}" for t in source]
        self.run_in_transaction(statements)

    def newest_and(self, source: Schema, extra: Sequence[str]) -> tuple[tuple[Any, ...], datetime | None]:
        """One query: the ``extra`` scalar subqueries' values, and the newest cursor value of
        all tables (the indexes serve the maxima, no full scan); says to run generate() first
        when the tables are not there."""
        parts = [*extra, *(f"(SELECT max({duck.quote(t.cursor)}) FROM {self.table(t.name)})"
                           for t in source if t.cursor)]  # fmt: skip
        try:
            row = self.query("SELECT " + ", ".join(parts))
        except Exception as exc:  # missing table or schema: say what to do
            raise SourceError(
                f"cannot read the {self.pipeline} tables at {duck.mask_url(self.url)} "
                f"({type(exc).__name__}: {exc}); run generate() first"
            ) from exc
        cursors = [v for v in row[len(extra) :] if v is not None]
        return row[: len(extra)], max(as_datetime(v) for v in cursors) if cursors else None

    def empty_error(self, table: str) -> SourceError:
        return SourceError(f"the {table} table at {duck.mask_url(self.url)} is empty; run generate() first")

    @contextmanager
    def staged_changes(self, source: Schema, updates: Schema, deletes: Sequence[str] = ()) -> Iterator[Any]:
        """Stage an advance's rows next to the real tables, then apply them in one transaction.

        Inside the block, rows are written with ``bulk_write`` through the returned
        :class:`Staging`; on a clean exit every staged insert and update is applied and the
        staging tables dropped, atomically. On an error the staging tables are dropped (best
        effort) and the source is left as it was.
        """
        staging = Staging(self, source, updates, tuple(deletes))
        names = staging.names
        self.run_in_transaction(
            [f"DROP TABLE IF EXISTS {self.table(s)}" for s in names]
            + [t.create_sql(self.table(NEW_PREFIX + t.name)) for t in source]
            + [t.create_sql(self.table(UPD_PREFIX + t.name)) for t in updates]
            + [source[d].subset([]).create_sql(self.table(DEL_PREFIX + d)) for d in deletes]
        )
        try:
            yield staging
            # Deletes children first (the source lists parents first), after the updates.
            self.run_in_transaction(
                [_insert_select_sql(self, t) for t in source]
                + [_update_from_sql(self, t) for t in updates]
                + [_delete_sql(self, source[d]) for d in reversed(source.names) if d in deletes]
                + [f"DROP TABLE {self.table(s)}" for s in names]
            )
        except BaseException:
            # Best effort: the original error matters more than a failed clean-up.
            with suppress(Exception):
                self.run_in_transaction([f"DROP TABLE IF EXISTS {self.table(s)}" for s in names])
            raise


@dataclass(frozen=True)
class Staging:
    target: Target
    source: Schema
    updates: Schema
    deletes: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return (
            [NEW_PREFIX + t.name for t in self.source]
            + [UPD_PREFIX + t.name for t in self.updates]
            + [DEL_PREFIX + d for d in self.deletes]
        )

    def write(self, con: Any, new: Sequence[str], updated: Sequence[str]) -> None:
        """Copy ``out_<table>`` (new rows), ``upd_<table>`` (changed columns) and ``del_<table>``
        (keys to delete) into staging."""
        self.target.bulk_write(
            con,
            [(self.source[t], NEW_PREFIX + t, f"out_{t}") for t in new]
            + [(self.updates[t], UPD_PREFIX + t, f"upd_{t}") for t in updated]
            + [(self.source[d].subset([]), DEL_PREFIX + d, f"del_{d}") for d in self.deletes],
        )


def _insert_select_sql(target: Target, table: Table) -> str:
    names = ", ".join(duck.quote(c) for c in table.column_names)
    staging = target.table(NEW_PREFIX + table.name)
    return f"INSERT INTO {target.table(table.name)} ({names}) SELECT {names} FROM {staging}"


def _update_from_sql(target: Target, table: Table) -> str:
    # UPDATE ... FROM: Postgres, and SQLite since 3.33.
    sets = ", ".join(f"{duck.quote(c)} = s.{duck.quote(c)}" for c in table.column_names if c not in table.key)
    on = " AND ".join(f"t.{duck.quote(c)} = s.{duck.quote(c)}" for c in table.key)
    staging = target.table(UPD_PREFIX + table.name)
    return f"UPDATE {target.table(table.name)} AS t SET {sets} FROM {staging} AS s WHERE {on}"


def _delete_sql(target: Target, table: Table) -> str:
    keys = ", ".join(duck.quote(c) for c in table.key)
    staging = target.table(DEL_PREFIX + table.name)
    return f"DELETE FROM {target.table(table.name)} WHERE ({keys}) IN (SELECT {keys} FROM {staging})"


def count(con: Any, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {duck.quote(table)}").fetchone()
    return int(row[0]) if row else 0

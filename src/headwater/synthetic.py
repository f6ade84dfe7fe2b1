"""Shared machinery of the synthetic source generators: the target database and SQL helpers.

Each pipeline's generator builds its rows set-based in an in-memory DuckDB; this module
writes them to the target (a SQLite file or a Postgres schema) through the native driver, and
holds the small helpers every generator needs (seed and as_of checks, literal rendering).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from headwater import duck


@dataclass(frozen=True)
class Target:
    kind: str  # "sqlite" or "postgres"
    url: str
    location: str  # file path (SQLite) or libpq DSN (Postgres)
    schema: str | None  # Postgres schema; None on SQLite

    pipeline: ClassVar[str] = "synthetic"
    """Named in error messages; each generator's subclass sets it."""

    @classmethod
    def from_url(cls, url: str, schema: str) -> Self:
        kind, location = duck.parse_url(url)
        if kind == "sqlite":
            return cls("sqlite", url, location, None)
        if kind == "postgres":
            duck.quote(schema)  # validates the name
            return cls("postgres", url, duck.postgres_dsn(url), schema)
        raise ValueError(
            f"the {cls.pipeline} source must be SQLite or Postgres, not {kind}: {duck.mask_url(url)}"
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


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise ValueError(f"seed must be an integer that fits in 64 bits, got {seed!r}")
    return seed


def normalise_as_of(as_of: datetime | None) -> datetime:
    """Naive UTC, whole seconds; aware datetimes are converted, naive ones taken as UTC."""
    if as_of is None:
        as_of = datetime.now(UTC)
    if not isinstance(as_of, datetime):
        raise ValueError(f"as_of must be a datetime, got {as_of!r}")
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    return as_of.replace(microsecond=0)


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else normalise_as_of(value)
    return datetime.fromisoformat(str(value))  # SQLite stores 'YYYY-MM-DD HH:MM:SS' text


def ts(moment: datetime) -> str:
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'"


def lit(value: Any) -> str:
    if isinstance(value, str):
        if "'" in value:
            raise ValueError(f"constant {value!r} may not contain a quote")
        return f"'{value}'"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"unsupported constant {value!r}")
    return repr(float(value)) if isinstance(value, float) else str(value)


def sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def create_table_sql(name: str, columns: Sequence[tuple[str, str, bool]], key: Sequence[str]) -> str:
    # NOT NULL on key columns too: SQLite, unlike Postgres, lets NULL into a primary key.
    cols = [f"{duck.quote(c)} {t}{'' if nullable else ' NOT NULL'}" for c, t, nullable in columns]
    cols.append(f"PRIMARY KEY ({', '.join(duck.quote(c) for c in key)})")
    return f"CREATE TABLE {name} ({', '.join(cols)})"


def update_from_sql(
    target: Target, table: str, staging: str, spec: tuple[tuple[tuple[str, str, bool], ...], tuple[str, ...]]
) -> str:
    # UPDATE ... FROM: Postgres, and SQLite since 3.33.
    columns, key = spec
    sets = ", ".join(f"{duck.quote(c)} = s.{duck.quote(c)}" for c, _, _ in columns if c not in key)
    on = " AND ".join(f"t.{duck.quote(c)} = s.{duck.quote(c)}" for c in key)
    return f"UPDATE {target.table(table)} AS t SET {sets} FROM {target.table(staging)} AS s WHERE {on}"


def count(con: Any, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {duck.quote(table)}").fetchone()
    return int(row[0]) if row else 0

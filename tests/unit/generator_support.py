"""What the generator tests share: reading a generated SQLite/Postgres source independently
(sqlite3 / psycopg, never the generator's own helpers), and each pipeline's test case.

A pipeline's test module defines a :class:`Case` (its invariant rules as SQL, the corruptions
that must trip them, its scales); ``test_generators.py`` runs the shared checks over every case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import ModuleType

from headwater.synthetic import Schema

AS_OF = dt.datetime(2025, 6, 1, 12, 0, 0)


@dataclass(frozen=True)
class Case:
    module: ModuleType
    scale: float
    """Of the shared read-only source."""
    small_scale: float
    """Of the sources the determinism tests write several times."""
    zero_checks: Callable[[dt.datetime, dt.datetime], Mapping[str, Sequence[str]]]
    """(as_of, generated as_of) -> rule name -> SQL counting the rows that break it."""
    corruptions: Sequence[tuple[str, str]]
    """(SQL that breaks the data, the rule that must then fail)."""
    advance_by: dt.timedelta
    seed_independent: frozenset[str] = field(default=frozenset())
    """Tables that are the same whatever the seed (reference data)."""
    max_scale: float | None = None
    extra_checks: Callable[[sqlite3.Connection], None] | None = None

    @property
    def name(self) -> str:
        return self.module.GENERATOR.pipeline

    @property
    def source(self) -> Schema:
        return self.module.SOURCE

    def check_invariants(self, path: Path, as_of: dt.datetime, generated_as_of: dt.datetime = AS_OF) -> None:
        """Every rule the data must obey; fails naming the broken rules and their counts."""
        with sqlite3.connect(path) as con:
            failures = {
                rule: n
                for rule, queries in self.zero_checks(as_of, generated_as_of).items()
                for n in [sum(scalar(con, q) for q in queries)]
                if n
            }
            assert not failures, f"broken rules: {failures}"
            if self.extra_checks:
                self.extra_checks(con)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def scalar(con, sql: str, params=()):
    return con.execute(sql, params).fetchone()[0]


def ts(value) -> str:
    """A timestamp as the 'YYYY-MM-DD HH:MM:SS' text SQLite stores (datetimes from Postgres)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else value


def normalise(value, declared: str):
    if value is None:  # a nullable column (e.g. a salesperson's quota)
        return None
    if isinstance(value, dt.datetime):
        return ts(value)
    if isinstance(value, dt.date):  # psycopg's date; SQLite holds 'YYYY-MM-DD'
        return value.isoformat()
    if declared == "boolean":  # psycopg's bool; SQLite holds 0/1
        return int(value)
    if declared.startswith("numeric") or declared == "double precision":
        # SQLite's NUMERIC affinity stores 75.00 as the integer 75 and 75.5 as a REAL
        return f"{Decimal(str(value)):.4f}"
    return value


def table_rows(con, source: Schema, table: str, schema: str | None = None) -> list[tuple]:
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    declared = source[table]
    order = ", ".join(declared.key)
    types = [c.type for c in declared.columns]
    rows = con.execute(f"SELECT * FROM {name} ORDER BY {order}").fetchall()
    return [tuple(normalise(v, d) for v, d in zip(row, types, strict=True)) for row in rows]


def checksums(path: Path, source: Schema) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return {
            t: hashlib.sha256(repr(table_rows(con, source, t)).encode()).hexdigest() for t in source.names
        }


def user_tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def newest(con, source: Schema) -> str:
    return max(scalar(con, f"SELECT max({t.cursor}) FROM {t.name}") for t in source)


def copy_of(source: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(source, target)
    return target


_SHARED: dict[str, tuple[Path, dict[str, int]]] = {}


def generate_shared(case: Case, tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The case's read-only source (seed 7, at AS_OF), in a nested folder the generator creates;
    written once per test session (tests that change it work on a copy)."""
    if case.name not in _SHARED:
        path = tmp_path_factory.mktemp(case.name) / "nested" / "dir" / f"{case.name}.sqlite"
        counts = case.module.generate(sqlite_url(path), scale=case.scale, seed=7, as_of=AS_OF)
        _SHARED[case.name] = (path, counts)
    return _SHARED[case.name]

"""One declaration of a synthetic source's tables: columns, types, keys, cursors, indexes.

A generator states its tables once, in a DDL-like text block; the DDL of the target, the column
lists of every bulk insert, the staging tables of ``advance`` and the contract test against the
pipeline's ``pipeline.yaml`` all read this one declaration::

    SOURCE = declare('''
        booking key(booking_id) cursor(updated_at)
            booking_id bigint, created_at timestamp, updated_at timestamp,
            partner_id_offer varchar(16) null
    ''')

A table starts with a header line ``name key(col, ...) [cursor(col)] [index(col, ...)]...``;
its columns follow as ``name type [null]``, separated by commas (NOT NULL is the default: a
nullable column says so). Types are the portable declared types SQLite and Postgres both take.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from headwater import duck

_HEADER = re.compile(r"^(\w+)\s+key\(([^)]*)\)((?:\s+\w+\([^)]*\))*)\s*$")
_CLAUSE = re.compile(r"(\w+)\(([^)]*)\)")
_COLUMN = re.compile(r"^(\w+)\s+(.+?)(\s+null)?$", re.IGNORECASE)
_COLUMN_SPLIT = re.compile(r",(?![^(]*\))")  # commas outside numeric(12,2)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False


FILE_PROVENANCE = ("_source_file", "_source_line")
"""Columns a file source adds to every row, usable as key or cursor without being declared."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    cursor: str | None = None
    indexes: tuple[tuple[str, ...], ...] = ()
    """Indexes beyond the primary key; the cursor's index is implied."""

    def __post_init__(self) -> None:
        names = self.column_names
        for name in (self.name, *names):
            duck.quote(name)  # refuses anything that is not a plain identifier
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: a column is declared twice")
        wanted = [*self.key, *([self.cursor] if self.cursor else []), *(c for i in self.indexes for c in i)]
        # A file source adds where each row came from; a delivery's file name can order rows.
        missing = [c for c in wanted if c not in names and c not in FILE_PROVENANCE]
        if missing or not self.key:
            raise ValueError(f"table {self.name}: key/cursor/index names undeclared columns {missing}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")

    def create_sql(self, qualified_name: str) -> str:
        # NOT NULL on key columns too: SQLite, unlike Postgres, lets NULL into a primary key.
        cols = [f"{duck.quote(c.name)} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in self.columns]
        cols.append(f"PRIMARY KEY ({', '.join(duck.quote(c) for c in self.key)})")
        return f"CREATE TABLE {qualified_name} ({', '.join(cols)})"

    def all_indexes(self) -> tuple[tuple[str, ...], ...]:
        cursor = ((self.cursor,),) if self.cursor else ()
        return cursor + tuple(i for i in self.indexes if i != (self.cursor,))

    def subset(self, columns: Sequence[str]) -> Table:
        """The key plus ``columns``: the shape of a staging table for updates of those columns."""
        keep = (*self.key, *(c for c in columns if c not in self.key))
        return Table(self.name, tuple(self.column(c) for c in keep), self.key)


@dataclass(frozen=True)
class Schema:
    """A source's tables in dependency order (parents first)."""

    tables: tuple[Table, ...]

    def __iter__(self) -> Iterator[Table]:
        return iter(self.tables)

    def __getitem__(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"no table {name}")

    def __contains__(self, name: object) -> bool:
        return any(t.name == name for t in self.tables)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tables)


def declare(text: str) -> Schema:
    """Parse the DDL-like declaration described in the module docstring."""
    tables: list[Table] = []
    header: re.Match[str] | None = None
    body: list[str] = []

    def close() -> None:
        if header is None:
            return
        clauses = {k: _names(v) for k, v in _CLAUSE.findall(header.group(3))}
        unknown = set(clauses) - {"cursor", "index"}
        if unknown:
            raise ValueError(f"table {header.group(1)}: unknown clause {sorted(unknown)}")
        indexes = tuple(_names(v) for k, v in _CLAUSE.findall(header.group(3)) if k == "index")
        columns = tuple(_column(part) for part in _COLUMN_SPLIT.split(" ".join(body)) if part.strip())
        cursor = clauses.get("cursor", ())
        tables.append(Table(header.group(1), columns, _names(header.group(2)), cursor[0] if cursor else None,
                            indexes))  # fmt: skip

    for raw in text.strip().splitlines():
        line = raw.strip()
        match = _HEADER.match(line)
        if match:
            close()
            header, body = match, []
        elif line:
            if header is None:
                raise ValueError(f"columns before the first table header: {line!r}")
            body.append(line)
    close()
    if len({t.name for t in tables}) != len(tables):
        raise ValueError("a table is declared twice")
    return Schema(tuple(tables))


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _column(text: str) -> Column:
    match = _COLUMN.match(text.strip())
    if not match:
        raise ValueError(f"cannot read the column declaration {text.strip()!r}")
    return Column(match.group(1), " ".join(match.group(2).lower().split()), bool(match.group(3)))

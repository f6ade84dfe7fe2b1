"""One text form per value, the same in DuckDB and Postgres, so row hashes agree across engines.

A row is compared by the MD5 of its values' canonical text. Each database computes it itself
(DuckDB for SQLite, files and a DuckDB warehouse; Postgres for a Postgres source or
warehouse), so both must spell every value identically: ``12.50`` not ``12.5``, one
timestamp layout, UTC for time zones, 15 significant digits for floats, ``true``/``false``.
Values are first cast to the warehouse column's type (the type both copies share: the raw
table was created from what DuckDB read from the source), then formatted by type class.
"""

from __future__ import annotations

import re

from headwater import duck

NULL_MARK = "chr(30)"
"""Stands for NULL in a row's text (a control character no canonical value contains)."""
SEPARATOR = "chr(31)"
"""Between two values of a row's text."""

_INT = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
        "UBIGINT", "UHUGEINT", "INT", "INT2", "INT4", "INT8"}  # fmt: skip
_FLOAT = {"FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8", "DOUBLE PRECISION"}
_TIMESTAMP = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME"}
_TIMESTAMPTZ = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}

_PG_TYPE = {
    "TINYINT": "smallint", "SMALLINT": "smallint", "INTEGER": "integer", "BIGINT": "bigint",
    "HUGEINT": "numeric(38,0)", "UTINYINT": "smallint", "USMALLINT": "integer",
    "UINTEGER": "bigint", "UBIGINT": "numeric(20,0)", "UHUGEINT": "numeric(39,0)",
    "FLOAT": "real", "REAL": "real", "DOUBLE": "double precision",
    "BOOLEAN": "boolean", "DATE": "date", "TIME": "time", "UUID": "uuid", "BLOB": "bytea",
}  # fmt: skip


def type_class(duck_type: str) -> str:
    """int, decimal, float, bool, date, timestamp, timestamptz, time, uuid, blob or text."""
    t = " ".join(duck_type.upper().split())
    if t in _INT:
        return "int"
    if t.startswith(("DECIMAL", "NUMERIC")):
        return "decimal"
    if t in _FLOAT:
        return "float"
    if t in ("BOOLEAN", "BOOL"):
        return "bool"
    if t == "DATE":
        return "date"
    if t in _TIMESTAMP:
        return "timestamp"
    if t in _TIMESTAMPTZ:
        return "timestamptz"
    if t in ("TIME", "TIME WITH TIME ZONE"):
        return "time"
    if t == "UUID":
        return "uuid"
    if t in ("BLOB", "BYTEA"):
        return "blob"
    return "text"


def _safe_decimal(duck_type: str) -> str:
    m = re.fullmatch(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", duck_type.strip().upper())
    return f"DECIMAL({m.group(1)},{m.group(2)})" if m else "DECIMAL(38,10)"


# Per dialect and type class: the canonical text of {x}, the value cast to the shared type.
_TEMPLATES = {
    "duckdb": {
        "int": "CAST({x} AS VARCHAR)",
        "decimal": "CAST({x} AS VARCHAR)",
        "float": "CASE WHEN isnan({f}) THEN 'NaN' WHEN isinf({f}) AND {f} > 0 THEN 'Infinity' "
        "WHEN isinf({f}) THEN '-Infinity' WHEN {f} = 0 THEN '0' ELSE printf('%.14e', {f}) END",
        "bool": "CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END",
        "date": "strftime({x}, '%Y-%m-%d')",
        "timestamp": "strftime({x}, '%Y-%m-%d %H:%M:%S.%f')",
        "timestamptz": "strftime(timezone('UTC', {x}), '%Y-%m-%d %H:%M:%S.%f')",
        "time": "strftime(DATE '2000-01-01' + {x}, '%H:%M:%S.%f')",
        "uuid": "lower(CAST({x} AS VARCHAR))",
        "blob": "lower(hex({x}))",
        "text": "CAST({c} AS VARCHAR)",
    },
    "postgres": {
        "int": "CAST({x} AS text)",
        "decimal": "CAST({x} AS text)",
        "float": "CASE WHEN {f} = 'NaN'::float8 THEN 'NaN' WHEN {f} = 'Infinity'::float8 THEN 'Infinity' "
        "WHEN {f} = '-Infinity'::float8 THEN '-Infinity' WHEN {f} = 0 THEN '0' "
        "ELSE trim(to_char({f}, '9.99999999999999EEEE')) END",
        "bool": "CASE WHEN {x} THEN 'true' WHEN NOT {x} THEN 'false' END",
        "date": "to_char({x}, 'YYYY-MM-DD')",
        "timestamp": "to_char({x}, 'YYYY-MM-DD HH24:MI:SS.US')",
        "timestamptz": "to_char({x} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
        "time": "to_char({x}, 'HH24:MI:SS.US')",
        "uuid": "lower(CAST({x} AS text))",
        "blob": "encode({x}, 'hex')",
        "text": "CAST({c} AS text)",
    },
}
_SHARED_TYPE = {
    "duckdb": {"bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ",
               "time": "TIME", "uuid": "UUID", "blob": "BLOB", "text": "VARCHAR"},
    "postgres": {"bool": "boolean", "date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz",
                 "time": "time", "uuid": "uuid", "blob": "bytea", "text": "text"},
}  # fmt: skip


def _shared_type(dialect: str, kind: str, duck_type: str) -> str:
    """The type both copies are cast to before formatting (the raw column's, in the dialect)."""
    upper = " ".join(duck_type.upper().split())
    if kind == "int":
        return (
            (upper if upper in _INT else "HUGEINT") if dialect == "duckdb" else _PG_TYPE.get(upper, "numeric")
        )
    if kind == "decimal":
        decimal = _safe_decimal(duck_type)
        return decimal if dialect == "duckdb" else decimal.replace("DECIMAL", "numeric")
    if kind == "float":
        single = upper in ("FLOAT", "REAL", "FLOAT4")
        return (
            ("FLOAT" if single else "DOUBLE")
            if dialect == "duckdb"
            else ("real" if single else "double precision")
        )
    return _SHARED_TYPE[dialect][kind]


def value_text(dialect: str, column: str, duck_type: str) -> str:
    """SQL (in ``dialect``: duckdb or postgres) for the canonical text of ``column``, or NULL."""
    c = duck.quote(column)
    kind = type_class(duck_type)
    x = f"CAST({c} AS {_shared_type(dialect, kind, duck_type)})"
    f = f"CAST({x} AS {'DOUBLE' if dialect == 'duckdb' else 'double precision'})"
    return _TEMPLATES[dialect][kind].format(c=c, x=x, f=f)


def row_text(dialect: str, columns: list[tuple[str, str]]) -> str:
    """The canonical text of a whole row (NULLs marked, values separated)."""
    parts = [f"coalesce({value_text(dialect, name, type_)}, {NULL_MARK})" for name, type_ in columns]
    return f" || {SEPARATOR} || ".join(parts) if parts else "''"


def hash_int(dialect: str, text_sql: str) -> str:
    """A 60-bit integer from the MD5 of ``text_sql``: summed per bucket, order-independent."""
    if dialect == "duckdb":
        return f"CAST('0x' || substr(md5({text_sql}), 1, 15) AS BIGINT)"
    return f"CAST(CAST('x' || substr(md5({text_sql}), 1, 15) AS bit(60)) AS bigint)"


def as_text(dialect: str, sql: str) -> str:
    return f"CAST({sql} AS {'VARCHAR' if dialect == 'duckdb' else 'text'})"

"""DuckDB as the data-movement engine: connections, offline extensions, attaching databases.

DuckDB moves every byte in Headwater (source -> Parquet -> warehouse) because it streams
columnar data without Python row loops. Extensions come from the ``duckdb-extension-*`` wheels
since DuckDB cannot download them here (see docs/STACK.md in the shared docs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb

from headwater.errors import ConfigError
from headwater.identifiers import valid_identifier
from headwater.urls import mask_url, parse_url  # noqa: F401  (re-exported)


def quote(name: str) -> str:
    """Quote an identifier for DuckDB and Postgres after checking it is a plain name.

    Names come from validated specs or from the source's own catalog; anything else (quotes,
    semicolons, spaces) is refused rather than escaped, so no name can change a statement.
    """
    if not valid_identifier(name):
        raise ConfigError(f"refusing identifier {name!r}: only letters, digits and _ are allowed")
    return '"' + name + '"'


def qualified(*parts: str) -> str:
    return ".".join(quote(p) for p in parts)


def extension_directory() -> str:
    from headwater.settings import Settings

    return str(Settings.from_env().duckdb_extensions)


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load an extension shipped as a wheel, installing it from site-packages first time."""
    try:
        con.execute(f"LOAD {name}")
        return
    except duckdb.Error:
        pass
    from duckdb_extensions import import_extension

    import_extension(name, con=con)
    con.execute(f"LOAD {name}")


def connect(path: str | None = None, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory (or file) DuckDB connection with our extension directory configured.

    Memory is capped (``HEADWATER_DUCKDB_MEMORY_LIMIT``, default 2GB) and spills to
    ``HEADWATER_DUCKDB_TEMP`` (default: the system temp folder), so a big load sorts and joins
    on disk instead of taking the machine's memory from the Airflow workers beside it.
    """
    from headwater.settings import Settings

    settings = Settings.from_env()
    config: dict[str, str | bool | int | float | list[str]] = {
        "extension_directory": str(settings.duckdb_extensions),
        "memory_limit": settings.duckdb_memory_limit,
        "temp_directory": str(settings.duckdb_temp),
    }
    con = duckdb.connect(":memory:" if path is None else path, read_only=read_only, config=config)
    # No progress bar: DuckDB prints it to stdout for queries over 2 s (e.g. one waiting on a
    # Postgres lock), which would end up in task logs and in the output of our commands.
    con.execute("SET enable_progress_bar = false")
    return con


def postgres_dsn(url: str) -> str:
    """Turn a postgresql:// URL into a libpq keyword DSN that DuckDB's postgres extension takes."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    url = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
    return make_conninfo("", **{k: str(v) for k, v in conninfo_to_dict(url).items() if v is not None})


def attach(con: duckdb.DuckDBPyConnection, url: str, alias: str, *, read_only: bool = False) -> str:
    """Attach ``url`` (sqlite:///file, duckdb:///file or postgresql://...) as ``alias``.

    Returns the kind of database attached: ``sqlite``, ``duckdb`` or ``postgres``.
    """
    kind, target = parse_url(url)
    options = []
    if kind == "sqlite":
        load_extension(con, "sqlite")
        options.append("TYPE sqlite")
    elif kind == "postgres":
        load_extension(con, "postgres")
        options.append("TYPE postgres")
        target = postgres_dsn(url)
    if read_only:
        options.append("READ_ONLY")
    opts = f" ({', '.join(options)})" if options else ""
    try:
        con.execute(f"ATTACH ? AS {quote(alias)}{opts}".replace("?", literal(target)))
    except duckdb.Error as e:
        # libpq's message can echo the keyword DSN, password included: mask it at the source,
        # keeping the exception's type so callers still tell a lock from a refused login.
        from headwater.urls import mask_secrets

        raise type(e)(mask_secrets(str(e), url)) from None
    return kind


def literal(value: str) -> str:
    """A SQL string literal, for the few statements that take no prepared parameters
    (ATTACH, COPY ... TO, CREATE SECRET, postgres_query/postgres_execute text).

    Single quotes doubled is the SQL-standard escape and the only one DuckDB and Postgres
    (standard_conforming_strings, the default) apply inside '...'.
    """
    return "'" + value.replace("'", "''") + "'"


def value(v: object) -> str:
    """A DuckDB SQL literal of a plain Python value (None, bool, int, float, str, datetime,
    date, or a list of them).

    For the short statements of hot paths: binding a prepared parameter makes DuckDB's
    Python client import pandas (0.4-0.7 s in a fresh process, more than a delete check's
    own queries), and a task or CLI process pays that once per run.
    """
    import math
    from datetime import date, datetime

    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else f"CAST({literal(repr(v))} AS DOUBLE)"
    if isinstance(v, datetime):
        kind = "TIMESTAMP" if v.tzinfo is None else "TIMESTAMPTZ"  # as binding it would type it
        return f"CAST({literal(v.isoformat(sep=' '))} AS {kind})"
    if isinstance(v, date):
        return f"CAST({literal(v.isoformat())} AS DATE)"
    if isinstance(v, str):
        return literal(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"no SQL literal for {type(v).__name__}")


def bind(sql: str, params: Sequence[object]) -> str:
    """``sql`` with each ``?`` placeholder replaced by ``value`` of its parameter.

    For the metadata statements every run makes (watermarks, ledger, transform gate): they
    would otherwise be the first bound statement of a fresh task or CLI process and pay
    pandas' import (see ``value``). A ``?`` inside a quoted literal or identifier is left
    alone; a count that does not match the parameters is an error, never a guess.
    """
    out: list[str] = []
    quote: str | None = None
    n = 0
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote  # a doubled quote closes and reopens
        elif ch in ("'", '"'):
            quote = ch
        elif ch == "?":
            if n == len(params):
                raise ValueError(f"more placeholders than the {len(params)} parameters: {sql[:200]}")
            out.append(value(params[n]))
            n += 1
            continue
        out.append(ch)
    if n != len(params):
        raise ValueError(f"{len(params)} parameters for {n} placeholders: {sql[:200]}")
    return "".join(out)


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> duckdb.DuckDBPyConnection:
    """``con.execute`` with the parameters written in as literals (``bind``)."""
    return con.execute(bind(sql, params) if params else sql)


def tables_in(con: duckdb.DuckDBPyConnection, database: str, schema: str) -> set[str]:
    """Names of the tables in ``database.schema`` (an attached database's alias)."""
    rows = run(
        con,
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
        [database, schema],
    ).fetchall()
    return {r[0] for r in rows}


def string_list(values: list[str]) -> str:
    """A DuckDB list literal of strings, e.g. the files a table function reads."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """The first column of the first row of a query that always returns one row."""
    row = run(con, sql, params or ()).fetchone()
    if row is None:
        raise RuntimeError(f"query returned no row: {sql[:200]}")
    return row[0]


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    row = run(con, sql, params or ()).fetchone()
    if row is None:
        raise RuntimeError(f"query returned no row: {sql[:200]}")
    return row

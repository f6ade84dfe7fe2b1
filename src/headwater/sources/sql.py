"""SQL database sources (SQLite, PostgreSQL), read through DuckDB.

PostgreSQL gets the whole query, filter included, through ``postgres_query`` so the cursor
index on the source is used (DuckDB's own postgres scanner would read the whole table in
ctid ranges). SQLite is scanned by DuckDB's sqlite extension: the embedded default is small.
"""

from __future__ import annotations

import duckdb

from headwater import duck
from headwater.errors import SourceError, TransientError
from headwater.spec import TableSpec
from headwater.watermark import Bound

ALIAS = "src"
_TERMINAL_CONNECT_ERRORS = ("authentication failed", "does not exist", "no password supplied")


class SqlSource:
    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.kind, _ = duck.parse_url(url)
        self.schema = schema if self.kind == "postgres" else None

    def __repr__(self) -> str:
        return f"SqlSource({duck.mask_url(self.url)})"

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            duck.attach(con, self.url, ALIAS, read_only=True)
        except duckdb.Error as e:
            # Connection failures may be a server restarting: transient. Refused credentials
            # or a missing database will fail the same way on retry: terminal. The message
            # from libpq can echo the DSN, so only our masked URL is reported.
            reason = _first_line(e, self.url)
            terminal = any(m in reason for m in _TERMINAL_CONNECT_ERRORS)
            raise (SourceError if terminal else TransientError)(
                f"cannot open source {duck.mask_url(self.url)}: {reason}"
            ) from None

    def relation(
        self, con: duckdb.DuckDBPyConnection, table: TableSpec, since: Bound | None, until: Bound | None
    ) -> str:
        return self.select(table, since, until)

    def rejects(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str | None:
        """A database hands over typed rows: nothing is rejected at read time."""
        return None

    def select(self, table: TableSpec, since: Bound | None, until: Bound | None = None) -> str:
        """SQL (DuckDB dialect) selecting the table's rows with since <= cursor < until."""
        if self.kind == "postgres":
            return self._postgres_select(table, since, until)
        sql = f"SELECT * FROM {duck.qualified(ALIAS, table.name)}"
        conditions = []
        if since is not None and table.cursor:
            conditions.append(f"{duck.quote(table.cursor)} >= {since.duckdb_literal()}")
        if until is not None and table.cursor:
            conditions.append(f"{duck.quote(table.cursor)} < {until.duckdb_literal()}")
        return sql + (" WHERE " + " AND ".join(conditions) if conditions else "")

    def _postgres_select(self, table: TableSpec, since: Bound | None, until: Bound | None = None) -> str:
        from psycopg import sql

        if since is None and until is None:
            # A whole table: DuckDB's scanner reads it over several connections sharing one
            # exported snapshot (consistent), ~1.5x faster than one postgres_query stream.
            # Filtered reads go whole to Postgres instead, so its cursor index is used.
            schema = (ALIAS, self.schema) if self.schema else (ALIAS, "public")
            return f"SELECT * FROM {duck.qualified(*schema, table.name)}"

        relation = sql.Identifier(self.schema, table.name) if self.schema else sql.Identifier(table.name)
        query = sql.SQL("SELECT * FROM {}").format(relation)
        if since is not None and table.cursor:
            query = sql.SQL("{} WHERE {} >= CAST({} AS {})").format(
                query,
                sql.Identifier(table.cursor),
                sql.Literal(since.value),
                sql.SQL(since.postgres_type()),
            )
        if until is not None and table.cursor:
            query = sql.SQL("{} {} {} < CAST({} AS {})").format(
                query,
                sql.SQL("AND" if since is not None else "WHERE"),
                sql.Identifier(table.cursor),
                sql.Literal(until.value),
                sql.SQL(until.postgres_type()),
            )
        return f"SELECT * FROM postgres_query('{ALIAS}', {duck.literal(query.as_string())})"

    def check_table(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> None:
        """Fail with a clear message when the spec names a table the source lacks."""
        try:
            con.execute(f"DESCRIBE {self.select(table, None)}")
        except duckdb.Error as e:
            where = f"{self.schema}.{table.name}" if self.schema else table.name
            raise SourceError(
                f"source table {where!r} cannot be read from {duck.mask_url(self.url)}: "
                f"{_first_line(e, self.url).rstrip('!.')}. Check the table list in the pipeline spec "
                "or generate the source first (headwater generate)."
            ) from None


def _first_line(error: Exception, url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    try:
        password = conninfo_to_dict(url).get("password") if "://" in url else None
    except Exception:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text

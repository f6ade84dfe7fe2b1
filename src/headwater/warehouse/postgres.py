"""PostgreSQL warehouse, driven through DuckDB's postgres extension.

DuckDB writes the stage table with binary COPY; the upsert is Postgres' own
``INSERT ... ON CONFLICT`` sent with ``postgres_execute``, which runs inside the same
transaction as everything else in the load (a rollback undoes both: see the tests).
"""

from __future__ import annotations

import duckdb
from psycopg import sql

from headwater import duck
from headwater.spec import TableSpec
from headwater.warehouse.base import ALIAS, SYSTEM_COLUMNS, Warehouse, replace_guard
from headwater.warehouse.capabilities import CAPABILITIES

ident = sql.Identifier


class PostgresWarehouse(Warehouse):
    kind = "postgres"
    capabilities = CAPABILITIES["postgres"]

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        duck.attach(con, self.url, ALIAS, read_only=read_only)

    def native(self, con: duckdb.DuckDBPyConnection, statement: str | sql.Composable) -> None:
        text = statement if isinstance(statement, str) else statement.as_string()
        con.execute(f"CALL postgres_execute('{ALIAS}', {duck.literal(text)})")

    def _lock_table(
        self, con: duckdb.DuckDBPyConnection, pipeline: str, table: str, shared: bool = False
    ) -> None:
        # Two runs loading one table would otherwise interleave: the later commit could carry
        # the older watermark. The lock is released when the load transaction ends. Chunks of
        # one batch hold disjoint keys: they share the lock, every other load waits for them.
        key = _advisory_key(f"{pipeline}.{table}")
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        self.native(con, f"SELECT {function}({key})")

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection, schema: str) -> None:
        # CREATE SCHEMA IF NOT EXISTS races in Postgres: two loads that both find the schema
        # missing both insert it, and one fails on pg_namespace's unique index (seen with
        # parallel first loads on Celery workers). Creators take turns on an advisory lock that
        # the implicit transaction holds until the schema is committed.
        key = _advisory_key(f"schema:{schema}")
        self.native(
            con, f"SELECT pg_advisory_xact_lock({key}); CREATE SCHEMA IF NOT EXISTS {duck.quote(schema)}"
        )

    def _scratch_name(self, base: str) -> str:
        """A scratch relation's name within Postgres' 63 characters, unique per chunk."""
        return base[: 63 - len(self._scratch_suffix)] + self._scratch_suffix

    def _refresh_catalog(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CALL pg_clear_cache()")

    def _stage(self, con, schema: str, table: str, select: str) -> str:
        name = self._scratch_name(f"_hw_stage_{table}")
        self.native(con, sql.SQL("DROP TABLE IF EXISTS {}").format(ident(schema, name)))
        self._refresh_catalog(con)
        con.execute(f"CREATE TABLE {ALIAS}.{duck.quote(schema)}.{duck.quote(name)} AS {select}")
        return f"{ALIAS}.{duck.quote(schema)}.{duck.quote(name)}"

    def _drop_stage(self, con, stage: str) -> None:
        self.native(con, sql.SQL("DROP TABLE IF EXISTS {}").format(ident(*_schema_name(stage))))
        self._refresh_catalog(con)

    def _create_raw_from(self, con, schema: str, table: TableSpec, select: str) -> int:
        # Bulk COPY into a new table, then the key: far faster than ON CONFLICT row by row.
        qualified = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table.name)}"
        rows = con.execute(f"CREATE TABLE {qualified} AS {select}").fetchone()
        self._refresh_catalog(con)
        self.native(
            con,
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                ident(schema, table.name), sql.SQL(", ").join(map(ident, table.primary_key))
            ),
        )
        return int(rows[0]) if rows else 0

    def _upsert(
        self, con, schema: str, table: TableSpec, stage: str, columns: list[str], key: tuple, older: bool
    ) -> int:
        data_cols = [c for c in columns if c not in key and c not in SYSTEM_COLUMNS]
        # The guard is built from quoted, validated identifiers only (duck.quote).
        guard = replace_guard(table, older, "EXCLUDED", "t")
        if data_cols and guard != "FALSE":
            update = "DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({}) AND {}"
            conflict: sql.Composable = sql.SQL(update).format(
                sql.SQL(", ").join(
                    sql.SQL("{c} = EXCLUDED.{c}").format(c=ident(c)) for c in columns if c not in key
                ),
                sql.SQL(", ").join(sql.SQL("t.{}").format(ident(c)) for c in data_cols),
                sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(ident(c)) for c in data_cols),
                sql.SQL(guard),
            )
        else:
            conflict = sql.SQL("DO NOTHING")
        cols = sql.SQL(", ").join(map(ident, columns))
        return self._counted(
            con,
            schema,
            f"_hw_upserted_{table.name}",
            sql.SQL(
                "INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} "
                "ON CONFLICT ({key}) {conflict} RETURNING 1"
            ).format(
                target=ident(schema, table.name),
                cols=cols,
                stage=ident(*_schema_name(stage)),
                key=sql.SQL(", ").join(map(ident, key)),
                conflict=conflict,
            ),
        )

    def _delete_missing(self, con, schema: str, table: TableSpec, stage: str) -> int:
        match = sql.SQL(" AND ").join(sql.SQL("t.{c} = s.{c}").format(c=ident(c)) for c in table.primary_key)
        return self._counted(
            con,
            schema,
            f"_hw_deleted_{table.name}",
            sql.SQL(
                "DELETE FROM {target} AS t WHERE NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {match}) "
                "RETURNING 1"
            ).format(target=ident(schema, table.name), stage=ident(*_schema_name(stage)), match=match),
        )

    def _alter_column_type(self, con, schema: str, table: str, column: str, new_type: str) -> None:
        pg_type = postgres_type(new_type)
        self.native(
            con,
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}::{}").format(
                ident(schema, table), ident(column), sql.SQL(pg_type), ident(column), sql.SQL(pg_type)
            ),
        )
        self._refresh_catalog(con)

    def _counted(self, con, schema: str, scratch: str, dml: sql.Composable) -> int:
        """Run ``dml ... RETURNING 1`` in Postgres and return how many rows it touched.

        postgres_execute returns no result set, so Postgres writes the count into a scratch
        table that we read back and drop, all inside the load's transaction.
        """
        scratch = self._scratch_name(scratch)
        counter = ident(schema, scratch)
        self.native(
            con,
            sql.SQL(
                "DROP TABLE IF EXISTS {counter}; CREATE TABLE {counter} (n bigint); "
                "WITH touched AS ({dml}) INSERT INTO {counter} SELECT count(*) FROM touched"
            ).format(counter=counter, dml=dml),
        )
        self._refresh_catalog(con)
        n = con.execute(f"SELECT n FROM {ALIAS}.{duck.quote(schema)}.{duck.quote(scratch)}").fetchone()[0]
        self.native(con, sql.SQL("DROP TABLE {}").format(counter))
        self._refresh_catalog(con)
        return int(n)


_PG_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "SMALLINT": "smallint",
    "TINYINT": "smallint",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "BLOB": "bytea",
    "HUGEINT": "numeric(38,0)",
    "UUID": "uuid",
    "JSON": "jsonb",
    "TIME": "time",
}


def postgres_type(duckdb_type: str) -> str:
    """The Postgres type for a DuckDB type name (as DuckDB reports batch columns)."""
    import re

    from headwater.warehouse.schema import SchemaChangeError

    t = " ".join(duckdb_type.upper().split())
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", t)
    if m:
        return f"numeric({m.group(1)},{m.group(2)})"
    if t in _PG_TYPES:
        return _PG_TYPES[t]
    raise SchemaChangeError(f"cannot change a Postgres raw column to DuckDB type {duckdb_type}")


def _schema_name(qualified: str) -> tuple[str, str]:
    _, schema, name = (p.strip('"') for p in qualified.split("."))
    return schema, name


def _advisory_key(name: str) -> int:
    """A Postgres advisory lock key (signed 64-bit) for one of Headwater's named locks."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"headwater:{name}".encode()).digest()[:8], "big", signed=True)

"""DuckDB warehouse: one file, one writer at a time (Airflow routes its loads through a pool)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from headwater import duck
from headwater.errors import TransientError
from headwater.spec import TableSpec
from headwater.warehouse.base import ALIAS, SYSTEM_COLUMNS, Warehouse


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"

    @property
    def path(self) -> Path:
        return Path(duck.parse_url(self.url)[1])

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if read_only and not self.path.exists():
            read_only = False  # nothing to protect yet; create it so readers see an empty db
        # DuckDB allows one writing process per file; readers (the dashboard, `status`) hold
        # it for milliseconds at a time, so wait a little before calling the warehouse busy.
        # Under Airflow the headwater_duckdb pool serializes our own writers.
        for delay in (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, None):
            try:
                duck.attach(con, f"duckdb:///{self.path}", ALIAS, read_only=read_only)
                break
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise
                if delay is None:
                    raise TransientError(
                        f"the warehouse {self.path} is locked by another process; retry when it is "
                        "done (DuckDB allows one writer at a time)"
                    ) from None
                time.sleep(delay)
        con.execute(f"USE {ALIAS}")

    def native(self, con: duckdb.DuckDBPyConnection, sql: str) -> None:
        con.execute(sql)

    def _stage(self, con, schema: str, table: str, select: str) -> str:
        name = duck.quote(f"hw_stage_{table}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")
        return f"temp.main.{name}"

    def _create_raw_from(self, con, schema: str, table: TableSpec, select: str) -> int:
        # No PRIMARY KEY constraint: uniqueness comes from the MERGE on the key, and DuckDB's
        # index maintenance would slow bulk upserts. dbt tests check uniqueness downstream.
        target = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table.name)}"
        rows = con.execute(f"CREATE TABLE {target} AS {select}").fetchone()
        return int(rows[0]) if rows else 0

    def _upsert(self, con, schema: str, table: TableSpec, stage: str, columns: list[str], key: tuple) -> int:
        target = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table.name)}"
        on = " AND ".join(f"t.{duck.quote(c)} = s.{duck.quote(c)}" for c in key)
        data_cols = [c for c in columns if c not in key and c not in SYSTEM_COLUMNS]
        changed = " OR ".join(f"t.{duck.quote(c)} IS DISTINCT FROM s.{duck.quote(c)}" for c in data_cols)
        sets = ", ".join(f"{duck.quote(c)} = s.{duck.quote(c)}" for c in columns if c not in key)
        cols = ", ".join(duck.quote(c) for c in columns)
        vals = ", ".join(f"s.{duck.quote(c)}" for c in columns)
        matched = f"WHEN MATCHED AND ({changed}) THEN UPDATE SET {sets} " if data_cols else ""
        row = con.execute(
            f"MERGE INTO {target} AS t USING {stage} AS s ON ({on}) {matched}"
            f"WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({vals})"
        ).fetchone()
        return int(row[0]) if row else 0

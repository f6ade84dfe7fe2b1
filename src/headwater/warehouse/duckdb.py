"""DuckDB warehouse: one file, one writer at a time (Airflow routes its loads through a pool)."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from headwater import duck
from headwater.errors import TransientError
from headwater.spec import TableSpec
from headwater.warehouse.base import ALIAS, SYSTEM_COLUMNS, Warehouse, replace_guard
from headwater.warehouse.capabilities import CAPABILITIES


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"
    capabilities = CAPABILITIES["duckdb"]

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

    def _upsert(
        self, con, schema: str, table: TableSpec, stage: str, columns: list[str], key: tuple, older: bool
    ) -> int:
        """Replace the rows whose key is new or whose content changed: delete, then append.

        DuckDB updates rows column by column and rewrites the touched row groups at commit;
        deleting the changed keys and appending their new versions does the same work in
        about a third of the time of MERGE ... UPDATE (benchmarks/). Unchanged rows (the
        look-back re-reads them) are left alone, keeping their _loaded_at and _run_id.
        """
        target = f"{ALIAS}.{duck.quote(schema)}.{duck.quote(table.name)}"
        on = " AND ".join(f"t.{duck.quote(c)} = s.{duck.quote(c)}" for c in key)
        data_cols = [c for c in columns if c not in key and c not in SYSTEM_COLUMNS]
        differs = " OR ".join(f"t.{duck.quote(c)} IS DISTINCT FROM s.{duck.quote(c)}" for c in data_cols)
        cols = ", ".join(duck.quote(c) for c in columns)
        guard = replace_guard(table, older, "s", "t")
        condition = f"t.{duck.quote(key[0])} IS NULL" + (f" OR (({differs}) AND {guard})" if differs else "")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hw_changed AS SELECT s.* FROM {stage} AS s "
            f"LEFT JOIN {target} AS t ON ({on}) WHERE {condition}"
        )
        changed = int(duck.scalar(con, "SELECT count(*) FROM hw_changed"))
        if changed:
            con.execute(f"DELETE FROM {target} AS t USING hw_changed AS s WHERE {on}")
            con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM hw_changed")
        con.execute("DROP TABLE hw_changed")
        return changed

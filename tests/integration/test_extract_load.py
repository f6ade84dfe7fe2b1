"""Extract -> lake -> load on real databases: SQLite/Postgres sources, DuckDB/Postgres warehouses.

Expected values always come from reading the source database directly (sqlite3 / psycopg),
never from the engine's own bookkeeping.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from headwater import flow
from headwater.errors import SourceError, TransientError
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec, parse_spec
from headwater.warehouse import open_warehouse

AS_OF = datetime(2026, 3, 1, 12, 0, 0)
SPEC = load_spec("travel_bookings")


def _norm(value):
    if isinstance(value, (float, Decimal)):
        return round(float(value), 2)
    return value


def source_rows(url: str, table: str) -> set[tuple]:
    """Every row of a source table, read with the database's own driver."""
    if url.startswith("sqlite:///"):
        con = sqlite3.connect(url[len("sqlite:///") :], detect_types=sqlite3.PARSE_DECLTYPES)
        try:
            rows = con.execute(f'SELECT * FROM "{table}"').fetchall()
        finally:
            con.close()
        return {tuple(_norm(_ts(v)) for v in r) for r in rows}
    import psycopg

    with psycopg.connect(url) as con:
        rows = con.execute(f'SELECT * FROM travel_bookings."{table}"').fetchall()
    return {tuple(_norm(v) for v in r) for r in rows}


def _ts(v):
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] == " ":
        return datetime.fromisoformat(v)
    return v


def raw_rows(settings: Settings, table: str) -> list[tuple]:
    wh = open_warehouse(settings.warehouse_url)
    with wh.session(read_only=True) as con:
        all_columns = wh.columns_of(con, "raw_travel_bookings", table)
        cols = [c for c in all_columns if not c.startswith("_")]
        sel = ", ".join(f'"{c}"' for c in cols)
        # rows the delete check marked as gone from the source are not live rows
        live = ' WHERE "_deleted_at" IS NULL' if "_deleted_at" in all_columns else ""
        rows = con.execute(f'SELECT {sel} FROM wh.raw_travel_bookings."{table}"{live}').fetchall()
    return [tuple(_norm(v) for v in r) for r in rows]


def assert_warehouse_equals_source(settings: Settings, source_url: str) -> None:
    for t in SPEC.tables:
        raw = raw_rows(settings, t.name)
        assert len(raw) == len(set(raw)), f"{t.name}: duplicate rows in the warehouse"
        assert set(raw) == source_rows(source_url, t.name), f"{t.name}: warehouse differs from source"


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def sqlite_source(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(url, scale=0.02, seed=7, as_of=AS_OF)
    return url


def make_settings(tmp_path: Path, warehouse_url: str, source_url: str) -> Settings:
    return Settings(
        home=tmp_path,
        warehouse_url=warehouse_url,
        lake_url=str(tmp_path / "lake"),
        source_url=source_url,
        dags_folder=tmp_path,
    )


def test_first_run_copies_every_table_and_a_rerun_moves_nothing(tmp_path, warehouse_url, sqlite_source):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    first = flow.run_el(SPEC, settings, "run_1")
    assert all(first[t.name] is not None for t in SPEC.tables)
    assert_warehouse_equals_source(settings, sqlite_source)
    for t in SPEC.tables:
        assert first[t.name]["rows_changed"] == len(source_rows(sqlite_source, t.name))

    second = flow.run_el(SPEC, settings, "run_2")
    assert second == {t.name: None for t in SPEC.tables}, "nothing changed: every table is skipped"
    assert not list(Path(settings.lake_url).glob("*/*/batch=run_2")), "skipped batches leave no files"
    assert_warehouse_equals_source(settings, sqlite_source)


def test_advance_moves_only_changed_rows_and_lands_updates(tmp_path, warehouse_url, sqlite_source):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    marks = open_warehouse(warehouse_url).watermarks(SPEC.name)
    changes = generator.advance(sqlite_source, seed=7, as_of=AS_OF + timedelta(days=1))
    assert changes["updated_bookings"] > 0 and changes["new_bookings"] > 0

    result = flow.run_el(SPEC, settings, "run_2")
    con = sqlite3.connect(sqlite_source[len("sqlite:///") :])
    for t in SPEC.tables:
        expected = con.execute(
            f'SELECT count(*) FROM "{t.name}" WHERE "{t.cursor}" >= ?', [marks[t.name].watermark]
        ).fetchone()[0]
        moved = result[t.name]["rows_in_batch"] if result[t.name] else 0
        assert moved == expected, (
            f"{t.name}: moved {moved}, source has {expected} rows at/after the watermark"
        )
    statuses = dict(con.execute("SELECT booking_id, status FROM booking").fetchall())
    con.close()
    assert_warehouse_equals_source(settings, sqlite_source)
    raw_status = {r[0]: r[5] for r in raw_rows(settings, "booking")}
    assert raw_status == statuses


def test_an_update_with_the_same_timestamp_as_the_watermark_is_not_missed(
    tmp_path, warehouse_url, sqlite_source
):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    path = sqlite_source[len("sqlite:///") :]
    con = sqlite3.connect(path)
    newest = con.execute("SELECT max(updated_at) FROM booking").fetchone()[0]
    # Another booking committed late with exactly the newest timestamp: a '>' cursor misses it.
    victim = con.execute("SELECT min(booking_id) FROM booking WHERE updated_at < ?", [newest]).fetchone()[0]
    con.execute(
        "UPDATE booking SET status = 'cancelled', updated_at = ? WHERE booking_id = ?", [newest, victim]
    )
    con.commit()
    con.close()
    result = flow.run_el(SPEC, settings, "run_2")
    assert result["booking"] is not None and result["booking"]["rows_changed"] == 1
    assert {r[0]: r[5] for r in raw_rows(settings, "booking")}[victim] == "cancelled"


def test_replaying_a_loaded_batch_changes_nothing(tmp_path, warehouse_url, sqlite_source):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    before = sorted(raw_rows(settings, "ticket"))
    again = flow.load(SPEC, {"table": "ticket", "batch_id": "run_1"}, settings)
    assert again["replayed"] is True and again["rows_changed"] == 0
    assert sorted(raw_rows(settings, "ticket")) == before
    ledger = open_warehouse(warehouse_url).query(
        "SELECT count(*) FROM wh.headwater.load_ledger WHERE table_name = 'ticket'"
    )
    assert ledger == [(1,)]


def test_a_load_that_fails_midway_leaves_the_warehouse_as_it_was(
    tmp_path, warehouse_url, sqlite_source, monkeypatch
):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    generator.advance(sqlite_source, seed=7, as_of=AS_OF + timedelta(days=1))
    before = sorted(raw_rows(settings, "booking"))
    marks_before = open_warehouse(warehouse_url).watermarks(SPEC.name)["booking"]
    plan = next(p for p in flow.plan(SPEC, settings) if p["table"] == "booking")
    batch = flow.extract(SPEC, plan, "run_2", settings)
    assert batch is not None

    from headwater.warehouse import base

    def explode(*args, **kwargs):
        raise RuntimeError("injected failure between upsert and watermark")

    monkeypatch.setattr(base.Warehouse, "_advance_watermark", explode)
    with pytest.raises(RuntimeError, match="injected"):
        flow.load(SPEC, batch, settings)
    assert sorted(raw_rows(settings, "booking")) == before, "the upsert was rolled back"
    assert open_warehouse(warehouse_url).watermarks(SPEC.name)["booking"] == marks_before
    monkeypatch.undo()
    retried = flow.load(SPEC, batch, settings)  # the retry of the same batch completes it
    assert retried["replayed"] is False and retried["rows_changed"] > 0
    from headwater.reconcile import deletes

    deletes.detect_deletes(SPEC, [SPEC.table("booking")], settings, "run_2")  # the advance purged some
    assert set(raw_rows(settings, "booking")) == source_rows(sqlite_source, "booking")


def test_full_refresh_removes_rows_deleted_at_the_source(tmp_path, warehouse_url, sqlite_source):
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    con = sqlite3.connect(sqlite_source[len("sqlite:///") :])
    con.execute("DELETE FROM ticket_segment WHERE ticket_id = (SELECT min(ticket_id) FROM ticket_segment)")
    con.commit()
    con.close()
    result = flow.run_el(SPEC, settings, "run_2", full_refresh=True)
    assert result["ticket_segment"]["rows_deleted"] >= 1
    assert set(raw_rows(settings, "ticket_segment")) == source_rows(sqlite_source, "ticket_segment")


def test_rows_with_a_null_key_are_quarantined_not_dropped(tmp_path, warehouse_url):
    src = tmp_path / "keys.sqlite"
    con = sqlite3.connect(src)
    con.execute("CREATE TABLE item (item_id bigint, name varchar(20), updated_at timestamp)")
    con.executemany(
        "INSERT INTO item VALUES (?, ?, ?)",
        [
            (1, "a", "2026-01-01 00:00:00"),
            (None, "orphan", "2026-01-01 00:00:01"),
            (2, "b", "2026-01-01 00:00:02"),
        ],
    )
    con.commit()
    con.close()
    spec = parse_spec(
        {
            "name": "keys",
            "source": {"kind": "sql", "url": f"sqlite:///{src}"},
            "tables": [{"name": "item", "primary_key": ["item_id"], "cursor": "updated_at"}],
        }
    )
    settings = make_settings(tmp_path, warehouse_url, None)
    result = flow.run_el(spec, settings, "run_1")["item"]
    assert (result["rows_changed"], result["rows_quarantined"]) == (2, 1)
    rows = open_warehouse(warehouse_url).query(
        "SELECT reason, record FROM wh.headwater.quarantine WHERE pipeline = 'keys'"
    )
    assert len(rows) == 1
    assert "NULL in primary key (item_id)" in rows[0][0] and "orphan" in rows[0][1]


def test_a_table_missing_from_the_source_fails_with_a_clear_message(tmp_path, sqlite_source):
    spec = replace(SPEC, tables=(*SPEC.tables, replace(SPEC.tables[0], name="invoice")))
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", sqlite_source)
    plan = {"table": "invoice", "mode": "full"}
    with pytest.raises(SourceError, match="source table 'invoice' cannot be read .*headwater generate"):
        flow.extract(spec, plan, "run_1", settings)


def test_an_unreachable_source_never_shows_its_password(tmp_path):
    url = "postgresql://loader:Sup3rS3cretPw@127.0.0.1:1/nowhere"
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", url)
    with pytest.raises(TransientError) as err:
        flow.extract(SPEC, {"table": "booking", "mode": "full"}, "run_1", settings)
    assert "Sup3rS3cretPw" not in str(err.value)
    assert "loader:***@127.0.0.1:1" in str(err.value)


def test_refused_credentials_are_a_terminal_error_that_never_shows_the_password(tmp_path, pg_server):
    url = "postgresql://no_such_loader:Wr0ngPassw0rd@127.0.0.1:5432/postgres"
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", url)
    with pytest.raises(SourceError) as err:
        flow.extract(SPEC, {"table": "booking", "mode": "full"}, "run_1", settings)
    assert 'role "no_such_loader" does not exist' in str(err.value)
    assert "Wr0ngPassw0rd" not in str(err.value) and "no_such_loader:***@" in str(err.value)


def test_postgres_source_to_both_warehouses(tmp_path, warehouse_url, pg_server):
    """The production path: Postgres source (filters pushed down), incremental after advance."""
    import psycopg

    source = warehouse_url if warehouse_url.startswith("postgres") else None
    if source is None:
        source = tmp_path.name  # placeholder replaced below
        pytest.importorskip("psycopg")
        import uuid

        from psycopg import sql

        name = f"hw_src_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg_server, autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        source = pg_server.rsplit("/", 1)[0] + "/" + name
    try:
        generator.generate(source, scale=0.02, seed=3, as_of=AS_OF)
        settings = make_settings(tmp_path, warehouse_url, source)
        flow.run_el(SPEC, settings, "run_1")
        assert_warehouse_equals_source(settings, source)
        generator.advance(source, seed=3, as_of=AS_OF + timedelta(hours=6))
        result = flow.run_el(SPEC, settings, "run_2")
        assert result["booking"] is not None
        assert_warehouse_equals_source(settings, source)
        assert flow.run_el(SPEC, settings, "run_3") == {t.name: None for t in SPEC.tables}
    finally:
        if source != warehouse_url:
            with psycopg.connect(pg_server, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{source.rsplit("/", 1)[1]}" WITH (FORCE)')


def test_the_lake_batch_is_parquet_at_a_deterministic_run_keyed_path(tmp_path, sqlite_source):
    settings = make_settings(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", sqlite_source)
    plan = {"table": "booking", "mode": "full"}
    batch = flow.extract(SPEC, plan, "manual__2026-03-01T12:00:00+00:00", settings)
    folder = tmp_path / "lake" / "travel_bookings" / "booking" / "batch=manual__2026-03-01T12_00_00_00_00"
    assert batch == {
        "table": "booking",
        "batch_id": folder.name.split("=", 1)[1],
        "rows": len(source_rows(sqlite_source, "booking")),
    }
    assert (folder / "_manifest.json").exists() and list(folder.glob("part-*.parquet"))
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchone()[0]
    assert n == batch["rows"]
    # A retry of the same run rewrites the same folder instead of adding a second copy.
    flow.extract(SPEC, plan, "manual__2026-03-01T12:00:00+00:00", settings)
    assert len(list(folder.glob("part-*.parquet"))) == 1


def test_a_warehouse_made_by_an_older_release_gets_the_new_ledger_columns(
    tmp_path, warehouse_url, sqlite_source
):
    wh = open_warehouse(warehouse_url)
    with wh.session() as con:  # the first release's ledger, without extracted_at / schema_changes
        wh.native(con, "CREATE SCHEMA IF NOT EXISTS headwater")
        wh.native(
            con,
            "CREATE TABLE headwater.load_ledger (pipeline VARCHAR NOT NULL, table_name VARCHAR NOT NULL, "
            "run_id VARCHAR NOT NULL, batch_id VARCHAR NOT NULL, mode VARCHAR, rows_in_batch BIGINT, "
            "rows_changed BIGINT, rows_deleted BIGINT, rows_quarantined BIGINT, watermark_before VARCHAR, "
            "watermark_after VARCHAR, loaded_at TIMESTAMP, duration_seconds DOUBLE PRECISION)",
        )
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    assert_warehouse_equals_source(settings, sqlite_source)


FRESH_PROCESS_RUN = """
import json, sys
from headwater import flow
from headwater.settings import Settings
from headwater.spec import load_spec
from pathlib import Path
home = Path(sys.argv[1])
settings = Settings(home=home, warehouse_url=sys.argv[2], lake_url=str(home / "lake"),
                    source_url=sys.argv[3], dags_folder=home)
spec = load_spec("travel_bookings")
for table_plan in flow.plan(spec, settings):
    flow.extract(spec, table_plan, "run_2", settings)
moved = 0
for level in spec.load_levels():
    for batch in flow.batches(spec, level, "run_2", settings):
        moved += flow.load(spec, batch, settings)["rows_in_batch"]
print(json.dumps({"pandas": "pandas" in sys.modules, "moved": moved}))
"""


def test_an_incremental_run_in_a_fresh_process_never_imports_pandas(tmp_path, sqlite_source):
    """Binding a parameter makes DuckDB's client import pandas (0.2-0.7 s, more than a small
    incremental run's own work, in every task and CLI process): the metadata statements of
    plan, extract and load write their values in as literals. (The delete check's bucket
    comparison hands Arrow tables to DuckDB, whose client then imports pyarrow.dataset and
    pandas with it; in the DAG it runs in the warm runner, which has them loaded.)"""
    import json
    import subprocess
    import sys

    warehouse_url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    settings = make_settings(tmp_path, warehouse_url, sqlite_source)
    flow.run_el(SPEC, settings, "run_1")
    changes = generator.advance(sqlite_source, seed=7, as_of=AS_OF + timedelta(days=1))
    assert changes["updated_bookings"] > 0
    out = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_RUN, str(tmp_path), warehouse_url, sqlite_source],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["moved"] > 0, "the run under test loaded something"
    assert report["pandas"] is False
    flow.run_el(SPEC, settings, "run_3")  # nothing new to move; the delete check marks the purged
    assert_warehouse_equals_source(settings, sqlite_source)

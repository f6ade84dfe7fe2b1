"""The dashboard only reads: no file created, no byte changed, no write lock taken, a held write
lock reported as "busy" (then read once it is released), Postgres sessions read-only too."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import duckdb
import pytest

from headwater.dashboard.db import Reader, WarehouseBusy, WarehouseMissing
from headwater.warehouse import open_warehouse


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def small_warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT range AS id FROM range(10)")
    con.close()
    return path


def test_a_missing_warehouse_is_reported_and_not_created(tmp_path: Path):
    path = tmp_path / "nothing-here.duckdb"
    with pytest.raises(WarehouseMissing, match="no pipeline has run"):
        Reader(f"duckdb:///{path}").run(lambda con: 1)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_reads_change_nothing_and_cannot_write(small_warehouse: Path):
    before = _digest(small_warehouse), small_warehouse.stat().st_mtime_ns
    reader = Reader(f"duckdb:///{small_warehouse}")
    with reader.session() as con:
        assert con.execute("SELECT count(*) FROM wh.s.t").fetchone() == (10,)
        with pytest.raises(duckdb.Error, match="(?i)read.only"):
            con.execute("INSERT INTO wh.s.t VALUES (11)")
        with pytest.raises(duckdb.Error, match="(?i)read.only"):
            con.execute("CREATE TABLE wh.s.u (x INT)")
    assert (_digest(small_warehouse), small_warehouse.stat().st_mtime_ns) == before
    assert not Path(f"{small_warehouse}.wal").exists()


def test_the_lock_is_released_after_each_read(small_warehouse: Path):
    reader = Reader(f"duckdb:///{small_warehouse}")
    reader.run(lambda con: con.execute("SELECT 1").fetchall())
    # A writer (here: this process) can open the file right after a dashboard read.
    con = duckdb.connect(str(small_warehouse))
    con.execute("INSERT INTO s.t VALUES (10)")
    con.close()
    assert reader.run(lambda c: c.execute("SELECT count(*) FROM wh.s.t").fetchone()) == (11,)


def test_a_held_write_lock_is_busy_then_readable(small_warehouse: Path, write_lock):
    reader = Reader(f"duckdb:///{small_warehouse}", attempts=3, wait_seconds=0.1)
    with write_lock(small_warehouse):
        started = time.monotonic()
        with pytest.raises(WarehouseBusy, match="being written right now") as e:
            reader.run(lambda con: 1)
        assert time.monotonic() - started < 5  # retried briefly, then said so
        assert "Conflicting lock" in str(e.value.__cause__)
    assert reader.run(lambda c: c.execute("SELECT count(*) FROM wh.s.t").fetchone()) == (10,)


@pytest.mark.postgres
def test_postgres_sessions_are_read_only(pg_database: str):
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as pg:
        pg.execute("CREATE SCHEMA s; CREATE TABLE s.t AS SELECT generate_series(1, 5) AS id")
    reader = Reader(pg_database)
    with reader.session() as con:
        assert con.execute("SELECT count(*) FROM wh.s.t").fetchone() == (5,)
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO wh.s.t VALUES (6)")
        # Even SQL sent to Postgres as it is runs in a read-only transaction.
        with pytest.raises(duckdb.Error, match="read-only transaction"):
            con.execute("CALL postgres_execute('wh', 'CREATE TABLE s.u (x int)')")
    with psycopg.connect(pg_database) as pg:
        assert pg.execute("SELECT count(*) FROM s.t").fetchone() == (5,)
        assert pg.execute("SELECT to_regclass('s.u')").fetchone() == (None,)


@pytest.mark.postgres
def test_overview_queries_on_a_postgres_warehouse(pg_database: str):
    """The metadata schema as the Postgres adapter creates it is readable through the dashboard."""
    from headwater.dashboard import queries

    wh = open_warehouse(pg_database)
    with wh.session() as con:
        wh.ensure_metadata(con)
    with Reader(pg_database).session() as con:
        assert queries.has_metadata(con)
        assert queries.pipeline_overview(con).empty
        assert queries.missing_tables(con, [("some_core", "fct_x")]) == [("some_core", "fct_x")]

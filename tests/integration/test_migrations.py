"""Versioned metadata migrations, on DuckDB and Postgres: a new warehouse, one created before
versioning, concurrent openers, and a warehouse from a newer Headwater."""

from __future__ import annotations

import threading

import pytest

from headwater.errors import ConfigError
from headwater.warehouse import base, open_warehouse
from headwater.warehouse.migrations import LATEST, MIGRATIONS


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


def _fresh_process(url: str) -> None:
    """Forget that this process already migrated ``url`` (as a new process would)."""
    base._METADATA_READY.discard(url)


def _versions(url: str) -> list[tuple]:
    return open_warehouse(url).query("SELECT version FROM wh.headwater.schema_version ORDER BY version")


def _columns(url: str, table: str) -> set[str]:
    wh = open_warehouse(url)
    with wh.session() as con:
        return set(wh.columns_of(con, "headwater", table))


def test_a_new_warehouse_gets_every_step_once(warehouse_url):
    _fresh_process(warehouse_url)
    assert open_warehouse(warehouse_url).watermarks("any") == {}
    assert _versions(warehouse_url) == [(m.version,) for m in MIGRATIONS]
    assert {"truncated", "record_length", "source_file"} <= _columns(warehouse_url, "quarantine")
    assert {"extracted_at", "rows_skipped", "bytes"} <= _columns(warehouse_url, "load_ledger")
    assert "outcome" in _columns(warehouse_url, "runs")
    _fresh_process(warehouse_url)
    open_warehouse(warehouse_url).watermarks("any")
    assert _versions(warehouse_url) == [(m.version,) for m in MIGRATIONS], "nothing applied twice"


def test_a_warehouse_from_before_versioning_is_upgraded_and_keeps_its_rows(warehouse_url):
    wh = open_warehouse(warehouse_url)
    with wh.session() as con:  # the first release's layout, with one loaded batch in it
        wh.native(con, "CREATE SCHEMA IF NOT EXISTS headwater; " + MIGRATIONS[0].sql)
        wh._refresh_catalog(con)
        con.execute(
            "INSERT INTO wh.headwater.load_ledger (pipeline, table_name, run_id, batch_id, rows_in_batch) "
            "VALUES ('p', 't', 'r1', 'b1', 42)"
        )
    assert "extracted_at" not in _columns(warehouse_url, "load_ledger")
    _fresh_process(warehouse_url)
    rows = wh.query("SELECT run_id, batch_id, rows_in_batch, extracted_at FROM wh.headwater.load_ledger")
    assert rows == [("r1", "b1", 42, None)]
    assert _versions(warehouse_url) == [(m.version,) for m in MIGRATIONS]


def test_concurrent_openers_apply_each_step_once(warehouse_url):
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_warehouse(warehouse_url).query("SELECT 1")
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    _fresh_process(warehouse_url)
    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if warehouse_url.startswith("duckdb"):  # one writer per file: the others may wait or fail busy
        assert len(errors) < 3, errors
    else:
        assert not errors, errors
    assert _versions(warehouse_url) == [(m.version,) for m in MIGRATIONS]


def test_a_warehouse_migrated_by_a_newer_headwater_is_refused(warehouse_url):
    _fresh_process(warehouse_url)
    wh = open_warehouse(warehouse_url)
    wh.query("SELECT 1")
    with wh.session() as con:
        future = "INSERT INTO wh.headwater.schema_version VALUES (?, 'from the future', NULL)"
        con.execute(future, [LATEST + 1])
    _fresh_process(warehouse_url)
    with pytest.raises(ConfigError, match=f"version {LATEST + 1}, newer than this Headwater knows"):
        wh.query("SELECT 1")

"""Schema drift: new columns are added and reported; type changes and vanished columns follow
the pipeline's policy, with a message naming table, column, old and new type."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from headwater import flow
from headwater.settings import Settings
from headwater.spec import parse_spec
from headwater.warehouse import open_warehouse
from headwater.warehouse.schema import SchemaChangeError, diff_columns


def _spec(src, policy):
    return parse_spec(
        {
            "name": "drift",
            "source": {"kind": "sql", "url": f"sqlite:///{src}"},
            "load": {"schema_changes": policy},
            "tables": [{"name": "item", "primary_key": ["item_id"], "cursor": "updated_at"}],
        }
    )


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "drift.sqlite"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE item (item_id bigint primary key, qty integer, note varchar(10), updated_at timestamp)"
    )
    con.executemany(
        "INSERT INTO item VALUES (?, ?, ?, ?)",
        [(1, 5, "a", "2026-01-01 00:00:00"), (2, 7, "b", "2026-01-01 00:00:01")],
    )
    con.commit()
    con.close()
    return path


def _rebuild(path, ddl, rows):
    con = sqlite3.connect(path)
    con.execute("DROP TABLE item")
    con.execute(ddl)
    con.executemany(f"INSERT INTO item VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.commit()
    con.close()


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, tmp_path):
    url = (
        f"duckdb:///{tmp_path / 'w.duckdb'}"
        if request.param == "duckdb"
        else request.getfixturevalue("pg_database")
    )
    return Settings(
        home=tmp_path,
        warehouse_url=url,
        lake_url=str(tmp_path / "lake"),
        source_url=None,
        dags_folder=tmp_path,
    )


def test_a_new_source_column_is_added_and_reported(source, settings):
    spec = _spec(source, "fail")  # adding a column is accepted even under 'fail'
    flow.run_el(spec, settings, "run_1")
    _rebuild(
        source,
        "CREATE TABLE item (item_id bigint primary key, qty integer, note varchar(10), "
        "colour varchar(10), updated_at timestamp)",
        [(1, 5, "a", None, "2026-01-01 00:00:00"), (3, 1, "c", "red", "2026-01-02 00:00:00")],
    )
    flow.run_el(spec, settings, "run_2")
    wh = open_warehouse(settings.warehouse_url)
    assert wh.query("SELECT item_id, colour FROM wh.raw_drift.item ORDER BY 1") == [
        (1, None),
        (2, None),
        (3, "red"),
    ]
    report = wh.query("SELECT schema_changes FROM wh.headwater.load_ledger WHERE run_id = 'run_2'")
    assert report == [("item.colour: new column (VARCHAR)",)]


def test_a_type_change_fails_under_the_fail_policy_and_loads_nothing(source, settings):
    spec = _spec(source, "fail")
    flow.run_el(spec, settings, "run_1")
    _rebuild(
        source,
        "CREATE TABLE item (item_id bigint primary key, qty double, note varchar(10), updated_at timestamp)",
        [(4, 2.5, "d", "2026-01-03 00:00:00")],
    )
    with pytest.raises(SchemaChangeError) as err:
        flow.run_el(spec, settings, "run_2")
    message = str(err.value)
    assert "item.qty: type changed from BIGINT to DOUBLE" in message
    assert "schema_changes: evolve" in message
    wh = open_warehouse(settings.warehouse_url)
    assert wh.query("SELECT count(*) FROM wh.raw_drift.item") == [(2,)], "nothing was loaded"


def test_evolve_alters_the_type_and_keeps_a_vanished_column(source, settings):
    spec = _spec(source, "evolve")
    flow.run_el(spec, settings, "run_1")
    _rebuild(
        source,
        "CREATE TABLE item (item_id bigint primary key, qty double, updated_at timestamp)",
        [(4, 2.5, "2026-01-03 00:00:00")],
    )
    flow.run_el(spec, settings, "run_2")
    wh = open_warehouse(settings.warehouse_url)
    assert wh.query("SELECT item_id, qty, note FROM wh.raw_drift.item ORDER BY 1") == [
        (1, 5.0, "a"),
        (2, 7.0, "b"),
        (4, 2.5, None),
    ]
    (changes,) = wh.query("SELECT schema_changes FROM wh.headwater.load_ledger WHERE run_id = 'run_2'")[0]
    assert "item.note: no longer in the source (was VARCHAR)" in changes
    assert "item.qty: type changed from BIGINT to DOUBLE" in changes


def test_diff_columns_is_exact():
    d = diff_columns(
        {"a": "BIGINT", "b": "VARCHAR", "_loaded_at": "TIMESTAMP"}, [["a", "bigint"], ["c", "DATE"]]
    )
    assert (d.added, d.removed, d.retyped) == ([("c", "DATE")], [("b", "VARCHAR")], [])
    assert not diff_columns({"a": "DECIMAL(12,2)"}, [["a", "DECIMAL(12,2)"]])
    assert replace(d, added=[], removed=[]).describe("t") == []

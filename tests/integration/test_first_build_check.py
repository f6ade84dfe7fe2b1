"""The first-build check the branch task runs: does the warehouse hold the pipeline's dbt schemas?

Against a real DuckDB file and a real Postgres database: the relations are created with each
warehouse's own driver, then the check reads them through Headwater's warehouse session.
"""

from __future__ import annotations

import duckdb
import psycopg
import pytest

from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.transform import dbt_schema_built

SPEC = load_spec("travel_bookings")  # dbt schema travel_bookings, customs travel_bookings_<x>


def _duckdb(settings: Settings, statement: str) -> None:
    con = duckdb.connect(settings.warehouse_url.removeprefix("duckdb:///"))
    try:
        con.execute(statement)
    finally:
        con.close()


def _postgres(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(statement)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_only_a_relation_in_the_pipelines_dbt_schemas_counts_as_built(kind, hw_home, request, monkeypatch):
    if kind == "postgres":
        url = request.getfixturevalue("pg_database")
        monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", url)
        run = lambda sql: _postgres(url, sql)  # noqa: E731
    settings = Settings.from_env()
    if kind == "duckdb":
        run = lambda sql: _duckdb(settings, sql)  # noqa: E731

    assert dbt_schema_built(SPEC, settings) is False, "an empty warehouse is a first build"
    # The raw schema, an empty dbt schema, and a schema that only shares a prefix do not count.
    run("CREATE SCHEMA raw_travel_bookings")
    run("CREATE TABLE raw_travel_bookings.booking (booking_id INT)")
    run("CREATE SCHEMA travel_bookings_core")
    run("CREATE SCHEMA travel_bookingsx")
    run("CREATE TABLE travel_bookingsx.t (x INT)")
    assert dbt_schema_built(SPEC, settings) is False
    run("CREATE VIEW travel_bookings_core.v AS SELECT 1 AS x")
    assert dbt_schema_built(SPEC, settings) is True, "a view in <schema>_<custom> is a built project"
    run("DROP VIEW travel_bookings_core.v")
    run("CREATE TABLE travel_bookings_core.fct (x INT)")
    assert dbt_schema_built(SPEC, settings) is True


def test_a_source_kept_in_the_warehouse_database_is_not_a_dbt_build(pg_database, hw_home, monkeypatch):
    """One Postgres for source and warehouse: the source's schema (named like the pipeline,
    hence like the dbt target schema) holds tables, and still nothing of dbt's was built."""
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", pg_database)
    _postgres(pg_database, "CREATE SCHEMA travel_bookings")
    _postgres(pg_database, "CREATE TABLE travel_bookings.booking (booking_id INT)")
    assert dbt_schema_built(SPEC, Settings.from_env()) is True, "elsewhere, the source is not this database"
    monkeypatch.setenv("HEADWATER_SOURCE_TRAVEL_BOOKINGS_MAIN_URL", pg_database)
    assert dbt_schema_built(SPEC, Settings.from_env()) is False
    _postgres(pg_database, "CREATE SCHEMA travel_bookings_core")
    _postgres(pg_database, "CREATE TABLE travel_bookings_core.fct (x INT)")
    assert dbt_schema_built(SPEC, Settings.from_env()) is True

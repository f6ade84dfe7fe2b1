"""Pieces the end-to-end pipeline tests share: a scratch Postgres database, a direct reader of
a source database for expected figures, and what a run moved according to the load ledger.

``test_pipelines.py`` runs every bundled pipeline that fits its one shape (one SQL source, one
DAG). A pipeline that does not (files or an API beside its database, several DAGs) sets
``OWN_E2E = True`` in its ``expectations.py`` and has its own module, ``test_<pipeline>.py``,
built from these pieces.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from headwater.settings import source_url_variable


class SourceReader:
    """Reads a pipeline's source database directly (sqlite3 or psycopg), for expected values."""

    def __init__(self, url: str, schema: str | None) -> None:
        self.url, self.schema = url, schema

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.url.startswith("sqlite:///"):
            import sqlite3

            con = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            try:
                return con.execute(sql, params).fetchall()
            finally:
                con.close()
        import psycopg

        options = f"-c search_path={self.schema}" if self.schema else ""
        with psycopg.connect(self.url, options=options) as con:
            return con.execute(sql.replace("?", "%s"), params).fetchall()


def create_database(admin_url: str) -> str:
    """A new, empty database on the admin URL's server; returns its name."""
    import psycopg
    from psycopg import sql

    name = f"hw_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def moved(wh: Any, run_id: str) -> dict[str, int]:
    """Rows per raw table that the run's loads read, from the load ledger."""
    return dict(
        wh.query(
            "SELECT table_name, sum(rows_in_batch) FROM wh.headwater.load_ledger WHERE run_id = ? GROUP BY 1",
            [run_id],
        )
    )


def isolate(mp: pytest.MonkeyPatch, home: Path, pipeline: str, source: str, database_url: str | None) -> None:
    """A run environment of its own: HEADWATER_HOME at ``home`` and nothing inherited; with a
    ``database_url`` (Postgres), the pipeline's ``source`` and the warehouse live there."""
    mp.setenv("HEADWATER_HOME", str(home))
    for var in ("HEADWATER_WAREHOUSE_URL", "HEADWATER_LAKE_URL", "HEADWATER_SOURCE_URL", "AIRFLOW_HOME"):
        mp.delenv(var, raising=False)
    if database_url is not None:
        mp.setenv(source_url_variable(pipeline, source), database_url)  # this pipeline only
        mp.setenv("HEADWATER_WAREHOUSE_URL", database_url)


@contextmanager
def pipeline_home(request: Any, tmp_path_factory: Any, spec: Any, backend: str) -> Iterator[Any]:
    """Settings for a fresh HEADWATER_HOME of one pipeline and backend, the environment pointing
    at it while the block runs. On ``postgres`` a new database holds the pipeline's main source
    and the warehouse (dropped afterwards); on ``duckdb`` everything is embedded in the home."""
    from headwater.settings import Settings

    home = tmp_path_factory.mktemp(f"e2e-{spec.name}-{backend}") / "hw"
    home.mkdir()
    admin = database = None
    if backend == "postgres":
        admin = request.getfixturevalue("pg_server")  # skips (fails in CI) without Postgres
        database = create_database(admin)
    with pytest.MonkeyPatch.context() as mp:
        url = f"{admin.rsplit('/', 1)[0]}/{database}" if admin and database else None
        isolate(mp, home, spec.name, spec.source.name, url)
        try:
            yield Settings.from_env()
        finally:
            if admin and database:
                drop_database(admin, database)

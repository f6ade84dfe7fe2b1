"""Shared fixtures: Postgres databases, a Headwater home per test, and the CI skip rule.

Outside CI a test that needs a server skips with the reason when the server is absent; in CI
(CI=true) any skip fails the run, so a missing service can never pass silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Runs started by tests end with the test process: no Airflow kept warm between commands (one
# per test home would pile up); tests/e2e/test_runner.py turns it on where it is the subject.
os.environ["HEADWATER_KEEP_WARM_SECONDS"] = "0"

PG_ADMIN_URL = os.environ.get("HEADWATER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as e:  # any failure means "not usable here"
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_reachable()
    if problem:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem})")
    return PG_ADMIN_URL


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test, dropped afterwards; yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"hw_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = pg_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as con:
            con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def hw_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated HEADWATER_HOME; clears URL overrides from the caller's environment."""
    home = tmp_path / "hw"
    home.mkdir()
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    overrides = ("HEADWATER_WAREHOUSE_URL", "HEADWATER_LAKE_URL", "HEADWATER_PIPELINE_PATHS")
    for var in (*overrides, "HEADWATER_DBT_TARGET", "AIRFLOW_HOME"):
        monkeypatch.delenv(var, raising=False)
    for var in [v for v in os.environ if v.startswith("HEADWATER_SOURCE_") and v.endswith("_URL")]:
        monkeypatch.delenv(var)  # the old HEADWATER_SOURCE_URL and every per-source URL
    return home


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if os.environ.get("CI") and skipped:
        terminalreporter.write_line(
            f"CI: {len(skipped)} test(s) skipped; in CI every test must run (is a service down?)",
            red=True,
        )


def pytest_sessionfinish(session, exitstatus) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("CI") and reporter and reporter.stats.get("skipped"):
        session.exitstatus = 1


# -- running the suite on several workers (pytest-xdist; `make test` uses -n 2) -----------------
# The unit of work a worker takes is a "scope": a module, except that the dashboard's modules
# form one scope, since they share session-scoped warehouses that each cost a real DAG run.
# Scopes are handed out longest first (roughly, from measured module times), so the long
# end-to-end modules do not end up alone at the tail of the run.
SHARED_SCOPES = ("tests/dashboard/",)
LONGEST_FIRST = (
    "tests/e2e/test_cluster.py",
    "tests/dashboard/",
    "tests/e2e/test_pipelines.py",
    "tests/e2e/test_pacbikes.py",
    "tests/e2e/test_b2b_commerce.py",
    "tests/e2e/test_forex.py",
    "tests/e2e/",
    "tests/integration/",
    "tests/monitoring/",
)


def scope_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((shared for shared in SHARED_SCOPES if path.startswith(shared)), path)


def _rank(nodeid: str) -> int:
    ranks = (i for i, prefix in enumerate(LONGEST_FIRST) if nodeid.startswith(prefix))
    return next(ranks, len(LONGEST_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _rank(item.nodeid))  # stable: module order is kept within a rank


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN201
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return SharedFixtureScopes(config, log)

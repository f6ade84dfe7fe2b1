"""The pacbikes pipeline end to end: its two DAGs run for real by Airflow (``airflow dags
test``), on the embedded default (SQLite shop, DuckDB warehouse) and on Postgres.

One fixture per backend does every run the tests below read:

1. generate the shop; the currency API (the pipeline's own stand-in, a real HTTP server on
   127.0.0.1) answers every request 429 twice before serving it; run pacbikes_staging, then
   pacbikes_warehouse (first build);
2. advance the shop (new orders, changed product costs and prices, new quotas; the API lists
   new currencies); run the staging DAG for the currency alone against an API that keeps
   answering 503: it must fail, load nothing and keep the watermark;
3. run both DAGs again with the API healthy (regular run), its token given to the run only as
   the Airflow connection ``headwater_source_currency`` (the API refuses requests without it).

Expected figures come from the source database with its own driver and from the generator's
truth (``expectations.py``), never from what the pipeline produced. That the staging DAG's
Asset really schedules the warehouse DAG is shown under a real scheduler in
``test_pacbikes_scheduler.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from headwater import discovery
from headwater.dashboard import marts
from headwater.dashboard.db import Reader
from headwater.orchestration.local import RunOutcome, run_dag
from headwater.orchestration.pipeline_run import run_pipeline_dags
from headwater.settings import Settings, source_token_variable, source_url_variable
from tests.e2e.support import SourceReader, create_database, drop_database, isolate, moved

# One fixture per backend makes five DAG runs (two of them two DAGs): more than the default
# per-test timeout allows on a busy machine, since the first test pays for all of them.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]
PIPELINE = "pacbikes"
STAGING, WAREHOUSE = "pacbikes_staging", "pacbikes_warehouse"
ATTEMPTS = 3
"""HTTP tries per page in the failing-API run (HEADWATER_HTTP_ATTEMPTS)."""


@dataclass
class Run:
    outcomes: dict[str, RunOutcome]
    expected: dict[str, Any]
    actual: dict[str, Any]
    moved: dict[str, int]
    api_records: int
    api_served: dict[int, int] = field(default_factory=dict)

    def tasks(self, dag_id: str) -> dict[str, str]:
        return self.outcomes[dag_id].tasks


@dataclass
class Runs:
    backend: str
    settings: Settings
    wh: Any
    src: SourceReader
    first: Run
    second: Run
    failed: RunOutcome
    failed_log: str
    costs_before: dict[int, tuple[int, Any]]
    advanced: dict[str, int]
    currency_before_failure: tuple[Any, int]
    currency_after_failure: tuple[Any, int]

    def mart(self, model: str) -> str:
        return marts.relation(PIPELINE, model, self.settings.home)


def _served_api(mp: pytest.MonkeyPatch, generator, url: str, schema: dict, connection=False, **options):
    """The pipeline's currency API with ``options``, the run's variables pointing at it; the
    token in HEADWATER_SOURCE_<NAME>_TOKEN, or (``connection``) only in the Airflow connection
    headwater_source_<name>."""
    api = generator.serve(url, **schema, **options)
    services = api.__enter__()
    for name, service in services.items():
        mp.setenv(source_url_variable(PIPELINE, name), service.url)
        if connection:
            mp.delenv(source_token_variable(name), raising=False)
            conn = json.dumps({"conn_type": "http", "password": service.token})
            mp.setenv(f"AIRFLOW_CONN_HEADWATER_SOURCE_{name.upper()}", conn)
        else:
            mp.setenv(source_token_variable(name), service.token)
    return api, services


@pytest.fixture(scope="module", params=("duckdb", "postgres"))
def runs(request, tmp_path_factory) -> Iterator[Runs]:
    from headwater.warehouse import open_warehouse

    backend = request.param
    spec = discovery.load_spec(PIPELINE)
    expectations = discovery.pipeline_module(spec, "expectations")
    generator = discovery.generator(spec)
    home = tmp_path_factory.mktemp(f"e2e-pacbikes-{backend}") / "hw"
    home.mkdir()
    database = None
    if backend == "postgres":
        admin = request.getfixturevalue("pg_server")  # skips (fails in CI) without Postgres
        database = create_database(admin)
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, home, PIPELINE, spec.source.name, database and f"{admin.rsplit('/', 1)[0]}/{database}")
        try:
            url = Settings.from_env().source_url_for(spec)
            schema = {"schema": spec.source.schema} if spec.source.schema else {}
            seed = 21 if backend == "duckdb" else 22
            as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - expectations.AS_OF_LAG
            generator.generate(url, seed=seed, as_of=as_of, **expectations.GENERATE, **schema)
            src = SourceReader(url, spec.source.schema)

            def run_both(connection: bool = False, **api_options) -> Run:
                api, services = _served_api(mp, generator, url, schema, connection, **api_options)
                try:
                    settings = Settings.from_env()
                    wh = open_warehouse(settings.warehouse_url)
                    outcomes = {o.dag_id: o for o in run_pipeline_dags(settings, spec)}
                    served = dict(services["currency"].served)
                finally:
                    api.__exit__(None, None, None)
                for dag_id in (STAGING, WAREHOUSE):
                    assert outcomes[dag_id].state == "success", f"{dag_id}: {outcomes[dag_id].log}"
                mart = lambda m: marts.relation(PIPELINE, m, settings.home)  # noqa: E731
                return Run(
                    outcomes,
                    expectations.from_source(src),
                    expectations.from_marts(wh, mart),
                    moved(wh, outcomes[STAGING].run_id or ""),
                    len(generator.currency_records(url, **schema)),
                    served,
                )

            first = run_both(failure_rate=1.0, max_failures_in_a_row=2, failure_status=429)
            settings = Settings.from_env()
            wh = open_warehouse(settings.warehouse_url)
            costs_before = expectations.product_costs(src)
            advanced = generator.advance(
                url, seed=seed, as_of=as_of + expectations.ADVANCE_BY, **expectations.ADVANCE, **schema
            )

            def currency_state() -> tuple[Any, int]:
                mark = wh.watermarks(PIPELINE)["currency"].watermark
                return mark, wh.query("SELECT count(*) FROM wh.raw_pacbikes.currency")[0][0]

            before_failure = currency_state()
            mp.setenv("HEADWATER_HTTP_ATTEMPTS", str(ATTEMPTS))
            mp.setenv("HEADWATER_HTTP_BACKOFF", "0.05")
            api, _ = _served_api(
                mp, generator, url, schema, failure_rate=1.0, max_failures_in_a_row=10**9, failure_status=503
            )
            try:
                failed = run_dag(Settings.from_env(), STAGING, {"tables": ["currency"]})
            finally:
                api.__exit__(None, None, None)
            mp.delenv("HEADWATER_HTTP_ATTEMPTS")
            mp.delenv("HEADWATER_HTTP_BACKOFF")
            after_failure = currency_state()
            second = run_both(connection=True)  # the token from an Airflow connection this time
            yield Runs(
                backend,
                Settings.from_env(),
                wh,
                src,
                first,
                second,
                failed,
                failed.log.read_text(errors="replace"),
                costs_before,
                advanced,
                before_failure,
                after_failure,
            )
        finally:
            if database is not None:
                drop_database(admin, database)


def _failed_dbt(runs: Runs, run: Run) -> list:
    return runs.wh.query(
        "SELECT unique_id, status FROM wh.headwater.dbt_results "
        "WHERE run_id = ? AND status IN ('fail', 'error')",
        [run.outcomes[WAREHOUSE].run_id],
    )


def test_the_first_build_matches_the_source(runs: Runs):
    first = runs.first
    tasks = first.tasks(WAREHOUSE)
    assert tasks["first_build.dbt_core"] == "success" and tasks["regular_run.dbt_core"] == "skipped"
    assert tasks["first_build.dbt_docs"] == "success"
    assert _failed_dbt(runs, first) == []
    assert first.actual == first.expected
    assert first.expected["order_lines"] > 0 and len(first.expected["revenue_by_month"]) >= 6


def test_every_table_is_extracted_in_its_own_mapped_task_and_the_asset_is_published(runs: Runs):
    tasks = runs.first.tasks(STAGING)
    extracts = {k for k in tasks if k.startswith("extract[")}
    tables = {t.name for t in discovery.load_spec(PIPELINE).tables}
    assert extracts == {f"extract[{t}]" for t in tables} and len(tables) == 19
    assert tasks["publish_assets"] == "success"
    assert set(runs.first.moved) == tables


def test_an_api_answering_429_twice_then_serving_loads_everything(runs: Runs):
    first = runs.first
    # every request met two 429s before its page: at least one page, three answers each
    assert first.api_served[429] == 2 * first.api_served[200] >= 2
    assert first.moved["currency"] == first.api_records
    assert runs.wh.query("SELECT count(*) FROM wh.raw_pacbikes.currency")[0][0] >= first.api_records


def test_an_api_that_keeps_failing_fails_the_task_clearly_loads_nothing_and_keeps_the_watermark(runs: Runs):
    assert runs.failed.state == "failed"
    assert runs.failed.tasks["extract[currency]"] == "failed"
    assert runs.failed.tasks["publish_assets"] != "success"  # no Asset event: the warehouse waits
    assert f"HTTP 503 after {ATTEMPTS} attempts" in runs.failed_log
    assert runs.currency_after_failure == runs.currency_before_failure
    assert moved(runs.wh, runs.failed.run_id or "") == {}
    # the healthy run afterwards loads what the failed one could not
    assert runs.second.moved["currency"] > 0
    assert runs.wh.query("SELECT count(*) FROM wh.raw_pacbikes.currency")[0][0] == runs.second.api_records


def test_the_regular_run_is_incremental_skips_tables_with_nothing_new_and_matches_the_source(runs: Runs):
    second = runs.second
    tasks = second.tasks(WAREHOUSE)
    assert tasks["regular_run.dbt_core"] == "success" and tasks["first_build.dbt_core"] == "skipped"
    staging = second.tasks(STAGING)
    for table in ("person", "store", "shipmethod", "specialoffer", "shoppingcartitem"):
        assert staging[f"extract[{table}]"] == "skipped", table
    for table in ("salesorderheader", "salesorderdetail", "product", "salespersonquotahistory", "currency"):
        assert staging[f"extract[{table}]"] == "success", table
    assert second.moved["salesorderheader"] >= runs.advanced["new_orders"] > 0
    assert _failed_dbt(runs, second) == []
    assert second.actual == second.expected
    assert second.expected["order_lines"] > runs.first.expected["order_lines"]


def test_the_product_snapshot_has_two_versions_and_facts_pick_the_one_valid_at_the_order_date(runs: Runs):
    from headwater.pipelines.pacbikes import expectations

    snapshot = runs.mart("product_snapshot")
    versions = dict(runs.wh.query(f"SELECT productid, count(*) FROM {snapshot} GROUP BY 1"))
    changed = {
        p for p, (cost, _) in expectations.product_costs(runs.src).items() if cost != runs.costs_before[p][0]
    }
    assert len(changed) == runs.advanced["changed_products"] > 0
    assert {p for p, n in versions.items() if n == 2} == changed
    assert {n for p, n in versions.items() if p not in changed} == {1}
    want = expectations.expected_line_costs(runs.src, runs.costs_before)
    got = {
        (int(o), int(d)): expectations._cents(c)
        for o, d, c in runs.wh.query(
            "SELECT sales_order_id, sales_order_detail_id, standard_cost "
            f"FROM {runs.mart('fct_sales_order_line')}"
        )
    }
    assert got == want
    # both versions of a changed product are in use: old orders at the old cost, new at the new
    used = {want[k] for k in want if k in got}
    assert any(runs.costs_before[p][0] in used for p in changed)


def test_the_dashboard_shows_the_figures_computed_from_the_source(runs: Runs):
    from headwater.pipelines.pacbikes import expectations

    shown = Reader(runs.settings.warehouse_url).run(expectations.dashboard_figures)
    for figure, value in shown.items():
        assert value == runs.second.expected[figure], figure
    assert len(shown["top_customers"]) == len(shown["top_products"]) == expectations.TOP

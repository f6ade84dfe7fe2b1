"""The b2b_commerce pipeline end to end: its two DAGs run for real by Airflow, on the embedded
default (SQLite app database, Parquet lake, DuckDB warehouse) and on Postgres (source and
warehouse), with the leads workbooks and access logs in local folders.

One fixture per backend does the runs the tests read: generate; run the ingest DAG (three
parallel branches) and the dbt DAG its Asset schedules; advance the sources (new orders,
status changes, a new workbook and log file) and deliver an old log file again; run again.
Expected figures come from ``expectations.py``: SQL on the app database with its own driver,
openpyxl on the workbooks and Python's parsing of the log bytes, never the pipeline's output.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headwater import discovery
from headwater.dashboard import marts
from headwater.dashboard.db import Reader
from headwater.orchestration.local import RunOutcome
from headwater.orchestration.pipeline_run import run_pipeline_dags
from headwater.pipelines.b2b_commerce.expectations import read_log_events
from headwater.settings import Settings
from headwater.spec import PipelineSpec
from tests.e2e.support import SourceReader, moved, pipeline_home

pytestmark = pytest.mark.e2e
PIPELINE = "b2b_commerce"
INGEST, TRANSFORM = "b2b_commerce_ingest", "b2b_commerce_transform"
APP_TABLES = (
    "country_codes", "company", "suppliers", "customers", "products", "company_products",
    "supplier_products", "orders", "invoice", "order_line_item",
)  # fmt: skip


# The dbt DAG both ways (issue: the seed rendered one task per model): the step flow on the
# embedded default, one task per dbt node on Postgres (HEADWATER_DBT_RENDER).
RENDER = {"duckdb": "steps", "postgres": "per_model"}
LATER_CONF = {"run_docs": False, "run_source_tests": False, "run_source_freshness": False}
FIRST_CONF = {"duckdb": {}, "postgres": {"run_docs": False, "run_source_tests": False}}


@dataclass
class Run:
    outcomes: dict[str, RunOutcome]
    expected: dict[str, Any]
    actual: dict[str, Any]
    moved: dict[str, int]
    changed: dict[str, int]


@dataclass
class Runs:
    backend: str
    spec: PipelineSpec
    settings: Settings
    wh: Any
    src: SourceReader
    leads: Path
    logs: Path
    first: Run
    second: Run
    watermarks: dict[str, str]
    raw_after_first: dict[str, int]
    redelivered: Path
    advanced: dict[str, int]

    def raw(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.wh.query(sql.replace("RAW.", 'wh."raw_b2b_commerce".'), params or [])


def _changed(wh, run_id: str) -> dict[str, int]:
    return dict(
        wh.query(
            "SELECT table_name, sum(rows_changed) FROM wh.headwater.load_ledger WHERE run_id = ? GROUP BY 1",
            [run_id],
        )
    )


@pytest.fixture(scope="module", params=("duckdb", "postgres"))
def b2b(request, tmp_path_factory) -> Iterator[Runs]:
    from headwater.warehouse import open_warehouse

    backend = request.param
    spec = discovery.load_spec(PIPELINE)
    expectations = discovery.pipeline_module(spec, "expectations")
    generator = discovery.generator(spec)
    with (
        pytest.MonkeyPatch.context() as mp,
        pipeline_home(request, tmp_path_factory, spec, backend) as settings,
    ):
        mp.setenv("HEADWATER_DBT_RENDER", RENDER[backend])
        settings = Settings.from_env()
        url = settings.source_url_for(spec)
        others = {s.name: settings.source_url_for(spec, s.name) for s in spec.sources if s.name != "main"}
        leads, logs = Path(others["leads"]), Path(others["weblogs"])
        seed = 31 if backend == "duckdb" else 32
        as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - expectations.AS_OF_LAG
        common = {"seed": seed, "schema": spec.source.schema, "other_sources": others}
        generator.generate(url, as_of=as_of, **common, **expectations.GENERATE)
        src = SourceReader(url, spec.source.schema)
        wh = open_warehouse(settings.warehouse_url)

        def run(conf: dict[str, Any]) -> Run:
            outcomes = {o.dag_id: o for o in run_pipeline_dags(settings, spec, conf)}
            for o in outcomes.values():
                assert o.state == "success", f"{o.dag_id} failed; log: {o.log}\n{o.tasks}"
            mart = lambda m: marts.relation(PIPELINE, m, settings.home)  # noqa: E731
            actual = Reader(settings.warehouse_url).run(lambda con: expectations.from_marts(con, mart))
            run_id = outcomes[INGEST].run_id or ""
            return Run(
                outcomes,
                expectations.from_source(src, leads, logs),
                actual,
                moved(wh, run_id),
                _changed(wh, run_id),
            )

        # Every step once (on the embedded default); otherwise test_all, which runs the source
        # tests too, and no docs (CI time).
        first = run(FIRST_CONF[backend])
        watermarks = {t: s.watermark for t, s in wh.watermarks(PIPELINE).items()}
        raw_after_first = {
            t: wh.query(f'SELECT count(*) FROM wh."raw_b2b_commerce"."{t}"')[0][0]
            for t in ("leads", "access_log")
        }
        advanced = generator.advance(
            url, as_of=as_of + expectations.ADVANCE_BY, **common, **expectations.ADVANCE
        )
        # The first delivery's log comes again, unchanged but rewritten (a re-sent file).
        redelivered = sorted(logs.glob("access_*.log"))[0]
        redelivered.write_bytes(redelivered.read_bytes())
        stat = redelivered.stat()
        os.utime(redelivered, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = run(LATER_CONF)
        yield Runs(
            backend, spec, settings, wh, src, leads, logs, first, second, watermarks, raw_after_first,
            redelivered, advanced,
        )  # fmt: skip


FIGURES = (
    "paying orders and revenue by channel",
    "top 10 products by revenue",
    "top 10 login countries",
    "revenue by month, last 12 months",
)


def test_the_ingest_runs_three_branches_and_its_asset_starts_the_dbt_dag(b2b: Runs):
    ingest, transform = b2b.first.outcomes[INGEST].tasks, b2b.first.outcomes[TRANSFORM].tasks
    assert list(b2b.first.outcomes) == [INGEST, TRANSFORM]
    for group in ("ingest_main", "ingest_leads", "ingest_weblogs"):
        assert ingest[f"{group}.plan"] == "success", group
    assert ingest["publish_assets"] == "success"
    off = FIRST_CONF[b2b.backend]
    if RENDER[b2b.backend] == "steps":
        for step in b2b.spec.dbt_steps:
            assert transform[f"dbt_{step}"] == ("skipped" if f"run_{step}" in off else "success"), step
    else:  # one task per dbt node; steps that build no node (freshness, docs) stay steps
        nodes = {t: state for t, state in transform.items() if t.startswith("nodes.")}
        assert not {f"dbt_{s}" for s in ("staging", "core", "test_all")} & set(transform)
        for model in ("stg_b2b__orders", "fct_sales", "fct_leads", "fct_user_journey"):
            assert nodes[f"nodes.dbt_{model}"] == "success", model
        assert set(nodes.values()) <= {"success", "skipped"}
        assert transform["dbt_source_freshness"] == "success"
    if "run_docs" not in off:
        assert (b2b.settings.home / "dbt" / PIPELINE / "target" / "index.html").exists()
    run_ids = [o.run_id for o in b2b.first.outcomes.values()]
    failures = b2b.wh.query(
        "SELECT count(*) FROM wh.headwater.dbt_results "
        "WHERE run_id IN (?, ?) AND status IN ('fail', 'error')",
        run_ids,
    )
    assert failures == [(0,)]


@pytest.mark.parametrize("figure", FIGURES)
def test_the_four_answers_match_the_sources_after_each_run(b2b: Runs, figure):
    for run in (b2b.first, b2b.second):
        assert run.expected[figure], f"{figure}: nothing to compare"
        assert run.actual[figure] == run.expected[figure], figure


def test_revenue_by_month_is_the_twelve_months_up_to_the_latest_order(b2b: Runs):
    months = [m for m, _ in b2b.first.actual["revenue by month, last 12 months"]]
    (latest,) = b2b.src.rows("SELECT max(created_at) FROM orders")[0]
    assert len(months) == 12 and months[-1] == str(latest)[:7]


def test_every_request_is_attributed_to_its_user_product_and_country(b2b: Runs):
    for run in (b2b.first, b2b.second):
        expected, actual = run.expected["journey"], run.actual["journey"]
        assert set(actual) == set(expected), "one journey row per well-formed IPv4 log line"
        wrong = {k: (expected[k], actual[k]) for k in expected if actual[k] != expected[k]}
        assert not wrong, list(wrong.items())[:5]
    events = b2b.second.expected["journey"].values()
    kinds = {e[2] for e in events}
    assert {"login", "product_view", "cart", "checkout"} <= kinds
    unplaced = sum(e[4] is None for e in events)
    assert unplaced, "some requests come from no country's range"
    # ... and the warning test lists each of them (by file and line)
    warned = b2b.wh.query(
        "SELECT status, failures FROM wh.headwater.dbt_results WHERE run_id = ? "
        "AND unique_id LIKE 'test.b2b_commerce.assert_requests_outside_every_country_range%'",
        [b2b.second.outcomes[TRANSFORM].run_id],
    )
    assert warned == [("warn", unplaced)]
    assert any(e[1] is None for e in events), "some requests are anonymous"


def test_bad_log_lines_are_quarantined_with_file_and_line_and_nothing_else_is_lost(b2b: Runs):
    good = set(b2b.second.expected["journey"])
    all_lines = {
        (str(f), n) for f in b2b.logs.glob("access_*.log") for n in range(1, len(f.read_bytes().split(b"\n")))
    }
    bad = all_lines - good
    assert bad, "the generator writes a few malformed lines and IPv6 requests"
    quarantined = b2b.wh.query(
        "SELECT source_file, source_line, reason FROM wh.headwater.quarantine "
        "WHERE pipeline = ? AND table_name = 'access_log'",
        [PIPELINE],
    )
    assert {(f, int(n)) for f, n, _ in quarantined} == bad
    assert len(quarantined) == len(bad), "a line read again is not quarantined twice"
    reasons = {r.split(":")[0] for *_, r in quarantined}
    assert reasons <= {"line is not in the combined log format", "column ip", "line is not valid UTF-8"}
    assert any(r.startswith("column ip: 2001:db8:") for *_, r in quarantined), "IPv6 is quarantined"
    loaded = b2b.raw('SELECT count(*) FROM RAW."access_log"')[0][0]
    assert loaded == len(good)


def test_the_second_run_moves_only_new_and_changed_rows(b2b: Runs):
    moved, changed = b2b.second.moved, b2b.second.changed
    for table in APP_TABLES:
        mark = datetime.fromisoformat(b2b.watermarks[table])
        at_or_after, after = b2b.src.rows(
            f'SELECT count(*), count(*) FILTER (WHERE updated_at > ?) FROM "{table}" WHERE updated_at >= ?',
            (mark, mark),
        )[0]
        assert moved.get(table, 0) == (at_or_after if after else 0), (table, mark, at_or_after, after)
    assert changed["orders"] == b2b.advanced["new_orders"] + b2b.advanced["updated_orders"]
    assert changed["order_line_item"] == b2b.advanced["new_order_line_items"]
    assert changed["invoice"] == b2b.advanced["new_invoices"]
    # leads: every workbook is read (full mode), only the new workbook's leads change anything
    assert changed["leads"] == b2b.advanced["leads"]
    # logs: only the new file's lines change anything, though the first file was delivered
    # again; the extract re-reads the lines at the watermark (they change nothing)
    new_lines = [k for k in b2b.second.expected["journey"] if k not in b2b.first.expected["journey"]]
    assert changed["access_log"] == len(new_lines) > 0
    mark = datetime.fromisoformat(b2b.watermarks["access_log"])
    at_or_after = [k for k, e in read_log_events(b2b.logs).items() if e["time"] >= mark]
    assert moved["access_log"] == len(at_or_after)
    assert {f for f, _ in new_lines} == {str(max(b2b.logs.glob("access_*.log")))}


def test_a_file_delivered_again_adds_nothing(b2b: Runs):
    first_file = b2b.raw(
        'SELECT count(*) FROM RAW."access_log" WHERE "_source_file" = ?', [str(b2b.redelivered)]
    )
    first_good = [k for k in b2b.first.expected["journey"] if k[0] == str(b2b.redelivered)]
    assert first_file[0][0] == len(first_good)
    leads = b2b.raw('SELECT count(*), count(DISTINCT lead_id) FROM RAW."leads"')[0]
    assert leads[0] == leads[1] == b2b.raw_after_first["leads"] + b2b.advanced["leads"]


def test_the_answers_changed_as_the_sources_did(b2b: Runs):
    before, after = b2b.first.actual, b2b.second.actual
    assert after["revenue by month, last 12 months"] != before["revenue by month, last 12 months"]
    assert len(after["journey"]) > len(before["journey"])
    # fct_sales follows status changes: lines of orders approved or cancelled by the advance
    statuses = dict(b2b.src.rows("SELECT order_id, payment_status FROM orders"))
    mart = marts.relation(PIPELINE, "fct_sales", b2b.settings.home)
    rows = b2b.wh.query(f"SELECT DISTINCT order_id, payment_status FROM {mart}")
    assert dict(rows) == statuses

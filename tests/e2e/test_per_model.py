"""``transform.render: per_model`` for real: one Airflow task per dbt node, run by Airflow.

The pipeline is a copy of examples/pipelines/tiny_shop in a temporary folder, rendered per
model, with what the example lacks to show the rules: a snapshot, a relationships test
between two sibling models (a task of its own), one from the mart to a model before it (it
goes with the mart) and ``probe_flaky``, a model that fails on every odd attempt (it counts
its attempts in a table, outside dbt's transaction). Retries are immediate (0 minutes).

DuckDB: generate, run (the flaky model fails, its retry builds it), advance, run with no
retries (it fails: report_run and Slack). Postgres: one run with the test step switched off.
Expected figures come from the SQLite source, read with sqlite3.
"""

from __future__ import annotations

import shutil
import sqlite3
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from headwater import discovery
from headwater.dbt_nodes import node_plan
from headwater.orchestration.local import airflow_environ, run_dag
from headwater.orchestration.pipeline_run import run_pipeline_dags
from headwater.settings import Settings
from headwater.spec import load_spec_from
from headwater.warehouse import open_warehouse
from tests.e2e.support import create_database, drop_database
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "tiny_shop"
FLAKY = "nodes.dbt_probe_flaky"
SIBLING_TEST = "nodes.dbt_test_relationships_stg_orders_customer_id__customer_id__ref_stg_customers_"

EXTRA_FILES = {
    "snapshots/orders_snapshot.yml": """
        snapshots:
          - name: orders_snapshot
            relation: source('shop', 'orders')
            config: {schema: snapshots, unique_key: order_id, strategy: timestamp, updated_at: updated_at}
    """,
    "models/staging/_staging.yml": """
        version: 2
        models:
          - name: stg_orders
            columns:
              - name: customer_id
                data_tests:
                  - relationships: {arguments: {to: ref('stg_customers'), field: customer_id}}
    """,
    "models/marts/_marts.yml": """
        version: 2
        models:
          - name: fct_customer_orders
            columns:
              - name: customer_id
                data_tests:
                  - unique
                  - not_null
                  - relationships: {arguments: {to: ref('stg_customers'), field: customer_id}}
    """,
    # Fails while its attempt count is odd: the attempts are written by hooks outside the
    # model's transaction, so a failed attempt still counts.
    "models/marts/probe_flaky.sql": """
        {{ config(
            materialized='table',
            pre_hook=[
                {'sql': 'create table if not exists {{ this.schema }}.flaky_attempts (n integer)',
                 'transaction': false},
                {'sql': 'insert into {{ this.schema }}.flaky_attempts values (1)', 'transaction': false},
            ],
        ) }}
        select cast(
            case when (select count(*) from {{ this.schema }}.flaky_attempts) % 2 = 1 then 'odd attempt'
            else '1' end as integer
        ) as ok
    """,
}


def _pipeline(root: Path) -> Path:
    folder = root / "tiny_shop"
    shutil.copytree(EXAMPLE, folder)
    spec = (folder / "pipeline.yaml").read_text()
    spec = spec.replace("retries: 1", "retries: 1\nretry_delay_minutes: 0")
    spec = spec.replace(
        "steps: [staging, core, test_all]", "steps: [staging, snapshot, core, test_all]\n  render: per_model"
    )
    (folder / "pipeline.yaml").write_text(spec)
    for name, text in EXTRA_FILES.items():
        path = folder / "dbt" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return folder


def _expected(source: str) -> dict[int, tuple[str, int, Decimal]]:
    """customer -> (name, orders, amount), from the source with sqlite3."""
    con = sqlite3.connect(source.removeprefix("sqlite:///"))
    try:
        out = {
            cid: [name, 0, Decimal(0)] for cid, name in con.execute("SELECT customer_id, name FROM customers")
        }
        for cid, amount in con.execute("SELECT customer_id, CAST(amount AS TEXT) FROM orders"):
            out[cid][1] += 1
            out[cid][2] += Decimal(amount)
        return {cid: (v[0], v[1], v[2]) for cid, v in out.items()}
    finally:
        con.close()


def _marts(wh: Any) -> dict[int, tuple[str, int, Decimal]]:
    rows = wh.query("SELECT customer_id, name, orders, amount FROM wh.tiny_shop_core.fct_customer_orders")
    return {
        cid: (name, int(n), Decimal(str(amount)).quantize(Decimal("0.01"))) for cid, name, n, amount in rows
    }


def _tries(settings: Settings, run_id: str) -> dict[str, int]:
    """Task id -> try number of one DAG run, from Airflow's metadata database."""
    db = airflow_environ(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    con = sqlite3.connect(db)
    try:
        return dict(
            con.execute(
                "SELECT task_id, try_number FROM task_instance WHERE run_id = ? AND map_index = -1", [run_id]
            ).fetchall()
        )
    finally:
        con.close()


def _run(
    home: Path, pipelines: Path, warehouse_url: str | None, env: dict[str, str] | None = None
) -> Iterator[Any]:
    """Environment for one backend's runs (module-scoped monkeypatching)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HEADWATER_HOME", str(home))
    mp.setenv("HEADWATER_PIPELINE_PATHS", str(pipelines))
    for var in (
        "HEADWATER_WAREHOUSE_URL",
        "HEADWATER_LAKE_URL",
        "HEADWATER_DBT_TARGET",
        "AIRFLOW_HOME",
        "HEADWATER_RETRIES",
        "AIRFLOW_CONN_HEADWATER_SLACK",
        "HEADWATER_SLACK_WEBHOOK_URL",
    ):
        mp.delenv(var, raising=False)
    if warehouse_url:
        mp.setenv("HEADWATER_WAREHOUSE_URL", warehouse_url)
    return mp


@pytest.fixture(scope="module")
def duck(tmp_path_factory) -> Iterator[dict[str, Any]]:
    """Two per-model runs on DuckDB: a first build (with one retried model), then, after the
    source advanced, an incremental run whose flaky model fails with no retry left."""
    root = tmp_path_factory.mktemp("per_model_duck")
    home = root / "hw"
    home.mkdir()
    folder = _pipeline(root / "pipelines")
    mp = _run(home, root / "pipelines", None)
    try:
        settings = Settings.from_env()
        spec = load_spec_from(folder)
        generator = discovery.generator(spec)
        url = spec.source_url(settings.home)
        as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
        generator.generate(url, scale=1, seed=5, as_of=as_of)
        wh = open_warehouse(settings.warehouse_url)
        out: dict[str, Any] = {"settings": settings, "spec": spec, "wh": wh}
        node_plan(spec, settings)  # as headwater run and ui do before Airflow parses the DAG
        first = run_dag(settings, spec.name, retries=1)
        out.update(
            first=first,
            first_tries=_tries(settings, first.run_id),
            first_expected=_expected(url),
            first_marts=_marts(wh),
            first_attempts=wh.query("SELECT count(*) FROM wh.tiny_shop_core.flaky_attempts")[0][0],
            first_snapshot=wh.query("SELECT count(*) FROM wh.tiny_shop_snapshots.orders_snapshot")[0][0],
            orders_before=len(
                sqlite3.connect(url.removeprefix("sqlite:///")).execute("SELECT 1 FROM orders").fetchall()
            ),
        )
        generator.advance(url, seed=6, as_of=as_of + timedelta(hours=1))
        mp.setenv("HEADWATER_RETRIES", "0")
        with SlackReceiver() as slack:
            mp.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
            (second,) = run_pipeline_dags(Settings.from_env(), spec)
        out.update(second=second, posts=slack.posts, second_expected=_expected(url), second_marts=_marts(wh))
        yield out
    finally:
        mp.undo()


def test_every_node_is_a_task_and_the_first_build_matches_the_source(duck):
    first = duck["first"]
    assert first.state == "success", f"log: {first.log}\n{first.tasks}"
    nodes = sorted(t for t in first.tasks if t.startswith("nodes."))
    assert nodes == sorted(
        [
            "nodes.dbt_stg_customers",
            "nodes.dbt_stg_orders",
            "nodes.dbt_orders_snapshot",
            "nodes.dbt_fct_customer_orders",
            FLAKY,
            SIBLING_TEST,
        ]
    )
    assert all(first.tasks[t] == "success" for t in nodes)
    assert duck["first_marts"] == duck["first_expected"]
    assert duck["first_snapshot"] == duck["orders_before"]


def test_the_ledger_has_every_node_and_test_under_its_task(duck):
    wh, run_id = duck["wh"], duck["first"].run_id
    rows = wh.query(
        "SELECT step, resource_type, status, count(*) FROM wh.headwater.dbt_results "
        "WHERE run_id = ? GROUP BY ALL",
        [run_id],
    )
    got = {(step, kind): (status, n) for step, kind, status, n in rows}
    assert got[("dbt_fct_customer_orders", "model")] == ("success", 1)
    # unique, not_null and the relationships test to stg_customers, which is built before it
    assert got[("dbt_fct_customer_orders", "test")] == ("pass", 3)
    assert got[("dbt_orders_snapshot", "snapshot")] == ("success", 1)
    assert got[(SIBLING_TEST.removeprefix("nodes."), "test")] == ("pass", 1)
    assert got[("dbt_probe_flaky", "model")] == ("success", 1), "the retry's result replaced the failure's"
    runs = wh.query(
        "SELECT outcome, dbt_models_ok, dbt_tests_passed FROM wh.headwater.runs WHERE run_id = ?", [run_id]
    )
    assert runs == [("success", 4, 4)]


def test_a_retry_reruns_only_the_failed_model(duck):
    tries = duck["first_tries"]
    assert tries[FLAKY] == 2, "failed once, then its retry built it"
    assert duck["first_attempts"] == 2, "the model itself ran twice"
    others = {t: n for t, n in tries.items() if t != FLAKY}
    assert others and set(others.values()) == {1}, others


def test_an_incremental_run_follows_the_source_and_a_failed_model_alerts(duck):
    second = duck["second"]
    assert second.state == "failed"
    failed = sorted(t for t, s in second.tasks.items() if s == "failed")
    assert failed == [FLAKY, "report_run"], second.tasks
    assert all(s == "success" for t, s in second.tasks.items() if t.startswith("nodes.") and t != FLAKY)
    assert duck["second_marts"] == duck["second_expected"] != duck["first_expected"]
    assert len(duck["posts"]) == 1, "one Slack message for the run"
    text = str(duck["posts"][0]["json"])
    assert "tiny_shop" in text and "dbt_probe_flaky" in text and second.run_id in text
    wh = duck["wh"]
    assert wh.query("SELECT outcome FROM wh.headwater.runs WHERE run_id = ?", [second.run_id]) == [
        ("failed",)
    ]
    failing = wh.query(
        "SELECT unique_id, status FROM wh.headwater.dbt_results "
        "WHERE run_id = ? AND step = 'dbt_probe_flaky'",
        [second.run_id],
    )
    assert failing == [("model.tiny_shop.probe_flaky", "error")]


def test_the_serialized_dag_holds_no_secret(duck, monkeypatch):
    """Serialized as Airflow stores it (the scheduler and UI read this), with a password in the
    warehouse URL: node tasks are there, the password is not."""
    from airflow.serialization.serialized_objects import DagSerialization

    from headwater.orchestration.dag import build_dag

    password = "Pw-never-serialized-7421"
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", f"postgresql://loader:{password}@127.0.0.1:1/warehouse")
    dag = build_dag(duck["spec"])
    assert FLAKY in dag.task_dict
    text = str(DagSerialization.to_dict(dag))
    assert FLAKY in text and password not in text


@pytest.fixture(scope="module")
def postgres(tmp_path_factory, pg_server) -> Iterator[dict[str, Any]]:
    """One per-model run on Postgres with the test step switched off."""
    root = tmp_path_factory.mktemp("per_model_pg")
    home = root / "hw"
    home.mkdir()
    folder = _pipeline(root / "pipelines")
    name = create_database(pg_server)
    mp = _run(home, root / "pipelines", f"{pg_server.rsplit('/', 1)[0]}/{name}")
    try:
        settings = Settings.from_env()
        spec = load_spec_from(folder)
        url = spec.source_url(settings.home)
        discovery.generator(spec).generate(url, scale=1, seed=9)
        wh = open_warehouse(settings.warehouse_url)
        node_plan(spec, settings)
        run = run_dag(settings, spec.name, {"run_test_all": False}, retries=1)
        yield {
            "run": run,
            "tries": _tries(settings, run.run_id),
            "expected": _expected(url),
            "marts": _marts(wh),
            "ledger": wh.query(
                "SELECT resource_type, count(*) FROM wh.headwater.dbt_results WHERE run_id = ? GROUP BY 1",
                [run.run_id],
            ),
        }
    finally:
        mp.undo()
        drop_database(pg_server, name)


def test_postgres_per_model_run_with_the_tests_switched_off(postgres):
    run = postgres["run"]
    assert run.state == "success", f"log: {run.log}\n{run.tasks}"
    assert postgres["marts"] == postgres["expected"]
    assert run.tasks[SIBLING_TEST] == "skipped", "its only step (test_all) was switched off"
    assert dict(postgres["ledger"]) == {"model": 4, "snapshot": 1}, "no test ran"
    assert postgres["tries"][FLAKY] == 2 and {n for t, n in postgres["tries"].items() if t != FLAKY} == {1}

"""Every DAG file imports cleanly, fast, and touches no database while parsing."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from tests.unit.test_dag_shapes_spec import BASE

DAGS = sorted((Path(__file__).parents[1] / "dags").glob("*.py"))

# Parse each DAG file in a fresh interpreter whose database drivers explode on use, so any
# connection attempt at parse time (Airflow metadata, warehouse, source) fails the test.
PROBE = r"""
import importlib.util, sys, time, sqlite3, socket
def forbidden(*a, **k):
    raise AssertionError("database or network access while parsing a DAG file")
sqlite3.connect = forbidden
socket.socket.connect = forbidden
import duckdb, psycopg
duckdb.connect = forbidden
psycopg.connect = forbidden
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.sdk import DAG
dags = [v for v in vars(module).values() if isinstance(v, DAG)]
for dag in dags:
    print(dag.dag_id, len(dag.tasks), round(time.perf_counter() - started, 3))
"""


def _parse_in_probe(path: Path, tmp_path: Path) -> dict[str, int]:
    """{dag id: task count} of a DAG file parsed with every database and socket forbidden."""
    env = {"AIRFLOW_HOME": str(tmp_path), "HEADWATER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line.split() for line in proc.stdout.strip().splitlines()]
    return {dag_id: int(n) for dag_id, n, _seconds in (line[-3:] for line in lines)}


@pytest.mark.parametrize("path", DAGS, ids=lambda p: p.name)
def test_dag_file_imports_without_touching_any_database(path, tmp_path):
    text = path.read_text().lower()
    assert "airflow" in text and "dag" in text, "safe-mode DAG discovery skips files without 'airflow'"
    dags = _parse_in_probe(path, tmp_path)
    assert sorted(dags) == sorted(_dag_ids_of(path.stem)) and all(n > 0 for n in dags.values())


def _dag_ids_of(stem: str) -> list[str]:
    """A pipeline's file builds the DAGs of its spec (one, or its ``dags:``); others one DAG."""
    from headwater.spec import available_pipelines, load_spec

    if stem in available_pipelines():
        return [shape.dag_id for shape in load_spec(stem).dags_in_order()]
    return [stem]


SHAPED_DAG_FILE = '''"""Airflow DAGs of a pipeline whose spec lives in a folder of its own."""
from pathlib import Path

from headwater.orchestration import build_dags
from headwater.spec import load_spec_from

globals().update(build_dags(load_spec_from(Path({folder!r}))))
'''


def test_a_shaped_pipeline_parses_into_all_its_dags_without_touching_any_database(tmp_path):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    dag_file = tmp_path / "shop.py"
    dag_file.write_text(SHAPED_DAG_FILE.format(folder=str(folder)))
    dags = _parse_in_probe(dag_file, tmp_path)
    assert set(dags) == {"shop_ingest", "shop_warehouse"} and min(dags.values()) > 0


def _shop_dags():
    from headwater.orchestration import build_dags
    from headwater.spec import parse_spec

    return build_dags(parse_spec(copy.deepcopy(BASE)))


def test_ingest_by_source_makes_one_parallel_group_per_source_and_updates_the_asset():
    dag = _shop_dags()["shop_ingest"]
    groups = {k for k, v in dag.task_group.children.items() if hasattr(v, "children")}
    assert groups == {"ingest_app", "ingest_crm"}
    # Each group loads its own tables by dependency level; the groups do not wait for each other.
    assert dag.get_task("ingest_app.load_1").downstream_task_ids == {"ingest_app.batches_2"}
    assert dag.get_task("ingest_crm.plan").upstream_task_ids == set()
    publish = dag.get_task("publish_assets")
    assert publish.upstream_task_ids == {"ingest_app.load_2", "ingest_crm.load"}
    assert [(a.name, a.uri) for a in publish.outlets] == [("shop.raw", "headwater://shop/raw")]
    assert publish.trigger_rule == "none_failed"
    assert set(dag.params.keys()) == {"full_refresh", "tables"}


def test_the_transform_dag_is_scheduled_by_the_asset_and_branches_on_first_build():
    dag = _shop_dags()["shop_warehouse"]
    assets = list(dag.timetable.asset_condition.objects)
    assert [a.name for a in assets] == ["shop.raw"], "scheduled by the ingest DAG's Asset, not a trigger"
    branch = dag.get_task("first_build_or_regular")
    assert branch.downstream_task_ids == {"first_build.dbt_seed", "regular_run.dbt_bronze"}
    first = ["first_build.dbt_seed", "first_build.dbt_bronze", "first_build.dbt_silver"]
    regular = ["regular_run.dbt_bronze", "regular_run.dbt_silver", "regular_run.dbt_test_all"]
    for path in (first, regular):
        for before, after in zip(path, path[1:], strict=False):
            assert dag.get_task(before).downstream_task_ids == {after}
    assert dag.get_task("report_run").upstream_task_ids == {first[-1], regular[-1]}
    assert set(dag.params.keys()) == {
        "full_refresh",
        "force_transform",
        *(f"run_{s}" for s in ("seed", "bronze", "silver", "test_all")),
    }


def test_travel_bookings_dag_has_the_seed_flow_in_order():
    from headwater.orchestration import build_dag

    dag = build_dag("travel_bookings")
    steps = [
        "dbt_seed",
        "dbt_source_freshness",
        "dbt_source_tests",
        "dbt_staging",
        "dbt_snapshot",
        "dbt_core",
        "dbt_test_all",
        "dbt_docs",
    ]
    for before, after in zip(steps, steps[1:], strict=False):
        assert after in dag.get_task(before).downstream_task_ids
    # its tables have deletes: detect, so the key-set check sits between the loads and dbt
    assert dag.get_task("load").downstream_task_ids == {"detect_deletes"}
    assert "dbt_seed" in dag.get_task("detect_deletes").downstream_task_ids
    assert dag.get_task("detect_deletes").trigger_rule == "none_failed"
    run_params = {f"run_{s.removeprefix('dbt_')}" for s in steps}
    assert run_params | {"full_refresh", "force_transform", "tables"} == set(dag.params.keys())
    assert dag.max_active_runs == 1
    assert dag.get_task("load").pool == "headwater_duckdb"
    assert dag.get_task("dbt_seed").trigger_rule == "none_failed"


@pytest.mark.parametrize("pipeline", ["travel_bookings", "flights", "shop_ingest", "shop_warehouse"])
def test_report_run_is_the_only_leaf_and_always_runs(pipeline):
    from headwater.orchestration import build_dag

    dag = _shop_dags()[pipeline] if pipeline.startswith("shop") else build_dag(pipeline)
    leaves = [t.task_id for t in dag.tasks if not t.downstream_list]
    assert leaves == ["report_run"]
    report = dag.get_task("report_run")
    assert report.trigger_rule == "all_done" and report.retries == 0
    assert not report.on_failure_callback, "its own failure must not be recorded as a task failure"
    others = [t for t in dag.tasks if t.task_id != "report_run"]
    assert all(t.on_failure_callback for t in others), "every other task records its failure"


def test_queues_route_dbt_and_loads_apart_and_the_deployment_wins_over_the_spec(monkeypatch):
    import dataclasses

    from headwater.orchestration import build_dag
    from headwater.spec import load_spec

    spec = dataclasses.replace(load_spec("pacbikes"), queues={"load": "spec_load"})
    monkeypatch.delenv("HEADWATER_QUEUE_LOAD", raising=False)
    monkeypatch.setenv("HEADWATER_QUEUE_TRANSFORM", "deploy_dbt")
    dags = {d.dag_id: d for d in (build_dag(spec, s.dag_id) for s in spec.dags)}
    queues = {t.task_id: t.queue for d in dags.values() for t in d.tasks}
    assert queues["plan"] == queues["load"] == queues["report_run"] == "spec_load"
    dbt = {k: v for k, v in queues.items() if k.rsplit(".", 1)[-1].startswith("dbt_")}
    assert dbt and set(dbt.values()) == {"deploy_dbt"}
    assert queues["first_build_or_regular"] == "deploy_dbt"
    monkeypatch.delenv("HEADWATER_QUEUE_TRANSFORM")
    plain = build_dag("travel_bookings")
    assert {t.queue for t in plain.tasks} == {"default"}  # no queue set: Airflow's default


def test_every_pool_a_dag_names_is_provisioned_from_the_pools_file():
    import json

    from headwater.orchestration.dag import WAREHOUSE_POOLS
    from headwater.orchestration.local import POOLS_FILE

    pools = json.loads(POOLS_FILE.read_text())
    assert set(WAREHOUSE_POOLS.values()) <= set(pools)
    assert pools["headwater_duckdb"]["slots"] == 1  # DuckDB: one writing process

"""Per-model rendering: the node plan derived from a dbt manifest, and the spec option.

The manifest here is a small hand-written one shaped like dbt's (only the fields the plan
reads), so each rule is visible: seeds, snapshots and models get a task each, single-parent
tests go with their node, a test whose parent follows the other parent goes with the later
one, a test of two independent nodes gets its own task, tests of a source only get a task
per source table, and step selectors decide which nodes are rendered and by which steps.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headwater.dbt_nodes import plan_from_manifest
from headwater.errors import SpecError
from headwater.shapes import PRESETS, DbtStep
from headwater.spec import parse_spec

P = "shop"


def _node(kind: str, name: str, parents: list[str] = (), tags: list[str] = (), path: str = "") -> dict:
    return {
        "resource_type": kind,
        "name": name,
        "package_name": P,
        "fqn": [P, *([path.split("/")[1]] if "/" in path else []), name],
        "tags": list(tags),
        "original_file_path": path or f"{kind}s/{name}.sql",
        "depends_on": {"nodes": list(parents)},
        "config": {"materialized": "view"},
    }


SRC = "source.shop.app.orders"
MANIFEST: dict[str, Any] = {
    "metadata": {"project_name": P},
    "sources": {
        SRC: {
            "resource_type": "source",
            "name": "orders",
            "source_name": "app",
            "package_name": P,
            "fqn": [P, "app", "orders"],
            "depends_on": {"nodes": []},
        },
    },
    "nodes": {
        "seed.shop.countries": _node("seed", "countries"),
        "model.shop.stg_orders": _node(
            "model", "stg_orders", [SRC], ["staging"], "models/staging/stg_orders.sql"
        ),
        "model.shop.stg_countries": _node(
            "model", "stg_countries", ["seed.shop.countries"], ["staging"], "models/staging/stg_countries.sql"
        ),
        "snapshot.shop.orders_snapshot": _node("snapshot", "orders_snapshot", ["model.shop.stg_orders"]),
        "model.shop.fct_orders": _node(
            "model",
            "fct_orders",
            ["model.shop.stg_orders", "model.shop.stg_countries"],
            ["core"],
            "models/marts/fct_orders.sql",
        ),
        "test.shop.unique_fct_orders_id": _node("test", "unique_fct_orders_id", ["model.shop.fct_orders"]),
        # the fact follows stg_orders: the test goes with the fact
        "test.shop.relationships_fct_stg": _node(
            "test", "relationships_fct_stg", ["model.shop.fct_orders", "model.shop.stg_orders"]
        ),
        # two nodes neither of which follows the other: a task of its own
        "test.shop.relationships_snap_countries": _node(
            "test",
            "relationships_snap_countries",
            ["snapshot.shop.orders_snapshot", "model.shop.stg_countries"],
        ),
        "test.shop.not_null_orders_id": _node("test", "not_null_orders_id", [SRC]),
        # another package's node is never rendered
        "model.other.thing": {**_node("model", "thing"), "package_name": "other"},
    },
    "unit_tests": {
        "unit_test.shop.fct_orders.totals": {
            "name": "totals",
            "package_name": P,
            "fqn": [P, "marts", "fct_orders", "totals"],
            "depends_on": {"nodes": ["model.shop.fct_orders"]},
        },
    },
}
STANDARD = PRESETS["standard"]


def _by_id(tasks):
    return {t.task_id: t for t in tasks}


def test_standard_steps_render_every_node_with_its_tests_and_the_manifest_dependencies():
    tasks = _by_id(plan_from_manifest(MANIFEST, STANDARD))
    assert set(tasks) == {
        "dbt_countries",
        "dbt_stg_orders",
        "dbt_stg_countries",
        "dbt_orders_snapshot",
        "dbt_fct_orders",
        "dbt_test_relationships_snap_countries",
        "dbt_source_app_orders",
    }
    fact = tasks["dbt_fct_orders"]
    assert [m[0] for m in fact.members] == [
        "fqn:shop.marts.fct_orders,resource_type:model",
        "fqn:shop.unique_fct_orders_id,resource_type:test",
        "fqn:shop.relationships_fct_stg,resource_type:test",
        "fqn:shop.marts.fct_orders.totals,resource_type:unit_test",
    ]
    assert dict(fact.members)["fqn:shop.marts.fct_orders,resource_type:model"] == ("core",)
    assert dict(fact.members)["fqn:shop.unique_fct_orders_id,resource_type:test"] == ("test_all",)
    assert fact.late == ("fqn:shop.marts.fct_orders.totals,resource_type:unit_test",), (
        "unit tests run after their model"
    )
    assert fact.upstream == ("dbt_stg_countries", "dbt_stg_orders")
    # the source's tests run before the models reading it, as in dbt build
    assert tasks["dbt_stg_orders"].upstream == ("dbt_source_app_orders",)
    assert dict(tasks["dbt_source_app_orders"].members) == {
        "fqn:shop.not_null_orders_id,resource_type:test": ("source_tests", "test_all")
    }
    assert tasks["dbt_test_relationships_snap_countries"].upstream == (
        "dbt_orders_snapshot",
        "dbt_stg_countries",
    )
    order = [t.task_id for t in plan_from_manifest(MANIFEST, STANDARD)]
    for t in tasks.values():
        assert all(order.index(u) < order.index(t.task_id) for u in t.upstream), "build order"


def test_step_selectors_decide_what_is_rendered_and_which_switch_runs_it():
    steps = (
        DbtStep("staging", ("run",), select=("tag:staging",)),
        DbtStep("marts", ("build",), select=("path:models/marts",), exclude=("unique_fct_orders_id",)),
    )
    tasks = _by_id(plan_from_manifest(MANIFEST, steps))
    assert set(tasks) == {"dbt_stg_orders", "dbt_stg_countries", "dbt_fct_orders"}
    # stg_orders waits for no source task (no step selects the source's tests) and the seed
    # is not rendered, so stg_countries starts at once
    assert tasks["dbt_stg_countries"].upstream == ()
    members = dict(tasks["dbt_fct_orders"].members)
    assert "fqn:shop.unique_fct_orders_id,resource_type:test" not in members, "excluded by name"
    assert members["fqn:shop.marts.fct_orders,resource_type:model"] == ("marts",)
    assert tasks["dbt_fct_orders"].selectors({"staging"}) == []
    assert tasks["dbt_fct_orders"].selectors({"marts"})[0] == "fqn:shop.marts.fct_orders,resource_type:model"


def _spec(**transform: Any) -> dict[str, Any]:
    return {
        "name": "shop",
        "source": {"kind": "sql", "url": "sqlite:///x.db"},
        "tables": [{"name": "orders", "primary_key": "id"}],
        "transform": {"dbt_project": "dbt", **transform},
    }


def test_render_defaults_to_steps_and_accepts_per_model():
    assert parse_spec(_spec()).dbt_render == "steps"
    assert parse_spec(_spec(render="per_model")).dbt_render == "per_model"


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ({"render": "per_node"}, "render: 'per_node' is not one of"),
        ({"render": "per_model", "steps": ["source_freshness", "docs"]}, "per_model needs a step running"),
        (
            {"render": "per_model", "steps": [{"name": "b", "command": "build", "select": "+fct_orders"}]},
            "graph operators",
        ),
        (
            {"render": "per_model", "steps": [{"name": "b", "command": "build", "select": "state:modified"}]},
            "selector method 'state'",
        ),
    ],
)
def test_render_refusals_name_the_field(transform, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(_spec(**transform))


def test_per_model_refuses_a_first_build_branch():
    spec = _spec(render="per_model")
    spec["dags"] = [
        {"id": "shop", "ingest": "all", "steps": {"first_build": ["seed"], "regular_run": ["core"]}}
    ]
    with pytest.raises(SpecError, match="first_build/regular_run"):
        parse_spec(copy.deepcopy(spec))


def test_a_deployment_chooses_the_rendering_for_every_pipeline_it_can_draw(monkeypatch):
    from headwater.settings import Settings

    plain = parse_spec(_spec())
    branching = _spec()
    branching["dags"] = [
        {"id": "shop", "ingest": "all", "steps": {"first_build": ["seed"], "regular_run": ["core"]}}
    ]
    monkeypatch.delenv("HEADWATER_DBT_RENDER", raising=False)
    assert Settings.from_env().render_for(plain) == "steps"
    monkeypatch.setenv("HEADWATER_DBT_RENDER", "per_model")
    assert Settings.from_env().render_for(plain) == "per_model"
    with pytest.raises(
        SpecError, match="HEADWATER_DBT_RENDER, for transform.render: per_model does not render"
    ):
        Settings.from_env().render_for(parse_spec(branching))
    monkeypatch.setenv("HEADWATER_DBT_RENDER", "per_node")
    with pytest.raises(
        SpecError, match="HEADWATER_DBT_RENDER, for transform.render: .per_node. is not one of"
    ):
        Settings.from_env().render_for(plain)
    monkeypatch.setenv("HEADWATER_DBT_RENDER", "steps")
    assert Settings.from_env().render_for(parse_spec(_spec(render="per_model"))) == "steps"

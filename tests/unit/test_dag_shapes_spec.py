"""The spec's ``transform:`` steps and ``dags:`` section: parsing, defaults and refusals."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from headwater.errors import SpecError
from headwater.shapes import PRESETS
from headwater.spec import load_spec, parse_spec
from headwater.transform import STEP_COMMANDS

BASE: dict[str, Any] = {
    "name": "shop",
    "schedule": "@hourly",
    "sources": {
        "app": {"kind": "sql", "url": "sqlite:///x.db"},
        "crm": {"kind": "sql", "url": "sqlite:///y.db"},
    },
    "tables": [
        {"name": "customers", "primary_key": "id", "cursor": "updated_at", "source": "app"},
        {
            "name": "orders",
            "primary_key": "id",
            "cursor": "updated_at",
            "source": "app",
            "depends_on": "customers",
        },
        {"name": "leads", "primary_key": "id", "source": "crm"},
    ],
    "transform": {
        "dbt_project": "dbt",
        "steps": [
            "seed",
            {"name": "bronze", "command": "run", "select": ["tag:bronze"], "exclude": "tag:slow"},
            {"name": "silver", "command": "build", "select": "tag:silver", "full_refresh": False},
            {"name": "freshness", "command": "source freshness"},
            "test_all",
        ],
    },
    "dags": [
        {"id": "shop_ingest", "ingest": "by_source", "produces": ["raw"]},
        {
            "id": "shop_warehouse",
            "scheduled_by": "raw",
            "steps": {
                "first_build": ["seed", "bronze", "silver"],
                "regular_run": ["bronze", "silver", "test_all"],
            },
        },
    ],
}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def test_steps_and_dags_parse_into_their_shapes():
    spec = parse_spec(copy.deepcopy(BASE))
    assert spec.dbt_steps == ("seed", "bronze", "silver", "freshness", "test_all")
    assert spec.step("bronze").args(full_refresh=True) == [
        "run", "--select", "tag:bronze", "--exclude", "tag:slow", "--full-refresh"
    ]  # fmt: skip
    assert spec.step("bronze").args(full_refresh=False) == [
        "run",
        "--select",
        "tag:bronze",
        "--exclude",
        "tag:slow",
    ]
    assert spec.step("silver").args(full_refresh=True) == ["build", "--select", "tag:silver"]
    assert spec.step("freshness").command == ("source", "freshness")
    ingest, warehouse = spec.dags
    assert (ingest.ingest, ingest.produces, ingest.schedule) == ("by_source", ("raw",), "@hourly")
    assert (warehouse.scheduled_by, warehouse.schedule, warehouse.ingest) == (("raw",), None, None)
    assert warehouse.first_build == ("seed", "bronze", "silver")
    assert warehouse.steps == ("bronze", "silver", "test_all")
    assert warehouse.all_steps == ("seed", "bronze", "silver", "test_all")


def test_producers_come_before_the_dags_their_assets_schedule():
    data = copy.deepcopy(BASE)
    data["dags"].reverse()  # consumer listed first
    assert [d.dag_id for d in parse_spec(data).dags_in_order()] == ["shop_ingest", "shop_warehouse"]


def test_no_dags_section_gives_one_dag_named_after_the_pipeline_running_every_step():
    spec = parse_spec(_with(["dags"], KeyError))
    (dag,) = spec.dags
    assert (dag.dag_id, dag.schedule, dag.ingest, dag.steps, dag.first_build) == (
        "shop", "@hourly", "all", spec.dbt_steps, None
    )  # fmt: skip


@pytest.mark.parametrize("pipeline", ["travel_bookings", "flights"])
def test_bundled_pipelines_keep_the_standard_preset_and_one_dag(pipeline):
    spec = load_spec(pipeline)
    assert spec.steps == PRESETS["standard"]
    assert [d.dag_id for d in spec.dags] == [pipeline]
    # The dbt arguments of today's eight steps, unchanged.
    assert STEP_COMMANDS == {
        "seed": ["seed"],
        "source_freshness": ["source", "freshness"],
        "source_tests": ["test", "--select", "source:*"],
        "staging": ["run", "--select", "tag:staging"],
        "snapshot": ["snapshot"],
        "core": ["run", "--select", "tag:core"],
        "test_all": ["test"],
        "docs": ["docs", "generate"],
    }
    refreshed = {s.name for s in spec.steps if "--full-refresh" in s.args(full_refresh=True)}
    assert refreshed == {"seed", "staging", "core"}


def test_a_preset_alone_gives_its_steps():
    spec = parse_spec(_with(["transform"], {"dbt_project": "dbt", "preset": "standard"}) | {"dags": None})
    assert spec.steps == PRESETS["standard"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["transform", "steps", 0], "deploy", "unknown step(s) ['deploy']"),
        (["transform", "preset"], "fancy", "preset: 'fancy' is not one of"),
        (["transform", "steps", 1, "command"], "drop", "command: 'drop' is not one of"),
        (["transform", "steps", 1, "select"], ["tag:a tag:b"], "is not one selector"),
        (["transform", "steps", 1, "select"], ["--vars"], "is not one selector"),
        (["transform", "steps", 1, "colour"], "red", "unknown field(s) ['colour']"),
        (["transform", "steps", 3, "full_refresh"], True, "dbt source freshness has no --full-refresh"),
        (["transform", "steps", 4], {"name": "seed", "command": "seed"}, "step(s) listed twice: ['seed']"),
        (["transform", "dbt_project"], KeyError, "dbt steps need dbt_project"),
        (["dags", 1, "id"], "shop_ingest", "dag id(s) listed twice: ['shop_ingest']"),
        (["dags", 1, "id"], "warehouse", "must be 'shop' or start with 'shop_'"),
        (["dags", 1, "scheduled_by"], ["cooked"], "scheduled_by asset(s) ['cooked'] that no DAG produces"),
        (["dags", 1, "schedule"], "@daily", "give schedule (time) or scheduled_by (assets), not both"),
        (["dags", 1, "steps", "regular_run"], ["bronze", "gold"], "unknown step(s) ['gold']"),
        (["dags", 1, "steps", "regular_run"], KeyError, "a first-build branch needs both"),
        (["dags", 1, "steps", "first_build"], [], "each branch path needs at least one step"),
        (["dags", 1, "steps"], ["bronze", "bronze"], "step(s) listed twice: ['bronze']"),
        (["dags", 1, "ingest"], "sometimes", "ingest: 'sometimes' is not one of"),
        (["dags", 1, "ingest"], True, "only one DAG may ingest"),
        (["dags", 1, "steps"], KeyError, "a DAG must ingest or run dbt steps"),
        (["dags", 1, "produces"], ["raw"], "asset 'raw' produced by both"),
        (["dags", 0, "scheduled_by"], ["marts"], "that no DAG produces"),
        (["dags"], [], "must be a non-empty list"),
        (["tables", 2, "depends_on"], ["customers"], "depend on tables of another source"),
    ],
)
def test_shape_mistakes_are_refused_with_a_message_that_names_them(path, value, message):
    with pytest.raises(SpecError) as err:
        parse_spec(_with(path, value))
    assert message in str(err.value)


def test_assets_scheduling_each_other_in_a_cycle_are_refused():
    data = copy.deepcopy(BASE)
    data["dags"][0]["scheduled_by"] = ["cooked"]
    data["dags"][1]["produces"] = ["cooked"]
    with pytest.raises(SpecError, match="form a cycle"):
        parse_spec(data)

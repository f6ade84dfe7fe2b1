"""Pipeline specs: the bundled ones load, and every kind of mistake gets a clear error."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from headwater.errors import SpecError
from headwater.spec import DBT_STEPS, available_pipelines, load_spec, parse_spec

GOOD = {
    "name": "shop",
    "source": {"kind": "sql", "url": "sqlite:///{home}/shop.sqlite"},
    "tables": [
        {"name": "orders", "primary_key": ["order_id"], "cursor": "updated_at"},
        {"name": "order_lines", "primary_key": ["order_id", "line_no"], "cursor": "updated_at"},
        {"name": "countries", "primary_key": "code"},
    ],
}


def test_travel_bookings_spec_is_valid_and_complete():
    spec = load_spec("travel_bookings")
    assert "travel_bookings" in available_pipelines()
    assert [t.name for t in spec.tables] == [
        "booking",
        "ticket",
        "segment",
        "passenger",
        "ticket_passenger",
        "ticket_segment",
    ]
    assert spec.table("ticket_segment").primary_key == ("ticket_id", "segment_id")
    assert spec.table("booking").cursor == "updated_at"
    assert spec.dbt_steps == DBT_STEPS
    assert spec.raw_schema == "raw_travel_bookings"
    assert (spec.dbt_project_dir / "dbt_project.yml").exists()


def test_a_good_spec_parses_with_defaults():
    spec = parse_spec(GOOD)
    assert spec.table("countries").effective_mode == "full"
    assert spec.table("order_lines").primary_key == ("order_id", "line_no")
    assert spec.lookback_seconds == 0 and spec.dbt_steps == ()


def _with(path: list, value):
    data = copy.deepcopy(GOOD)
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(["name"], 'shop"; drop table x; --'), "not a valid identifier"),
        (_with(["tables", 0, "name"], "orders;"), "pipeline 'shop'.tables[0].name"),
        (_with(["tables", 0, "cursor"], "updated at"), "not a valid identifier"),
        (_with(["tables", 1, "primary_key"], ["order_id", 'line"no']), "primary_key"),
        (_with(["tables", 0, "primary_key"], KeyError), "missing required field 'primary_key'"),
        (_with(["tables", 1, "primary_key"], ["order_id", "order_id"]), "lists a column twice"),
        (_with(["tables", 2, "mode"], "incremental"), "incremental mode needs a cursor"),
        (_with(["tables", 0, "mode"], "sometimes"), "is not one of"),
        (_with(["tables", 2, "name"], "orders"), "listed twice"),
        (_with(["source", "kind"], "ftp"), "is not supported"),
        (_with(["colour"], "blue"), "unknown field(s) ['colour']"),
        (
            _with(["transform"], {"dbt_project": "dbt", "steps": ["seed", "deploy"]}),
            "unknown step(s) ['deploy']",
        ),
        (_with(["load"], {"lookback_seconds": -5}), "lookback_seconds"),
        (_with(["tables"], []), "missing required field 'tables'"),
        ("just a string", "must be a mapping"),
        (_with(["tables", 1, "depends_on"], ["invoices"]), "depends_on names unknown table(s) ['invoices']"),
        (_with(["tables", 0, "depends_on"], ["orders"]), "depends_on lists the table itself"),
        (
            _with(["tables", 0, "read"], {"path": "x.csv", "columns": {"id": "INT"}}),
            "SQL sources are read by",
        ),
        (_with(["tables", 0, "source"], "crm"), "'crm' is not one of the pipeline's sources"),
        (_with(["source", "kind"], "files"), "needs read: (path/endpoint and columns)"),
    ],
)
def test_mistakes_are_refused_with_a_message_that_names_them(data, message):
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert message in str(err.value)


def test_unknown_pipeline_lists_the_known_ones():
    with pytest.raises(SpecError, match="available: .*travel_bookings"):
        load_spec("nope")
    with pytest.raises(SpecError, match="is not a pipeline name"):
        load_spec("../etc")


def test_load_levels_put_parents_before_children_and_refuse_cycles():
    data = copy.deepcopy(GOOD)
    data["tables"][0]["depends_on"] = ["countries"]
    data["tables"][1]["depends_on"] = "orders"
    assert parse_spec(data).load_levels() == [["countries"], ["orders"], ["order_lines"]]
    assert parse_spec(GOOD).load_levels() == [["orders", "order_lines", "countries"]]
    data["tables"][2]["depends_on"] = ["order_lines"]
    with pytest.raises(SpecError, match="cycle among"):
        parse_spec(data)


FILES = {
    "name": "drops",
    "sources": {"app": {"kind": "sql", "url": "sqlite:///x"}, "drop": {"kind": "files", "url": "/d"}},
    "tables": [
        {"name": "orders", "primary_key": "id", "source": "app"},
        {
            "name": "leads",
            "primary_key": "lead_id",
            "source": "drop",
            "read": {"path": "leads/*.xlsx", "columns": {"lead_id": "bigint", "amount": "DECIMAL(10, 2)"}},
        },
    ],
}


def test_several_named_sources_and_file_tables_parse():
    spec = parse_spec(FILES)
    leads = spec.table("leads")
    assert leads.source == "drop" and leads.read is not None and leads.read.format == "xlsx"
    assert leads.read.columns == (("lead_id", "BIGINT"), ("amount", "DECIMAL(10,2)"))
    assert spec.source.name == "app" and spec.source_url(Path("/h"), "sqlite:///o", "drop") == "/d"


@pytest.mark.parametrize(
    ("read", "message"),
    [
        ({"path": "a.csv", "columns": {"id": "BIGINT); DROP TABLE x; --"}}, "is not a supported column type"),
        ({"path": "a.csv", "columns": {'id"': "BIGINT"}}, "not a valid identifier"),
        ({"path": "a.txt", "columns": {"id": "BIGINT"}}, "cannot tell the format of 'a.txt'"),
        ({"path": "a.csv", "columns": {"other": "BIGINT"}}, "key/cursor column(s) ['lead_id']"),
        ({"path": "a.csv", "columns": {"lead_id": "BIGINT"}, "delimiter": ";;"}, "one character"),
    ],
)
def test_bad_read_sections_are_refused(read, message):
    data = copy.deepcopy(FILES)
    data["tables"][1]["read"] = read
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    assert message in str(err.value)


def test_deletes_option_parses_and_refuses_what_cannot_be_listed():
    from headwater.spec import DeletesSpec

    assert parse_spec(GOOD).table("orders").deletes is None
    spec = parse_spec(_with(["tables", 0, "deletes"], "detect"))
    assert spec.table("orders").deletes == DeletesSpec(every_runs=1, allow_empty=False)
    spec = parse_spec(_with(["tables", 1, "deletes"], {"detect": True, "every_runs": 3, "allow_empty": True}))
    assert spec.table("order_lines").deletes == DeletesSpec(every_runs=3, allow_empty=True)
    assert parse_spec(_with(["tables", 0, "deletes"], "ignore")).table("orders").deletes is None
    refused = [
        (_with(["tables", 2, "deletes"], "detect"), "full-mode table already loses"),
        (_with(["tables", 0, "deletes"], {"every_runs": 0}), "every_runs must be a whole number >= 1"),
        (_with(["tables", 0, "deletes"], {"allow_empty": "yes"}), "allow_empty must be true or false"),
        (_with(["tables", 0, "deletes"], {"cadence": 2}), "unknown field"),
        (_with(["tables", 0, "deletes"], "sometimes"), "use detect, ignore or a mapping"),
    ]
    for data, message in refused:
        with pytest.raises(SpecError, match=message):
            parse_spec(data)
    for pipeline in ("travel_bookings", "flights"):  # their sources really delete
        assert any(t.deletes for t in load_spec(pipeline).tables), pipeline


def test_chunked_loads_and_a_default_dbt_target_are_spec_options():
    data = copy.deepcopy(GOOD)
    data["tables"][0]["load"] = {"chunk_rows": 1000}
    data["transform"] = {"dbt_target": "dev"}
    spec = parse_spec(data)
    assert spec.table("orders").chunk_rows == 1000 and spec.table("countries").chunk_rows is None
    assert spec.dbt_target == "dev" and parse_spec(GOOD).dbt_target is None


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["tables", 0, "load"], {"chunk_rows": 0}, "chunk_rows must be a whole number >= 1"),
        (["tables", 0, "load"], {"chunk_rows": "many"}, "chunk_rows must be a whole number >= 1"),
        (["tables", 0, "load"], {"chunks": 4}, "chunks"),
        (["transform"], {"dbt_target": "prod"}, "dbt_target: 'prod' is not one of"),
    ],
)
def test_bad_chunk_and_target_options_are_refused(path, value, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(_with(path, value))


def test_the_environment_target_wins_over_the_pipelines_own(monkeypatch: pytest.MonkeyPatch):
    from headwater.settings import Settings

    forex = load_spec("forex")
    monkeypatch.delenv("HEADWATER_DBT_TARGET", raising=False)
    assert Settings.from_env().dbt_target_for(forex) == "dev"
    assert Settings.from_env().dbt_target_for(load_spec("flights")) == "pro"
    monkeypatch.setenv("HEADWATER_DBT_TARGET", "pro")
    assert Settings.from_env().dbt_target_for(forex) == "pro"

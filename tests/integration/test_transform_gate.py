"""The transform gate (headwater.transform_gate) on a real DuckDB warehouse: a run's dbt steps
run when rows changed, the project changed, nothing succeeded yet or the run asks; otherwise
they are skipped, and only a whole, successful transform moves the reference point."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater import discovery, transform_gate
from headwater.settings import Settings
from headwater.transform import dbt_schema
from headwater.warehouse import open_warehouse

PIPELINE = "travel_bookings"


@pytest.fixture
def gate(hw_home: Path):
    spec = discovery.load_spec(PIPELINE)
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    schema = dbt_schema(spec, settings.dbt_target_for(spec))
    with wh.session() as con:
        wh.ensure_metadata(con)
        con.execute(f'CREATE SCHEMA IF NOT EXISTS wh."{schema}"')
        con.execute(f'CREATE TABLE wh."{schema}".fct AS SELECT 1 AS x')  # "the project was built"

    def decide(run_id: str, **params) -> transform_gate.Decision:
        return transform_gate.decide(spec, settings, run_id, params)

    def finish(run_id: str, complete: bool = True) -> None:
        transform_gate.finish(spec, settings, run_id, complete)

    def load(rows_changed: int, rows_deleted: int = 0) -> None:
        with wh.session() as con:
            con.execute(
                "INSERT INTO wh.headwater.load_ledger (pipeline, table_name, run_id, batch_id, "
                "rows_changed, rows_deleted, loaded_at) VALUES (?, 'booking', 'r', 'b', ?, ?, ?)",
                [PIPELINE, rows_changed, rows_deleted, datetime.now(UTC).replace(tzinfo=None)],
            )

    return decide, finish, load, wh


def test_runs_first_then_only_when_rows_changed(gate):
    decide, finish, load, _ = gate
    assert decide("r1") == transform_gate.Decision(True, "no transform has succeeded yet")
    finish("r1")
    second = decide("r2")
    assert not second.run and "nothing changed" in second.reason
    assert decide("r2") == second, "read back: every task of a run sees one decision"
    finish("r2")
    load(rows_changed=0)  # a load that changed nothing (rows already there) is no change
    assert not decide("r3").run
    load(rows_changed=5)
    rows = decide("r4")
    assert rows.run and rows.rows_only
    spec = discovery.load_spec(PIPELINE)
    assert not transform_gate.needs_rows(spec, ["seed"]), "seeds are static files of the project"
    assert not transform_gate.needs_rows(spec, ["docs"]), "docs describe the project, not the rows"
    assert transform_gate.needs_rows(spec, ["docs", "test_all"])
    assert transform_gate.needs_rows(spec, ["staging"])
    finish("r4")
    load(rows_changed=0, rows_deleted=2)  # a full load that removed vanished keys
    assert decide("r5").run


def test_a_failed_or_partial_transform_leaves_the_next_run_to_build(gate):
    decide, finish, load, _ = gate
    decide("r1")
    finish("r1")
    load(rows_changed=3)
    assert decide("r2").run
    finish("r2", complete=False)  # failed, or a model-building step switched off
    third = decide("r3")
    assert third.run and "rows were loaded" in third.reason


def test_a_marked_delete_counts_as_a_change(gate):
    decide, finish, _, wh = gate
    decide("r1")
    finish("r1")
    with wh.session() as con:
        con.execute(
            "INSERT INTO wh.headwater.reconciliations (pipeline, table_name, run_id, kind, "
            "rows_marked_deleted, rows_unmarked) VALUES (?, 'booking', 'r2', 'deletes', 1, 0)",
            [PIPELINE],
        )
    assert decide("r2").run


def test_the_run_can_force_it_and_a_changed_project_rebuilds(gate, monkeypatch):
    decide, finish, _, _ = gate
    decide("r1")
    finish("r1")
    assert decide("r2", force_transform=True).reason.startswith("the run asked")
    assert decide("r3", full_refresh=True).run
    monkeypatch.setattr(transform_gate, "project_fingerprint", lambda spec, settings: "edited")
    changed = decide("r4")
    assert changed.run and "dbt project changed" in changed.reason


def test_the_fingerprint_follows_the_project_files(tmp_path, hw_home: Path):
    import dataclasses
    import shutil

    spec = discovery.load_spec(PIPELINE)
    settings = Settings.from_env()
    before = transform_gate.project_fingerprint(spec, settings)
    assert spec.dbt_project_dir is not None and spec.dbt_project
    shutil.copytree(spec.dbt_project_dir, tmp_path / spec.dbt_project)
    elsewhere = dataclasses.replace(spec, folder=tmp_path)
    assert transform_gate.project_fingerprint(elsewhere, settings) == before, "same files, same project"
    model = next((tmp_path / spec.dbt_project).rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    assert transform_gate.project_fingerprint(elsewhere, settings) != before


def test_a_run_with_a_model_building_step_switched_off_is_not_a_whole_transform():
    spec = discovery.load_spec(PIPELINE)
    assert transform_gate.is_complete(spec, {}, succeeded=True)
    assert not transform_gate.is_complete(spec, {}, succeeded=False)
    assert not transform_gate.is_complete(spec, {"run_staging": False}, succeeded=True)
    assert transform_gate.is_complete(spec, {"run_docs": False, "run_test_all": False}, succeeded=True)

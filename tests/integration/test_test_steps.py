"""A step that tests everything (``dbt test``) skips the source tests a step of the same run
already ran: the loads come before every dbt step, so the sources are the same. A run whose
source tests did not run gets them in its full test step."""

from __future__ import annotations

from pathlib import Path

from headwater import flow
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.transform import run_step
from headwater.warehouse import open_warehouse

SPEC = load_spec("travel_bookings")


def _tests_of(settings: Settings, run_id: str, step: str) -> set[str]:
    rows = open_warehouse(settings.warehouse_url).query(
        "SELECT unique_id FROM wh.headwater.dbt_results WHERE pipeline = ? AND run_id = ? AND step = ? "
        "AND resource_type = 'test'",
        [SPEC.name, run_id, step],
    )
    return {r[0] for r in rows}


def test_the_full_test_step_leaves_out_source_tests_run_earlier_in_the_same_run(hw_home: Path):
    settings = Settings.from_env()
    generator.generate(settings.source_url_for(SPEC), scale=0.02, seed=7)  # as of now: fresh
    flow.run_el(SPEC, settings, "r1")
    for step in SPEC.dbt_steps:
        run_step(SPEC, step, settings, "r1")
    sources = _tests_of(settings, "r1", "source_tests")  # what `--select source:*` tested
    assert len(sources) > 10
    everything = _tests_of(settings, "r1", "test_all")
    assert len(everything) > 100, "the full step ran the other tests"
    assert not everything & sources, "already run this run: left out"

    # A run that did not test its sources first tests them in the full step.
    run_step(SPEC, "test_all", settings, "r2")
    assert _tests_of(settings, "r2", "test_all") == everything | sources

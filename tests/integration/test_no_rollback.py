"""No load puts an older version of a row back (issue 12, class 6), on DuckDB and Postgres.

The reproduction: a run is SIGKILLed right after its extracts (its batches sit in the lake,
unloaded); the source moves on and a second run completes; then the killed run's loads are
applied as a resumed Airflow task would apply them (``flow.load`` of its batch). Before the
fix they rolled rows back. Expected rows always come from the source database itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from headwater import flow
from headwater.cli import main
from headwater.pipelines.travel_bookings import generator
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from headwater.warehouse.base import StaleBatchError
from tests.integration.test_extract_load import (
    assert_warehouse_equals_source,
    make_settings,
    raw_rows,
    source_rows,
)

SPEC = load_spec("travel_bookings")
NO_CURSOR = replace(SPEC, tables=tuple(replace(t, cursor=None) for t in SPEC.tables))
AS_OF = datetime(2026, 3, 1, 12, 0, 0)

KILLED_AFTER_EXTRACTS = textwrap.dedent(
    """
    import os, signal, sys
    from dataclasses import replace
    from pathlib import Path
    from headwater import flow
    from headwater.settings import Settings
    from headwater.spec import load_spec

    variant, home, warehouse_url, source_url, run_id = sys.argv[1:6]
    spec = load_spec("travel_bookings")
    if variant == "no_cursor":
        spec = replace(spec, tables=tuple(replace(t, cursor=None) for t in spec.tables))
    # every extract is done when the loads ask the lake for batches: die there, like a kill -9
    flow.batches = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    settings = Settings(home=Path(home), warehouse_url=warehouse_url, lake_url=home + "/lake",
                        source_url=source_url, dags_folder=Path(home))
    flow.run_el(spec, settings, run_id)
    """
)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


def _state_after_a_killed_run_and_a_newer_complete_run(tmp_path, warehouse_url, variant):
    spec = SPEC if variant == "cursor" else NO_CURSOR
    source = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(source, scale=0.02, seed=33, as_of=AS_OF)
    settings = make_settings(tmp_path, warehouse_url, source)
    flow.run_el(spec, settings, "run_0")

    generator.advance(source, seed=33, as_of=AS_OF + timedelta(hours=1))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_EXTRACTS, variant, str(tmp_path), warehouse_url, source, "run_1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    stale = flow.batches(spec, [t.name for t in spec.tables], "run_1", settings)
    assert stale, "the killed run left batches in the lake"

    generator.advance(source, seed=34, as_of=AS_OF + timedelta(hours=2))
    flow.run_el(spec, settings, "run_2")
    assert_warehouse_equals_source(settings, source)
    return spec, settings, source, stale


@pytest.mark.parametrize("variant", ["cursor", "no_cursor"])
def test_a_resumed_load_of_a_killed_runs_batch_is_refused_and_rolls_nothing_back(
    tmp_path, warehouse_url, variant
):
    spec, settings, source, stale = _state_after_a_killed_run_and_a_newer_complete_run(
        tmp_path, warehouse_url, variant
    )
    for batch in stale:  # what a scheduler resuming the killed run's load tasks would do
        with pytest.raises(StaleBatchError, match="older than the table's last loaded batch"):
            flow.load(spec, batch, settings)
    assert_warehouse_equals_source(settings, source)
    ledger = open_warehouse(warehouse_url).query(
        "SELECT count(*) FROM wh.headwater.load_ledger WHERE run_id = 'run_1'"
    )
    assert ledger == [(0,)], "a refused batch leaves no ledger row"


def test_a_replay_of_an_older_batch_is_refused_unless_asked_to_fill_gaps(
    tmp_path, warehouse_url, monkeypatch
):
    spec, settings, source, _ = _state_after_a_killed_run_and_a_newer_complete_run(
        tmp_path, warehouse_url, "cursor"
    )
    for var, value in {
        "HEADWATER_HOME": str(tmp_path),
        "HEADWATER_WAREHOUSE_URL": warehouse_url,
        "HEADWATER_LAKE_URL": str(tmp_path / "lake"),
        "HEADWATER_SOURCE_URL": source,
    }.items():
        monkeypatch.setenv(var, value)
    # the source really moved between the two batches, or this test would prove nothing
    old_batch = f"read_parquet('{tmp_path}/lake/travel_bookings/booking/batch=run_1/*.parquet')"
    lake_rows = open_warehouse(warehouse_url).query(f"SELECT count(*) FROM {old_batch}")
    assert lake_rows[0][0] > 0

    assert main(["replay", "travel_bookings", "--table", "booking", "--batch", "run_1"]) == 2
    assert_warehouse_equals_source(settings, source)

    # --fill-gaps: only keys the table lacks are added; no stored row changes version
    before = {r[0]: r for r in raw_rows(settings, "booking")}
    lost = sorted(before)[:5]
    wh = open_warehouse(warehouse_url)
    with wh.session() as con:
        ids = ", ".join(str(int(k)) for k in lost)
        con.execute(f"DELETE FROM wh.raw_travel_bookings.booking WHERE booking_id IN ({ids})")
    assert main(["replay", "travel_bookings", "--table", "booking", "--batch", "run_1", "--fill-gaps"]) == 0
    after = {r[0]: r for r in raw_rows(settings, "booking")}
    kept = set(before) - set(lost)
    assert {k: after[k] for k in kept} == {k: before[k] for k in kept}, "a newer row was replaced"
    in_old_batch = {r[0] for r in wh.query(f"SELECT booking_id FROM {old_batch}")}
    assert set(after) == kept | (set(lost) & in_old_batch)

    # replaying every batch rebuilds the table at its newest state, never an older one
    assert main(["replay", "travel_bookings", "--table", "booking"]) == 0
    assert set(raw_rows(settings, "booking")) == source_rows(source, "booking")

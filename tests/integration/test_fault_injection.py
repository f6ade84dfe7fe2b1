"""A run killed with SIGKILL at each stage of extract/load, then re-run: the warehouse ends
equal to the source, with no duplicate and no lost row. On DuckDB and on Postgres.

The kill happens in a child process (a real SIGKILL: no exception handler, no rollback code
runs), at a stage chosen by patching the function that starts it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta

import pytest

from headwater.pipelines.travel_bookings import generator
from headwater.spec import load_spec
from tests.integration.test_extract_load import assert_warehouse_equals_source, make_settings

SPEC = load_spec("travel_bookings")
AS_OF = datetime(2026, 3, 1, 12, 0, 0)

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from headwater import flow
    from headwater.lake import Lake
    from headwater.settings import Settings
    from headwater.sources.sql import SqlSource
    from headwater.spec import load_spec
    from headwater.warehouse.base import Warehouse

    stage, home, warehouse_url, source_url, run_id = sys.argv[1:6]

    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)

    def after(original):
        def wrapped(*a, **k):
            result = original(*a, **k)
            die()
            return result
        return wrapped

    if stage == "during_extract":        # source attached, nothing written yet
        SqlSource.check_table = die
    elif stage == "after_lake_write":    # Parquet written, manifest not yet
        Lake.write_manifest = die
    elif stage == "during_bulk_copy":    # stage table filled inside the load transaction
        import headwater.warehouse.duckdb as d, headwater.warehouse.postgres as p
        for cls in (d.DuckDBWarehouse, p.PostgresWarehouse):
            cls._stage = after(cls._stage)                     # later batches: the stage
            cls._create_raw_from = after(cls._create_raw_from)  # a first load: the new table
    elif stage == "before_watermark":    # upsert done, watermark and ledger not yet
        Warehouse._advance_watermark = die

    settings = Settings(home=Path(home), warehouse_url=warehouse_url, lake_url=home + "/lake",
                        source_url=source_url, dags_folder=Path(home))
    flow.run_el(load_spec("travel_bookings"), settings, run_id)
    """
)

STAGES = ["during_extract", "after_lake_write", "during_bulk_copy", "before_watermark"]


def _run_child(stage, tmp_path, warehouse_url, source_url, run_id):
    return subprocess.run(
        [sys.executable, "-c", CHILD, stage, str(tmp_path), warehouse_url, source_url, run_id],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


@pytest.mark.parametrize("stage", STAGES)
def test_a_run_killed_at_any_stage_then_rerun_leaves_the_warehouse_equal_to_the_source(
    stage, tmp_path, warehouse_url
):
    source = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(source, scale=0.02, seed=21, as_of=AS_OF)
    settings = make_settings(tmp_path, warehouse_url, source)

    # A first, killed run on an empty warehouse, and a second one after the source moved on.
    for attempt, run_id in enumerate(["run_1", "run_2"]):
        if attempt:
            generator.advance(source, seed=21, as_of=AS_OF + timedelta(hours=2))
        killed = _run_child(stage, tmp_path, warehouse_url, source, run_id)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        rerun = _run_child("none", tmp_path, warehouse_url, source, run_id)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_warehouse_equals_source(settings, source)

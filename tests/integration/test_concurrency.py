"""Two runs of one pipeline cannot interleave their loads.

Airflow runs one DAG run per pipeline at a time (max_active_runs=1, tested in test_dags); below
that, Postgres loads of one table serialize on an advisory lock, and a DuckDB warehouse is
held by one writer: a second writer gets a clear, retryable error.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest

from headwater import flow
from headwater.errors import TransientError
from headwater.pipelines.travel_bookings import generator
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.integration.test_extract_load import assert_warehouse_equals_source, make_settings

SPEC = load_spec("travel_bookings")

SLOW_LOAD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from headwater import flow
    from headwater.settings import Settings
    from headwater.spec import load_spec

    home, warehouse_url, source_url, batch_id, hold = sys.argv[1:6]
    import headwater.warehouse.postgres as p
    upsert = p.PostgresWarehouse._upsert
    def slow(*a, **k):
        n = upsert(*a, **k)
        time.sleep(float(hold))  # still inside the transaction, holding the table's lock
        return n
    p.PostgresWarehouse._upsert = slow
    settings = Settings(home=Path(home), warehouse_url=warehouse_url, lake_url=home + "/lake",
                        source_url=source_url, dags_folder=Path(home))
    started = time.time()
    flow.load(load_spec("travel_bookings"), {"table": "booking", "batch_id": batch_id}, settings, force=True)
    print(started, time.time())
    """
)


def test_concurrent_postgres_loads_of_one_table_run_one_after_the_other(tmp_path, pg_database):
    source = f"sqlite:///{tmp_path / 'src.sqlite'}"
    generator.generate(source, scale=0.02, seed=5, as_of=datetime(2026, 3, 1))
    settings = make_settings(tmp_path, pg_database, source)
    flow.run_el(SPEC, settings, "run_1")
    args = [str(tmp_path), pg_database, source, "run_1"]
    first = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, *args, "3"], stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    second = subprocess.Popen(
        [sys.executable, "-c", SLOW_LOAD, *args, "0"], stdout=subprocess.PIPE, text=True
    )
    out1, _ = first.communicate(timeout=120)
    out2, _ = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0
    _, end1 = map(float, out1.split())
    start2, end2 = map(float, out2.split())
    assert start2 < end1 <= end2, "the second load waited for the first to commit"
    assert_warehouse_equals_source(settings, source)
    ledger = open_warehouse(pg_database).query(
        "SELECT count(*) FROM wh.headwater.load_ledger WHERE table_name = 'booking'"
    )
    assert ledger == [(3,)]


def test_a_second_duckdb_writer_gets_a_clear_retryable_error(tmp_path):
    import duckdb

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); "
            "time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(TransientError, match="locked by another process"):
            open_warehouse(f"duckdb:///{path}").watermarks("travel_bookings")
    finally:
        holder.kill()
    assert duckdb  # the lock is DuckDB's own, not ours

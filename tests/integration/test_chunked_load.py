"""Chunked loads (``load.chunk_rows``) on DuckDB and Postgres, without the DAG: the forex
deliveries split into chunks in the lake and loaded chunk by chunk.

The raw table is compared with what the delivered files say, read from the generator's truth
files (the exact text it wrote into each line), never from what the pipeline loaded: the
latest delivery of each transaction_id, as delivered, with its file.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from headwater import flow
from headwater.errors import HeadwaterError
from headwater.pipelines.forex import generator
from headwater.pipelines.forex.generator import COLUMNS, truth_folder
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse

AS_OF = datetime(2026, 6, 1, 12, 0, 0)
CHUNK_ROWS = 150
SPEC = load_spec("forex")
CHUNKED = dataclasses.replace(SPEC, tables=(dataclasses.replace(SPEC.tables[0], chunk_rows=CHUNK_ROWS),))


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, tmp_path) -> Settings:
    url = (
        f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        if request.param == "duckdb"
        else request.getfixturevalue("pg_database")
    )
    source = tmp_path / "drop"
    generator.generate(str(source), scale=0.1, seed=7, as_of=AS_OF)
    return Settings(
        home=tmp_path,
        warehouse_url=url,
        lake_url=str(tmp_path / "lake"),
        source_url=None,
        dags_folder=tmp_path,
        source_urls={"FOREX_MAIN": str(source)},
    )


def _source(settings: Settings) -> Path:
    return Path(settings.source_urls["FOREX_MAIN"])


def expected_raw(settings: Settings, extra: list[tuple] = ()) -> set[tuple]:
    """(columns..., file) of each transaction's latest delivery with an id, from the truth."""
    import duckdb

    files = str(truth_folder(_source(settings)) / "delivery_*.parquet").replace("'", "''")
    cols = ", ".join(f"CAST({c} AS VARCHAR)" for c in COLUMNS)
    rows = duckdb.sql(
        f"SELECT {cols}, file FROM read_parquet('{files}') WHERE transaction_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY delivery DESC) = 1"
    ).fetchall()
    return set(rows) | set(extra)


def actual_raw(settings: Settings) -> set[tuple]:
    cols = ", ".join(COLUMNS)
    rows = open_warehouse(settings.warehouse_url).query(
        f"SELECT {cols}, _source_file FROM wh.raw_forex.transactions"
    )
    return {(*r[:-1], r[-1].rsplit("/", 1)[-1]) for r in rows}


def _extract_and_split(settings: Settings, run_id: str) -> list[dict]:
    for table_plan in flow.plan(CHUNKED, settings):
        flow.extract(CHUNKED, table_plan, run_id, settings)
    return flow.batches(CHUNKED, ["transactions"], run_id, settings)


def _ledger(settings: Settings, run_id: str) -> list[tuple]:
    return open_warehouse(settings.warehouse_url).query(
        "SELECT batch_id, rows_in_batch, rows_changed FROM wh.headwater.load_ledger WHERE run_id = ? "
        "ORDER BY batch_id",
        [run_id],
    )


def _watermark(settings: Settings) -> str | None:
    state = open_warehouse(settings.warehouse_url).watermarks("forex").get("transactions")
    return state.watermark if state else None


def test_chunks_load_side_by_side_exactly_and_a_chunk_loaded_twice_changes_nothing(settings):
    chunks = _extract_and_split(settings, "run_1")
    assert len(chunks) == -(-1000 // CHUNK_ROWS) and {c["chunks"] for c in chunks} == {len(chunks)}
    assert sum(c["rows"] for c in chunks) == 1000
    # Postgres takes chunks in parallel (a shared lock); DuckDB has one writer: one at a time.
    workers = 1 if settings.warehouse_kind == "duckdb" else 4
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda c: flow.load(CHUNKED, c, settings), chunks[:-1]))
    assert _watermark(settings) is None  # not before every chunk is in
    flow.load(CHUNKED, chunks[-1], settings)
    assert _watermark(settings) is not None and _watermark(settings).endswith("transactions_0001.csv")
    assert actual_raw(settings) == expected_raw(settings)
    ledger = _ledger(settings, "run_1")
    assert len(ledger) == len(chunks)

    again = flow.load(CHUNKED, chunks[2], settings)  # a retried chunk: a no-op
    assert again["replayed"] and _ledger(settings, "run_1") == ledger
    assert actual_raw(settings) == expected_raw(settings)

    # the next delivery: new transactions and corrections, chunked again
    generator.advance(str(_source(settings)), seed=7, as_of=AS_OF + timedelta(hours=6))
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda c: flow.load(CHUNKED, c, settings), _extract_and_split(settings, "run_2")))
    assert actual_raw(settings) == expected_raw(settings)
    assert _watermark(settings).endswith("transactions_0002.csv")


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from dataclasses import replace
    from pathlib import Path
    from headwater import flow
    from headwater.settings import Settings
    from headwater.spec import load_spec
    import headwater.warehouse.duckdb as d, headwater.warehouse.postgres as p

    home, warehouse_url, source, chunk = sys.argv[1:5]

    def killed_after(original):
        def wrapped(*a, **k):
            original(*a, **k)
            os.kill(os.getpid(), signal.SIGKILL)  # the upsert ran; the commit never comes
        return wrapped

    for cls in (d.DuckDBWarehouse, p.PostgresWarehouse):
        cls._upsert = killed_after(cls._upsert)
    spec = load_spec("forex")
    spec = replace(spec, tables=(replace(spec.tables[0], chunk_rows=int(sys.argv[5])),))
    settings = Settings(home=Path(home), warehouse_url=warehouse_url, lake_url=home + "/lake",
                        source_url=None, dags_folder=Path(home), source_urls={"FOREX_MAIN": source})
    flow.load(spec, json.loads(chunk), settings)
    """
)


def test_a_chunk_killed_mid_load_and_run_again_leaves_the_warehouse_exact(settings):
    import json

    chunks = _extract_and_split(settings, "run_1")
    for chunk in chunks[:2]:
        flow.load(CHUNKED, chunk, settings)
    before = actual_raw(settings)
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(settings.home),
            settings.warehouse_url,
            str(_source(settings)),
            json.dumps(chunks[2]),
            str(CHUNK_ROWS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert actual_raw(settings) == before  # the killed chunk's transaction left nothing
    assert len(_ledger(settings, "run_1")) == 2 and _watermark(settings) is None
    for chunk in chunks[2:]:  # the re-run: the killed chunk, then the rest
        flow.load(CHUNKED, chunk, settings)
    assert actual_raw(settings) == expected_raw(settings)
    assert len(_ledger(settings, "run_1")) == len(chunks)


def _deliver(settings: Settings, name: str, lines: list[bytes]) -> None:
    (_source(settings) / name).write_bytes(b"\n".join(lines) + b"\n")


GOOD = (b"TX-900000001", b"12", b"2026-05-30", b"3", b"Umbrella Mini", b"2", b"10.00", b"4.00")
PERSON = (b"Ava", b"Smith", b"ava.smith@mail.com", b"+31 000000001", b"France", b"Paris")


def test_a_changed_header_stops_the_load_naming_the_file_and_nothing_is_lost(settings):
    flow.run_el(CHUNKED, settings, "run_1")
    before = actual_raw(settings)
    header = ",".join(COLUMNS).replace("quantity", "qty").encode()
    _deliver(settings, "transactions_0002.csv", [header, b",".join(GOOD + PERSON)])
    with pytest.raises(HeadwaterError) as error:
        flow.run_el(CHUNKED, settings, "run_2")
    message = str(error.value)
    assert "transactions_0002.csv" in message and "qty" in message and "quantity" in message
    assert actual_raw(settings) == before == expected_raw(settings)


def test_a_line_that_is_not_utf8_is_quarantined_with_its_file_and_every_other_line_loads(settings):
    good = [b",".join((b"TX-9000000%02d" % i, *GOOD[1:], *PERSON)) for i in range(1, 6)]
    bad = b",".join((b"TX-900000099", *GOOD[1:4], b"Umbr\xe9lla", *GOOD[5:], *PERSON))
    _deliver(settings, "transactions_0002.csv", [",".join(COLUMNS).encode(), *good[:3], bad, *good[3:]])
    flow.run_el(CHUNKED, settings, "run_1")
    extra = [(*(v.decode() for v in line.split(b",")), "transactions_0002.csv") for line in good]
    assert actual_raw(settings) == expected_raw(settings, extra)
    quarantined = open_warehouse(settings.warehouse_url).query(
        "SELECT reason, source_file FROM wh.headwater.quarantine WHERE pipeline = 'forex' "
        "AND source_file LIKE '%transactions_0002.csv'"
    )
    assert len(quarantined) == 1 and "utf-8" in quarantined[0][0].lower(), quarantined

"""The forex pipeline's DAG, run for real by Airflow, end to end, checked against the generator's truth.

One module-scoped fixture per backend (DuckDB, Postgres) does the runs the tests read:
generate a messy delivery; run the DAG (dev target, the pipeline's default) with chunks forced
small, so the delivery loads as several chunk tasks; deliver a second file with new and
corrected transactions; run again; then (DuckDB) run with ``HEADWATER_DBT_TARGET=pro``, which
builds the pro schemas from the same raw table and leaves dev's alone. Every expected figure
comes from the generator's truth files (``expectations.py``), never from what the pipeline built.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from headwater import discovery
from headwater.dashboard import marts
from headwater.orchestration.local import RunOutcome, run_dag
from headwater.settings import Settings
from tests.e2e.support import create_database, drop_database

pytestmark = pytest.mark.e2e

PIPELINE = "forex"
SPEC = discovery.load_spec(PIPELINE)
EXPECT = discovery.pipeline_module(SPEC, "expectations")
GENERATOR = discovery.pipeline_module(SPEC, "generator")


@dataclass
class Stage:
    """The warehouse right after one run, with the truth it must match."""

    outcome: RunOutcome
    target: str
    expected: dict[str, Any]
    actual: dict[str, Any]
    outcomes: dict[str, int]
    lines: int
    keyed: int
    cleaned: dict[str, tuple]
    silver: dict[str, tuple]
    quarantine_counts: dict[str, int]
    quarantined_ids: set[str]
    mart_outcomes: dict[str, int]
    dupes: dict[str, int] = field(default_factory=dict)


@dataclass
class Runs:
    backend: str
    home: Path
    stages: list[Stage]
    advanced: dict[str, int]
    wh: Any


def _schema(target: str, layer: str) -> str:
    return f"{PIPELINE}_{layer}" if target == "pro" else f"{PIPELINE}_{target}_{layer}"


def _observe(outcome: RunOutcome, settings: Settings, wh, source: str) -> Stage:
    assert outcome.state == "success", f"run failed; log: {outcome.log}\n{outcome.tasks}"
    target = settings.dbt_target_for(SPEC)
    truth = EXPECT.Truth(source)
    try:
        mart = lambda m: marts.relation(PIPELINE, m, settings.home)  # noqa: E731
        silver = f'wh."{_schema(target, "silver")}".slv_forex__transactions'
        gold = f'wh."{_schema(target, "gold")}"'
        # brz_forex__quarantine is a view over this table (DuckDB views name dbt's catalog,
        # so they are read through the table here)
        read = f'wh."{_schema(target, "bronze")}".brz_forex__transactions_read'
        bronze = (
            f"(SELECT transaction_id, quarantine_reason AS reason FROM {read} "
            "WHERE quarantine_reason IS NOT NULL)"
        )
        return Stage(
            outcome,
            target,
            EXPECT.from_truth(truth),
            EXPECT.from_marts(wh, mart),
            EXPECT.outcomes(truth),
            EXPECT.lines_delivered(truth),
            EXPECT.keyed_transactions(truth),
            EXPECT.cleaned(truth),
            EXPECT.by_first_column(wh.query(f"SELECT transaction_id, {EXPECT.SILVER_COLUMNS} FROM {silver}")),
            dict(wh.query(f"SELECT reason, count(*) FROM {bronze} GROUP BY 1")),
            {r[0] for r in wh.query(f"SELECT transaction_id FROM {bronze}")},
            dict(wh.query(f"SELECT outcome, rows_count FROM {mart('mart_quarantine_by_reason')}")),
            {
                rel: wh.query(f"SELECT count(*) - count(DISTINCT {key}) FROM {where}")[0][0]
                for rel, key, where in (
                    ("silver", "transaction_id", silver),
                    ("fct_transactions", "transaction_id", f"{gold}.fct_transactions"),
                    ("dim_customer", "customer_id", f"{gold}.dim_customer"),
                )
            },
        )
    finally:
        truth.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def runs(request, tmp_path_factory) -> Iterator[Runs]:
    from headwater.warehouse import open_warehouse

    backend = request.param
    home = tmp_path_factory.mktemp(f"e2e-forex-{backend}") / "hw"
    home.mkdir()
    database = admin = None
    if backend == "postgres":
        admin = request.getfixturevalue("pg_server")  # skips (fails in CI) without Postgres
        database = create_database(admin)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEADWATER_HOME", str(home))
        for var in ("HEADWATER_WAREHOUSE_URL", "HEADWATER_LAKE_URL", "HEADWATER_DBT_TARGET", "AIRFLOW_HOME"):
            mp.delenv(var, raising=False)
        mp.setenv("HEADWATER_LOAD_CHUNK_ROWS", str(EXPECT.CHUNK_ROWS))
        if database is not None:
            assert admin is not None
            mp.setenv("HEADWATER_WAREHOUSE_URL", f"{admin.rsplit('/', 1)[0]}/{database}")
        try:
            settings = Settings.from_env()
            source = settings.source_url_for(SPEC)
            as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(days=1)
            seed = 41 if backend == "duckdb" else 42
            GENERATOR.generate(source, seed=seed, as_of=as_of, **EXPECT.GENERATE)
            wh = open_warehouse(settings.warehouse_url)
            no_docs = {"run_docs": False}
            stages = [_observe(run_dag(settings, PIPELINE, no_docs), settings, wh, source)]
            advanced = GENERATOR.advance(
                source, seed=seed, as_of=as_of + timedelta(hours=20), **EXPECT.ADVANCE
            )
            stages.append(_observe(run_dag(settings, PIPELINE, no_docs), settings, wh, source))
            if backend == "duckdb":  # pro, selected by the environment, beside dev
                mp.setenv("HEADWATER_DBT_TARGET", "pro")
                pro = Settings.from_env()
                stages.append(_observe(run_dag(pro, PIPELINE, no_docs), pro, wh, source))
            yield Runs(backend, home, stages, advanced, wh)
        finally:
            if database is not None and admin is not None:
                drop_database(admin, database)


def test_the_runs_use_dev_by_default_and_pro_when_asked(runs: Runs):
    assert [s.target for s in runs.stages[:2]] == ["dev", "dev"]
    if runs.backend == "duckdb":
        assert runs.stages[2].target == "pro"
        schemas = {
            r[0] for r in runs.wh.query("SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'wh'")
        }
        assert {"forex_dev_silver", "forex_silver", "forex_dev_marts", "forex_marts"} <= schemas


def test_each_delivery_loads_in_several_chunk_tasks(runs: Runs):
    for stage in runs.stages[:2]:
        chunks = [k for k, v in stage.outcome.tasks.items() if k.startswith("load[") and v == "success"]
        expected = -(-stage.lines // EXPECT.CHUNK_ROWS)  # ceil: every delivered line is read
        assert len(chunks) == expected > 1, stage.outcome.tasks
    ledger = runs.wh.query(
        "SELECT count(*), count(DISTINCT batch_id) FROM wh.headwater.load_ledger WHERE run_id = ?",
        [runs.stages[0].outcome.run_id],
    )
    assert ledger[0][0] == ledger[0][1] > 1  # one ledger row per chunk, none twice


def test_every_delivered_row_ends_in_silver_or_in_quarantine(runs: Runs):
    for stage in runs.stages:
        usable = len(stage.silver)
        quarantined = sum(stage.quarantine_counts.values())
        assert usable + quarantined == stage.keyed  # one outcome per transaction id
        assert stage.mart_outcomes == stage.outcomes  # usable, each reason, and unkeyed lines
        assert stage.outcomes["usable"] == usable
        assert {r: n for r, n in stage.outcomes.items() if r not in ("usable", EXPECT.NULL_KEY_REASON)} == (
            stage.quarantine_counts
        )
    # lines nobody can key are the loader's quarantine, each once however often it was read
    engine = runs.wh.query("SELECT count(*) FROM wh.headwater.quarantine WHERE pipeline = 'forex'")
    assert engine[0][0] == runs.stages[-1].outcomes.get(EXPECT.NULL_KEY_REASON, 0)


def test_cleaned_values_equal_the_truth(runs: Runs):
    for stage in runs.stages:
        assert stage.silver.keys() == stage.cleaned.keys()
        wrong = {k: (stage.silver[k], v) for k, v in stage.cleaned.items() if stage.silver[k] != v}
        assert not wrong, list(wrong.items())[:3]
        # the defects were there to clean: words, ambiguous dates, float ids
        assert sum(v[-2] for v in stage.cleaned.values()) > 10  # prices written in words
        assert sum(v[-1] for v in stage.cleaned.values()) > 10  # ambiguous day/month, flagged


def test_the_marts_equal_figures_from_the_truth(runs: Runs):
    for stage in runs.stages:
        for mart, expected in stage.expected.items():
            assert stage.actual[mart] == expected, mart


def test_corrections_update_silver_and_gold_without_duplicates(runs: Runs):
    first, second = runs.stages[:2]
    assert runs.advanced["corrections"] > 0
    # a corrected quantity replaced the first value (test_cleaned_values: silver shows the new one)
    changed = [k for k, v in second.cleaned.items() if k in first.cleaned and first.cleaned[k] != v]
    assert changed
    # a transaction quarantined for its missing quantity, whose correction filled it, moved to silver
    rescued = first.quarantined_ids & second.silver.keys()
    assert rescued and not rescued & second.quarantined_ids
    for stage in runs.stages:
        assert stage.dupes == {"silver": 0, "fct_transactions": 0, "dim_customer": 0}

"""Every discovered pipeline's DAG, run for real by Airflow (``airflow dags test``), end to end.

One parametrized test module for all pipelines, on the embedded default (SQLite source, Parquet
lake, DuckDB warehouse) and production-like (Postgres source and warehouse). Per pipeline and
backend, one fixture runs the DAG three times, shared by the tests below: a first load; a run
after the generator advanced the source; a run with nothing new (whose dbt steps are skipped:
nothing changed since the last transform). What the marts must show comes from the
pipeline's ``expectations.py``, computed from the source database with its own driver, never
read back from what the pipeline produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from headwater import discovery
from headwater.dashboard import marts
from headwater.orchestration.local import RunOutcome, run_dag
from headwater.settings import Settings
from headwater.spec import PipelineSpec
from tests.e2e.support import SourceReader, moved, pipeline_home

pytestmark = pytest.mark.e2e


def _fits_this_harness(name: str) -> bool:
    """Bundled, and not one that brings its own end-to-end module (see tests/e2e/support.py)."""
    spec = discovery.load_spec(name)
    expectations = discovery.pipeline_module(spec, "expectations")
    return discovery.is_bundled(spec) and not getattr(expectations, "OWN_E2E", False)


PIPELINES = [n for n in discovery.available_pipelines() if _fits_this_harness(n)]
BACKENDS = ("duckdb", "postgres")


@dataclass
class Run:
    outcome: RunOutcome
    expected: dict[str, Any]
    """Figures from the source, right after the run."""
    actual: dict[str, Any]
    """The same figures from the marts, right after the run."""
    moved: dict[str, int] = field(default_factory=dict)
    advanced: Any = None
    """What the generator's advance() reported before this run."""

    @property
    def tasks(self) -> dict[str, str]:
        return self.outcome.tasks


@dataclass
class Runs:
    pipeline: str
    spec: PipelineSpec
    expectations: ModuleType
    settings: Settings
    wh: Any
    runs: list[Run]
    watermarks: dict[str, str]
    """Per table, the watermark after the first run (where the second run's extract starts)."""
    src: SourceReader

    def mart(self, model: str) -> str:
        return marts.relation(self.pipeline, model, self.settings.home)


@pytest.fixture(scope="module", params=[(p, b) for p in PIPELINES for b in BACKENDS], ids="-".join)
def runs(request, tmp_path_factory) -> Iterator[Runs]:
    from headwater.warehouse import open_warehouse

    pipeline, backend = request.param
    spec = discovery.load_spec(pipeline)
    expectations = discovery.pipeline_module(spec, "expectations")
    generator = discovery.pipeline_module(spec, "generator")
    if expectations is None or generator is None:
        pytest.fail(f"{pipeline}: the end-to-end test needs its expectations.py and generator.py")
    with pipeline_home(request, tmp_path_factory, spec, backend) as settings:
        url = settings.source_url_for(spec)
        schema = {"schema": spec.source.schema} if spec.source.schema else {}
        seed = 11 if backend == "duckdb" else 12
        as_of = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - expectations.AS_OF_LAG
        hour = getattr(expectations, "AS_OF_HOUR", None)
        if hour is not None:  # a source whose advance depends on the hour it ends at
            as_of = as_of.replace(hour=hour, minute=0, second=0) - timedelta(days=as_of.hour < hour)
        generator.generate(url, seed=seed, as_of=as_of, **expectations.GENERATE, **schema)
        src = SourceReader(url, spec.source.schema)
        wh = open_warehouse(settings.warehouse_url)

        def run(conf: dict | None = None, advanced: Any = None) -> Run:
            outcome = run_dag(settings, pipeline, conf)
            assert outcome.state == "success", f"run failed; log: {outcome.log}\n{outcome.tasks}"
            mart = lambda m: marts.relation(pipeline, m, settings.home)  # noqa: E731
            return Run(
                outcome,
                expectations.from_source(src),
                expectations.from_marts(wh, mart),
                moved(wh, outcome.run_id or ""),
                advanced,
            )

        first = run()
        watermarks = {t: s.watermark for t, s in wh.watermarks(pipeline).items()}
        advanced = generator.advance(
            url, seed=seed, as_of=as_of + expectations.ADVANCE_BY, **expectations.ADVANCE, **schema
        )
        second = run(advanced=advanced)
        third = run()
        yield Runs(pipeline, spec, expectations, settings, wh, [first, second, third], watermarks, src)


def test_the_first_run_builds_marts_that_match_the_source(runs: Runs):
    first = runs.runs[0]
    if "docs" in runs.spec.dbt_steps:
        assert first.tasks["dbt_docs"] == "success"
        assert (runs.settings.home / "dbt" / runs.pipeline / "target" / "index.html").exists()
    failures = runs.wh.query(
        "SELECT count(*) FROM wh.headwater.dbt_results WHERE run_id = ? AND status IN ('fail', 'error')",
        [first.outcome.run_id],
    )
    assert failures == [(0,)]
    for figure, expected in first.expected.items():
        assert first.actual[figure] == expected, figure


def test_the_second_run_moves_only_what_changed_and_the_marts_follow(runs: Runs):
    _, second, _ = runs.runs
    for t in runs.spec.tables:
        mark = datetime.fromisoformat(runs.watermarks[t.name])
        at_or_after, after_mark = runs.src.rows(
            f'SELECT count(*), count(*) FILTER (WHERE "{t.cursor}" > ?) '
            f'FROM "{t.name}" WHERE "{t.cursor}" >= ?',
            (mark, mark),
        )[0]
        # rows at the watermark are re-read; with nothing newer the extract is skipped
        assert second.moved.get(t.name, 0) == (at_or_after if after_mark else 0), t.name
    for figure, expected in second.expected.items():
        assert second.actual[figure] == expected, figure
    if "docs" in runs.spec.dbt_steps:  # rows changed, the project did not: the docs stand
        built = [t for t, state in second.tasks.items() if t.startswith("dbt_") and state == "success"]
        assert second.tasks["dbt_docs"] == "skipped" and set(built) - {"dbt_source_freshness"}
    runs.expectations.check_after_advance(runs.wh, runs.mart, runs.runs[0].expected, second.expected, second)


def test_a_run_with_nothing_new_skips_every_extract_and_every_dbt_step_but_freshness(runs: Runs):
    from headwater import transform_gate

    _, second, third = runs.runs
    extracts = {k: v for k, v in third.tasks.items() if k.startswith("extract[")}
    assert len(extracts) == len(runs.spec.tables) and set(extracts.values()) == {"skipped"}
    for step in runs.spec.dbt_steps:
        expected = "skipped" if transform_gate.is_gated(runs.spec, step) else "success"
        assert third.tasks[f"dbt_{step}"] == expected, step
    decisions = runs.wh.query(
        "SELECT run_id, decision, reason, outcome FROM wh.headwater.transforms WHERE pipeline = ? "
        "ORDER BY decided_at",
        [runs.pipeline],
    )
    ids = [r.outcome.run_id for r in runs.runs]
    assert [(d[0], d[1], d[3]) for d in decisions] == [
        (ids[0], "run", "success"),
        (ids[1], "run", "success"),
        (ids[2], "skip", "success"),
    ]
    assert "rows were loaded" in decisions[1][2] and "nothing changed" in decisions[2][2]
    assert not any(third.moved.values())
    assert third.actual == second.actual == third.expected


def test_the_run_ledger_has_one_row_per_run_consistent_with_the_load_ledger(runs: Runs):
    rows = runs.wh.query(
        "SELECT run_id, outcome, rows_loaded, alert FROM wh.headwater.runs "
        "WHERE pipeline = ? ORDER BY ended_at",
        [runs.pipeline],
    )
    assert [(r[0], r[1], r[3]) for r in rows] == [(r.outcome.run_id, "success", None) for r in runs.runs]
    changed = runs.wh.query(
        "SELECT sum(rows_changed) FROM wh.headwater.load_ledger WHERE run_id = ?",
        [runs.runs[1].outcome.run_id],
    )
    assert rows[1][2] == changed[0][0] > 0 and rows[2][2] == 0


def test_deletes_at_the_source_are_marked_in_raw_and_left_out_downstream(runs: Runs):
    """Tables with ``deletes: detect``: after the advance deleted rows at the source, the raw
    table's live keys are exactly the source's keys (read with the source's own driver), the
    rest are marked ``_deleted_at`` by the second run's check (recorded in the ledger), and
    staging leaves them out (the marts follow: the figures compared above)."""
    tables = [t for t in runs.spec.tables if t.deletes is not None]
    if not tables:
        assert "detect_deletes" not in runs.runs[0].tasks
        return
    # The first run loads every table whole (full mode): nothing gone can be left in raw, so
    # the check is skipped with its reason, and recorded nowhere.
    assert runs.runs[0].tasks["detect_deletes"] == "skipped"
    first_checks = runs.wh.query(
        "SELECT count(*) FROM wh.headwater.reconciliations WHERE run_id = ? AND kind = 'deletes'",
        [runs.runs[0].outcome.run_id],
    )
    assert first_checks == [(0,)]
    second = runs.runs[1]
    assert second.tasks["detect_deletes"] == "success"
    marked_total = 0
    for t in tables:
        keys = ", ".join(f'"{c}"' for c in t.primary_key)
        source_keys = {tuple(map(str, r)) for r in runs.src.rows(f'SELECT {keys} FROM "{t.name}"')}
        raw = runs.wh.query(
            f'SELECT {keys}, "_deleted_at" IS NOT NULL FROM wh."{runs.spec.raw_schema}"."{t.name}"'
        )
        live = {tuple(map(str, r[:-1])) for r in raw if not r[-1]}
        marked = {tuple(map(str, r[:-1])) for r in raw if r[-1]}
        assert live == source_keys, t.name
        assert not marked & source_keys, t.name
        ledger = runs.wh.query(
            "SELECT sum(rows_marked_deleted) FROM wh.headwater.reconciliations "
            "WHERE pipeline = ? AND table_name = ? AND kind = 'deletes'",
            [runs.pipeline, t.name],
        )
        assert ledger[0][0] == len(marked), t.name
        marked_total += len(marked)
    assert marked_total > 0, "the advance deleted rows at the source and the check marked them"
    third_checks = runs.wh.query(
        "SELECT count(*) FROM wh.headwater.reconciliations "
        "WHERE pipeline = ? AND run_id = ? AND kind = 'deletes'",
        [runs.pipeline, runs.runs[2].outcome.run_id],
    )
    assert third_checks[0][0] == len(tables), "the third run checked every table again"


def test_every_bundled_pipeline_has_what_this_test_needs():
    for name in PIPELINES:
        spec = discovery.load_spec(name)
        for module in ("generator", "expectations"):
            assert (spec.folder / f"{module}.py").is_file(), f"{name}: {module}.py"

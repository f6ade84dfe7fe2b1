"""Overview queries on a hand-made metadata schema (two pipelines, several runs, failures,
quarantine), the status rule, and the formatting helpers. Fast: no DAG run."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from headwater.dashboard import fmt, queries
from headwater.dashboard.db import Reader
from headwater.dashboard.views.overview import run_status
from headwater.warehouse import open_warehouse

T0 = datetime(2026, 3, 1, 10, 0, 0)


def _ledger(con, pipeline, table, run_id, rows, changed, quarantined, at):
    con.execute(
        "INSERT INTO wh.headwater.load_ledger (pipeline, table_name, run_id, batch_id, mode, rows_in_batch, "
        "rows_changed, rows_deleted, rows_quarantined, watermark_before, watermark_after, loaded_at, "
        "duration_seconds) VALUES (?, ?, ?, ?, 'incremental', ?, ?, 0, ?, NULL, NULL, ?, 0.5)",
        [pipeline, table, run_id, run_id, rows, changed, quarantined, at],
    )


def _dbt(con, pipeline, run_id, step, status, n, at, resource_type="test"):
    for i in range(n):
        con.execute(
            "INSERT INTO wh.headwater.dbt_results (pipeline, run_id, step, unique_id, resource_type, status, "
            "execution_time, rows_affected, failures, message, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, 0.1, NULL, ?, ?, ?)",
            [
                pipeline,
                run_id,
                step,
                f"{resource_type}.{pipeline}.{step}_{status}_{i}",
                resource_type,
                status,
                3 if status in ("warn", "fail") else 0,
                "Got 3 results" if status in ("warn", "fail") else "",
                at,
            ],
        )


def _quarantine(con, pipeline, table, run_id, n, at):
    for _ in range(n):
        con.execute(
            "INSERT INTO wh.headwater.quarantine (pipeline, table_name, run_id, batch_id, reason, record, "
            "quarantined_at) VALUES (?, ?, ?, ?, 'NULL in primary key (id)', '{}', ?)",
            [pipeline, table, run_id, run_id, at],
        )


def _watermark(con, pipeline, table, value, cursor_type):
    con.execute(
        "INSERT INTO wh.headwater.watermarks (pipeline, table_name, cursor_column, cursor_type, watermark) "
        "VALUES (?, ?, 'updated_at', ?, ?)",
        [pipeline, table, cursor_type, value],
    )


@pytest.fixture
def meta_url(tmp_path: Path) -> str:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    with wh.session() as con:
        wh.ensure_metadata(con)
        # alpha: an older full run, then a newer one with quarantine, a warning and a failure.
        _ledger(con, "alpha", "orders", "a1", 100, 100, 0, T0)
        _ledger(con, "alpha", "customers", "a1", 50, 50, 1, T0 + timedelta(seconds=5))
        _dbt(con, "alpha", "a1", "staging", "success", 2, T0 + timedelta(minutes=1), "model")
        _dbt(con, "alpha", "a1", "test_all", "pass", 4, T0 + timedelta(minutes=2))
        _quarantine(con, "alpha", "customers", "a1", 1, T0)
        t1 = T0 + timedelta(days=1)
        _ledger(con, "alpha", "orders", "a2", 5, 4, 2, t1)
        _quarantine(con, "alpha", "orders", "a2", 2, t1)
        _dbt(con, "alpha", "a2", "source_freshness", "warn", 1, t1, "source")
        _dbt(con, "alpha", "a2", "source_tests", "pass", 2, t1 + timedelta(seconds=30))
        _dbt(con, "alpha", "a2", "staging", "success", 2, t1 + timedelta(minutes=1), "model")
        _dbt(con, "alpha", "a2", "snapshot", "success", 1, t1 + timedelta(minutes=1), "snapshot")
        _dbt(con, "alpha", "a2", "core", "success", 1, t1 + timedelta(minutes=1), "model")
        _dbt(con, "alpha", "a2", "core", "error", 1, t1 + timedelta(minutes=1), "model")
        _dbt(con, "alpha", "a2", "test_all", "pass", 3, t1 + timedelta(minutes=2))
        _dbt(con, "alpha", "a2", "test_all", "warn", 1, t1 + timedelta(minutes=2))
        _dbt(con, "alpha", "a2", "test_all", "fail", 1, t1 + timedelta(minutes=2))
        _watermark(con, "alpha", "orders", "2026-03-02 09:00:00", "TIMESTAMP")
        _watermark(con, "alpha", "customers", "2026-03-01 08:00:00", "TIMESTAMP")
        # beta: loaded once, then a run whose extracts were all skipped (only dbt ran).
        _ledger(con, "beta", "events", "b1", 10, 10, 0, T0)
        _dbt(con, "beta", "b2", "test_all", "pass", 2, T0 + timedelta(hours=5))
        _watermark(con, "beta", "events", "12345", "BIGINT")
    return url


def test_pipeline_overview(meta_url: str):
    with Reader(meta_url).session() as con:
        got = queries.pipeline_overview(con).set_index("pipeline")
    assert list(got.index) == ["alpha", "beta"]
    a = got.loc["alpha"]
    assert a["run_id"] == "a2"
    assert a["run_started_at"] == T0 + timedelta(days=1)
    assert a["run_finished_at"] == T0 + timedelta(days=1, minutes=2)
    assert (a["tables_loaded"], a["rows_moved"], a["rows_changed"], a["rows_quarantined_run"]) == (1, 5, 4, 2)
    assert a["last_loaded_at"] == T0 + timedelta(days=1)
    assert a["newest_data_at"] == datetime(2026, 3, 2, 9, 0, 0)
    assert a["quarantined_total"] == 3
    assert (a["models_built"], a["models_failed"]) == (3, 1)  # staging + core; the core error
    assert (a["tests_passed"], a["tests_warned"], a["tests_failed"]) == (5, 1, 1)
    assert a["freshness_status"] == "warn"

    b = got.loc["beta"]
    assert b["run_id"] == "b2"
    assert (b["tables_loaded"], b["rows_moved"], b["rows_quarantined_run"]) == (0, 0, 0)
    assert b["last_loaded_at"] == T0  # the last time anything was loaded, from the older run
    assert pd.isna(b["newest_data_at"])  # no time-typed cursor
    assert (b["tests_passed"], b["tests_warned"], b["tests_failed"]) == (2, 0, 0)
    assert pd.isna(b["freshness_status"])  # the step did not run


def test_details_of_a_run(meta_url: str):
    with Reader(meta_url).session() as con:
        history = queries.load_history(con, "alpha")
        tables = queries.run_tables(con, "alpha", "a2")
        problems = queries.dbt_problems(con, "alpha", "a2")
        quarantine = queries.quarantine_summary(con)
    assert list(history["run_id"]) == ["a1", "a2"]
    assert list(history["rows_moved"]) == [150, 5]
    assert list(tables["table_name"]) == ["orders"]
    # failures and errors first, then warnings (a source freshness warning is one)
    assert list(zip(problems["step"], problems["status"], strict=True)) == [
        ("core", "error"),
        ("test_all", "fail"),
        ("source_freshness", "warn"),
        ("test_all", "warn"),
    ]
    assert {tuple(r) for r in quarantine[["pipeline", "table_name", "rows"]].itertuples(index=False)} == {
        ("alpha", "customers", 1),
        ("alpha", "orders", 2),
    }


def test_an_empty_warehouse_has_no_runs(tmp_path: Path):
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with Reader(f"duckdb:///{path}").session() as con:
        assert queries.pipeline_overview(con).empty
        assert list(queries.pipeline_overview(con).columns) == queries.OVERVIEW_COLUMNS
        assert queries.load_history(con, "x").empty
        assert queries.quarantine_summary(con).empty
        assert queries.missing_tables(con, [("some_core", "fct_x")]) == [("some_core", "fct_x")]


def _row(**kw):
    base = {"models_failed": 0, "tests_failed": 0, "tests_warned": 0, "freshness_status": "pass"}
    return base | kw


@pytest.mark.parametrize(
    ("row", "airflow", "status"),
    [
        (None, None, "never"),
        (None, "failed", "failed"),  # failed before anything reached the warehouse
        (None, "running", "running"),
        (_row(), None, "success"),
        (_row(), "success", "success"),
        (_row(tests_warned=2), None, "warnings"),
        (_row(freshness_status="warn"), "success", "warnings"),
        (_row(tests_failed=1), None, "failed"),
        (_row(models_failed=1), None, "failed"),
        (_row(), "failed", "failed"),
        (_row(), "queued", "queued"),
    ],
)
def test_run_status(row, airflow, status):
    assert run_status(row, airflow) == status


def test_formatting_for_people():
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.count(None) == "–"
    assert fmt.count(float("nan")) == "–"
    assert fmt.money(189593.63) == "€189,594"
    assert fmt.money(101.8226) == "€101.82"
    assert fmt.money(189593.63, cents=True) == "€189,593.63"
    assert fmt.money(-12.5) == "-€12.50"
    assert fmt.percent(0.0923) == "9.2%"
    assert fmt.compact(12_345) == "12.3k"
    assert fmt.compact(4_560_000) == "4.56M"
    assert fmt.compact(999) == "999"
    assert fmt.duration(4.25) == "4.2 s" or fmt.duration(4.25) == "4.3 s"
    assert fmt.duration(75) == "1 min 15 s"
    assert fmt.duration(4000) == "1 h 6 min"
    now = datetime(2026, 3, 2, 12, 0, 0)
    assert fmt.ago(now - timedelta(seconds=20), now) == "just now"
    assert fmt.ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert fmt.ago(now - timedelta(hours=3), now) == "3 h ago"
    assert fmt.ago(now - timedelta(days=3), now) == "3 days ago"
    assert fmt.ago(None) == "never"
    assert fmt.timestamp(now) == "2026-03-02 12:00 UTC"


def test_the_reconcile_line_sums_each_tables_latest_check(meta_url: str, monkeypatch):
    from headwater.dashboard.views.overview import reconcile_text
    from headwater.reconcile import DELETES, RECONCILE, TableReport, record
    from headwater.reconcile.compare import Comparison
    from headwater.settings import Settings

    settings = Settings(
        home=Path("."), warehouse_url=meta_url, lake_url=".", source_url=None, dags_folder=Path(".")
    )
    record(
        settings,
        [TableReport("alpha", "orders", "different", comparison=Comparison(missing=5))],
        RECONCILE,
        "x",
    )
    record(
        settings,
        [TableReport("alpha", "orders", "different", comparison=Comparison(extra=2))],
        RECONCILE,
        "y",
    )
    record(
        settings,
        [TableReport("alpha", "customers", "different", comparison=Comparison(different=1))],
        RECONCILE,
        "y",
    )
    record(settings, [TableReport("alpha", "orders", "equal", marked=3)], DELETES, "y")
    with Reader(meta_url).session() as con:
        summary = queries.reconcile_summary(con)
    [alpha] = summary.to_dict("records")
    got = tuple(alpha[k] for k in ("tables", "missing", "extra", "different", "marked_deleted"))
    assert got == (2, 0, 2, 1, 3)
    line = reconcile_text(alpha)
    assert (
        "2 tables" in line and "0 missing · 2 extra · 1 different" in line and "3 rows marked deleted" in line
    )
    assert "never reconciled" in reconcile_text(None)

"""Run-level alerts: one message per failed run, suppression of repeats, "resolved", the ledger.

``finish_run`` runs here against a real DuckDB warehouse (a temp HEADWATER_HOME) and posts to a
real loopback HTTP receiver through Airflow's Slack provider; only Airflow's task states are
given by hand (the e2e tests take them from real DAG runs).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from headwater.monitoring import run_alerts as ra
from headwater.monitoring.ledger import AlertState
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.slack_receiver import SlackReceiver

SPEC = load_spec("travel_bookings")
T0 = datetime(2026, 3, 1, 6, 0, 0)


def _facts(run_id: str, at: datetime, failed: list[tuple[str, str]], blocked: int = 0) -> ra.RunFacts:
    tasks = [ra.TaskOutcome("plan", -1, "success", 1.0)]
    tasks += [ra.TaskOutcome(label, -1, "failed", 2.0) for label, _ in failed]
    tasks += [ra.TaskOutcome(f"dbt_step_{i}", -1, "upstream_failed") for i in range(blocked)]
    return ra.RunFacts(
        pipeline=SPEC.name,
        run_id=run_id,
        logical_date=at,
        started_at=at - timedelta(minutes=3),
        ended_at=at,
        tasks=tasks,
        failed=[
            ra.FailedTask(label, error, f"http://127.0.0.1:8080/log/{label}", 1) for label, error in failed
        ],
    )


def test_fingerprint_ignores_numbers_and_run_ids_but_not_tasks_or_errors():
    a = ra.fingerprint("p", "run_1", [ra.FailedTask("load[x]", "Error: 12 rows in run_1")], [])
    b = ra.fingerprint("p", "run_2", [ra.FailedTask("load[x]", "Error: 7 rows in run_2")], [])
    c = ra.fingerprint("p", "run_2", [ra.FailedTask("load[y]", "Error: 7 rows in run_2")], [])
    d = ra.fingerprint("p", "run_2", [ra.FailedTask("load[x]", "Other: 7 rows in run_2")], [])
    assert a == b and len({b, c, d}) == 3


def test_decide_posts_suppresses_within_the_window_and_resolves():
    window = timedelta(hours=6)
    action, s1 = ra.decide(AlertState("p", "ok"), "r1", True, "fp", T0, window)
    assert action == "failure" and s1.failed_runs == 1 and s1.first_failed_run == "r1"
    action, s2 = ra.decide(s1, "r2", True, "fp", T0 + timedelta(hours=1), window)
    assert action == "suppressed" and s2.suppressed == 1 and s2.last_posted_at == T0
    action, s3 = ra.decide(s2, "r3", True, "fp", T0 + timedelta(hours=7), window)
    assert action == "failure" and s3.suppressed == 0 and s3.failed_runs == 3 and s3.first_failed_run == "r1"
    action, s4 = ra.decide(s3, "r4", True, "other", T0 + timedelta(hours=7, minutes=5), window)
    assert action == "failure", "a different failure is always posted"
    action, s5 = ra.decide(s4, "r5", False, None, T0 + timedelta(hours=8), window)
    assert action == "resolved" and s5.state == "ok" and s5.failed_runs == 0
    action, _ = ra.decide(s5, "r6", False, None, T0 + timedelta(hours=9), window)
    assert action is None


def test_failure_message_lists_failed_tasks_counts_the_skipped_and_caps_the_list():
    failed = [(f"load[t{i:02}]", f"TerminalError: table t{i:02} broke") for i in range(12)]
    facts = _facts("manual__x", T0, failed, blocked=9)
    facts.tables = {"t00": {"extracted": 1200, "loaded": 1000, "quarantined": 5}}
    payload = ra.failure_message(facts, AlertState("p", "ok"), "http://127.0.0.1:8080/dags/p/runs/x", None)
    text = json.dumps(payload)
    assert (
        payload["text"]
        == ":red_circle: travel_bookings: run manual__x failed: 12 tasks failed, 9 downstream tasks not run"
    )
    assert "load[t09]" in text and "load[t10]" not in text and "and 2 more failed tasks" in text
    assert "dbt_step_" not in text, "skipped tasks are counted, not listed"
    assert "1,000 loaded into 1 table (1,200 extracted), 5 quarantined" in text
    assert "<http://127.0.0.1:8080/dags/p/runs/x|Airflow run>" in text


@pytest.fixture
def warehouse(hw_home, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    monkeypatch.delenv(ra.SUPPRESS_ENV, raising=False)
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    with wh.session() as con:
        wh.ensure_metadata(con)
    return settings, wh


def test_finish_run_posts_once_suppresses_the_repeat_and_resolves(warehouse, monkeypatch):
    settings, wh = warehouse
    test_id = "test.travel_bookings.not_null_booking_status.abc"
    for run in ("r1", "r2"):
        wh.record_dbt_results(SPEC.name, run, "test_all", [
            {"unique_id": test_id, "resource_type": "test", "status": "fail", "execution_time": 0.1,
             "failures": 4},
            {"unique_id": "test.travel_bookings.ok", "resource_type": "test", "status": "pass",
             "execution_time": 0.1, "failures": 0},
        ])  # fmt: skip
    error = [("dbt_test_all", "TerminalError: dbt step test_all failed: 1 test")]
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        r1 = ra.finish_run(SPEC, settings, _facts("r1", T0, error, blocked=1), "http://127.0.0.1:8080")
        r2 = ra.finish_run(SPEC, settings, _facts("r2", T0 + timedelta(hours=1), error, blocked=1))
        assert len(slack.posts) == 1, "the identical repeat is not re-posted"
        r3 = ra.finish_run(SPEC, settings, _facts("r3", T0 + timedelta(hours=2), []))
    assert [r.alert for r in (r1, r2, r3)] == ["posted", "suppressed", "resolved"]
    assert [r.outcome for r in (r1, r2, r3)] == ["failed", "failed", "success"]
    assert r1.dbt_tests_failed == 1 and r1.dbt_tests_passed == 1 and r1.tasks_upstream_failed == 1
    failure, resolved = (p["json"] for p in slack.posts)
    assert f"`{test_id}`: fail, 4 failing rows" in json.dumps(failure)
    assert "/dags/travel_bookings/runs/r1" in json.dumps(failure)
    assert (
        resolved["text"]
        == ":large_green_circle: travel_bookings resolved: run r3 succeeded after 2 failed runs"
    )
    assert "1 identical failure alert suppressed" in json.dumps(resolved)
    rows = wh.query(
        "SELECT run_id, outcome, alert, duration_seconds FROM wh.headwater.runs ORDER BY ended_at"
    )
    assert rows == [("r1", "failed", "posted", 180.0), ("r2", "failed", "suppressed", 180.0),
                    ("r3", "success", "resolved", 180.0)]  # fmt: skip
    assert wh.query("SELECT state, failed_runs FROM wh.headwater.alerts") == [("ok", 0)]


def test_a_zero_window_reposts_every_failure(warehouse, monkeypatch):
    settings, _ = warehouse
    monkeypatch.setenv(ra.SUPPRESS_ENV, "0")
    error = [("extract", "SourceError: table gone")]
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        for i in range(3):
            ra.finish_run(SPEC, settings, _facts(f"r{i}", T0 + timedelta(minutes=i), error))
    assert len(slack.posts) == 3


def test_an_undelivered_alert_is_tried_again_next_time(warehouse, monkeypatch):
    settings, _ = warehouse
    error = [("extract", "SourceError: table gone")]
    monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", "http://127.0.0.1:9/unreachable")
    assert ra.finish_run(SPEC, settings, _facts("r1", T0, error)).alert == "not delivered"
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        assert ra.finish_run(SPEC, settings, _facts("r2", T0 + timedelta(minutes=5), error)).alert == "posted"
    assert len(slack.posts) == 1


def test_the_message_links_the_dbt_docs(hw_home, monkeypatch):
    settings = Settings.from_env()
    monkeypatch.delenv(ra.DOCS_URL_ENV, raising=False)
    assert ra.docs_link(SPEC, settings) is None  # no docs generated yet
    index = settings.home / "dbt" / SPEC.name / "target" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html></html>")
    assert ra.docs_link(SPEC, settings) == f"file://{index}"
    monkeypatch.setenv(ra.DOCS_URL_ENV, "https://docs.example.org/travel_bookings/")
    docs = ra.docs_link(SPEC, settings)
    payload = ra.failure_message(_facts("r1", T0, [("extract", "E: x")]), AlertState("p", "ok"), None, docs)
    assert "<https://docs.example.org/travel_bookings/|dbt docs>" in json.dumps(payload)

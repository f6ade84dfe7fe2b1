"""Slack alerts: content, secret masking, and delivery through Airflow's Slack provider."""

from __future__ import annotations

import json
from types import SimpleNamespace

from headwater import notify
from tests.slack_receiver import SlackReceiver


def _context(error: Exception):
    ti = SimpleNamespace(
        dag_id="travel_bookings",
        task_id="extract_load.extract",
        map_index=2,
        run_id="manual__2026-03-01",
        try_number=1,
        log_url="http://127.0.0.1:8080/dags/travel_bookings/runs/x/tasks/y",
    )
    return {
        "task_instance": ti,
        "dag_run": SimpleNamespace(run_id="manual__2026-03-01", logical_date=None),
        "logical_date": "2026-03-01T00:00:00+00:00",
        "exception": error,
    }


def test_message_names_dag_task_run_log_and_error_first_line():
    error = ValueError("table booking is missing\n  Traceback line 2\n  line 3")
    payload = notify.failure_message(_context(error))
    text = json.dumps(payload)
    for expected in (
        "travel_bookings",
        "extract_load.extract[2]",
        "manual__2026-03-01",
        "2026-03-01T00:00:00",
        "ValueError: table booking is missing",
        "Task log",
        "http://127.0.0.1:8080/dags/travel_bookings",
    ):
        assert expected in text, expected
    assert "Traceback line 2" not in text, "only the error's first line, not the wall of traceback"


def test_secrets_never_reach_the_message(monkeypatch):
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", "postgresql://loader:Pl4nted-Secret@db:5432/wh")
    monkeypatch.setenv("SOME_API_TOKEN", "tok-abcdef123456")
    error = RuntimeError(
        "could not connect postgresql://loader:Pl4nted-Secret@db:5432/wh token=tok-abcdef123456"
    )
    text = json.dumps(notify.failure_message(_context(error)))
    assert "Pl4nted-Secret" not in text and "tok-abcdef123456" not in text
    assert "loader:***@db" in text


def test_alert_is_posted_to_the_webhook_through_the_slack_provider(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        notify.task_failed(_context(KeyError("boom")))
    assert len(slack.posts) == 1
    post = slack.posts[0]
    assert post["path"] == "/services/T000/B000/hook"
    assert "travel_bookings" in post["json"]["text"]
    assert any("KeyError" in json.dumps(b) for b in post["json"]["blocks"])


def test_without_a_webhook_the_alert_is_only_logged(monkeypatch, caplog):
    monkeypatch.delenv("HEADWATER_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    caplog.set_level("WARNING")
    notify.task_failed(_context(KeyError("boom")))  # must not raise
    assert "no Slack webhook configured" in caplog.text

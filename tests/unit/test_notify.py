"""Slack delivery and failure records: content, secret masking, the Slack provider for real."""

from __future__ import annotations

import json
from types import SimpleNamespace

from headwater import notify
from tests.slack_receiver import SlackReceiver


class FakeTI(SimpleNamespace):
    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value


def _context(error: Exception):
    ti = FakeTI(
        dag_id="travel_bookings",
        task_id="extract",
        map_index=2,
        rendered_map_index="ticket_segment",
        run_id="manual__2026-03-01",
        try_number=1,
        log_url="http://127.0.0.1:8080/dags/travel_bookings/runs/x/tasks/extract",
        pushed={},
    )
    return {"task_instance": ti, "exception": error}


def test_first_line_skips_traceback_noise():
    error = ValueError(
        'Traceback (most recent call last):\n  File "x.py", line 3\ntable booking is missing\nmore'
    )
    assert notify.first_line(error) == "ValueError: table booking is missing"
    assert notify.first_line(KeyError("k")) == "KeyError: 'k'"
    assert notify.first_line(None) == "(no exception recorded)"


def test_a_failed_task_records_its_first_error_line_for_the_run_report():
    context = _context(ValueError("table booking is missing\n  Traceback line 2\n  line 3"))
    notify.task_failed(context)
    record = context["task_instance"].pushed[notify.FAILURE_XCOM_KEY]
    assert record == {
        "task_id": "extract",
        "map_index": 2,
        "label": "ticket_segment",
        "try_number": 1,
        "error": "ValueError: table booking is missing",
        "log_url": "http://127.0.0.1:8080/dags/travel_bookings/runs/x/tasks/extract",
    }


def test_secrets_never_reach_the_failure_record(monkeypatch):
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", "postgresql://loader:Pl4nted-Secret@db:5432/wh")
    monkeypatch.setenv("SOME_API_TOKEN", "tok-abcdef123456")
    context = _context(
        RuntimeError("could not connect postgresql://loader:Pl4nted-Secret@db:5432/wh token=tok-abcdef123456")
    )
    notify.task_failed(context)
    text = json.dumps(context["task_instance"].pushed)
    assert "Pl4nted-Secret" not in text and "tok-abcdef123456" not in text
    assert "loader:***@db" in text


def test_send_posts_through_the_slack_provider_and_redacts(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    monkeypatch.setenv("SOME_SECRET", "s3cr3t-value-xyz")
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        delivered = notify.send(
            {
                "text": "pipeline x failed (s3cr3t-value-xyz)",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "KeyError: s3cr3t-value-xyz"}}
                ],
            }  # fmt: skip
        )
    assert delivered
    assert len(slack.posts) == 1
    post = slack.posts[0]
    assert post["path"] == "/services/T000/B000/hook"
    assert post["json"]["text"] == "pipeline x failed (***)"
    assert "s3cr3t-value-xyz" not in json.dumps(post["json"])
    assert "KeyError: ***" in json.dumps(post["json"]["blocks"])


def test_without_a_webhook_the_alert_is_only_logged(monkeypatch, caplog):
    monkeypatch.delenv("HEADWATER_SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    caplog.set_level("WARNING")
    assert notify.send({"text": "boom", "blocks": []}) is False  # must not raise
    assert "no Slack webhook configured" in caplog.text

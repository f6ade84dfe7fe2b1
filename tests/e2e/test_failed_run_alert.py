"""A failed DAG run, for real through Airflow: one Slack message for the run, naming the cause.

(The successful runs of every pipeline, on DuckDB and Postgres, are in test_pipelines.py.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from headwater.orchestration.local import run_dag
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e
SPEC = load_spec("travel_bookings")


def test_a_failed_run_posts_one_slack_alert_for_the_run(hw_home: Path, monkeypatch):
    settings = Settings.from_env()
    url = SPEC.source_url(settings.home)
    generator.generate(url, scale=0.02, seed=1)
    con = sqlite3.connect(url[len("sqlite:///") :])
    con.execute("DROP TABLE ticket_segment")  # the source lost a table the spec names
    con.commit()
    con.close()
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        outcome = run_dag(settings, SPEC.name)
    assert outcome.state == "failed"
    failed = [t for t, s in outcome.tasks.items() if s == "failed"]
    # report_run fails on purpose (after posting) so that the run stays failed
    assert failed == ["extract[ticket_segment]", "report_run"], outcome.tasks
    assert len(slack.posts) == 1, "one message for the run, not one per task"
    text = str(slack.posts[0]["json"])
    for expected in (
        "travel_bookings",
        "extract",
        outcome.run_id,
        "SourceError",
        "ticket_segment",
        "task log",
    ):
        assert expected in text, f"{expected!r} not in {text}"

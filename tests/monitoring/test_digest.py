"""The daily digest: per pipeline runs, rows, freshness and warnings, posted to a real receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

from headwater.monitoring.digest import digest_message, read_digest
from headwater.monitoring.ledger import RunRecord, record_freshness, record_run, utcnow
from headwater.settings import Settings
from headwater.warehouse import open_warehouse
from tests.slack_receiver import SlackReceiver


def _ledger(wh, now: datetime) -> None:
    for i, (outcome, loaded, warned) in enumerate(
        (("success", 100, 1), ("success", 50, 0), ("failed", 7, 0))
    ):
        ended = now - timedelta(hours=3 - i)
        record_run(
            wh,
            RunRecord("p", f"r{i}", ended, ended, ended, outcome, 1.0, rows_loaded=loaded, rows_quarantined=i,
                      dbt_tests_warned=warned),
            None,
        )  # fmt: skip
    old = now - timedelta(hours=30)
    record_run(wh, RunRecord("p", "old", old, old, old, "success", 1.0, rows_loaded=10_000), None)
    record_freshness(wh, "p", "r1", [
        {"source": "source.p.s.a", "table_name": "a", "max_loaded_at": now - timedelta(hours=5),
         "snapshotted_at": now, "age_seconds": 5 * 3600.0, "status": "pass", "warn_after_seconds": 86400.0,
         "error_after_seconds": 172800.0},
        {"source": "source.p.s.b", "table_name": "b", "max_loaded_at": now - timedelta(hours=50),
         "snapshotted_at": now, "age_seconds": 50 * 3600.0, "status": "warn", "warn_after_seconds": 86400.0,
         "error_after_seconds": 259200.0},
    ])  # fmt: skip


def test_digest_counts_the_last_day_only(hw_home):
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    now = utcnow()
    _ledger(wh, now)
    (day,) = read_digest(settings.warehouse_url, 24, now)
    assert (day.runs_ok, day.runs_failed, day.rows_loaded, day.rows_quarantined, day.tests_warned) == (
        2, 1, 157, 3, 1,
    )  # fmt: skip
    assert day.stale_sources == 1 and round(day.oldest_source_age_seconds) == 50 * 3600
    text = json.dumps(digest_message([day]))
    assert "2 ok / 1 failed runs, 157 rows loaded, 3 quarantined; newest source data 50.0 h old" in text
    assert "1 dbt test warning, 1 source table past freshness" in text


def test_digest_command_posts_to_slack(hw_home, monkeypatch):
    settings = Settings.from_env()
    _ledger(open_warehouse(settings.warehouse_url), utcnow())
    monkeypatch.delenv("AIRFLOW_CONN_HEADWATER_SLACK", raising=False)
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)

        proc = subprocess.run(
            [sys.executable, "-m", "headwater.cli", "digest", "--post"],
            env=dict(os.environ), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(slack.posts) == 1
    assert slack.posts[0]["json"]["text"].startswith(":bar_chart: Headwater digest, last 24 h: 1 pipeline")

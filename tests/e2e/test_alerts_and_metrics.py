"""Run-level Slack alerts, the run ledger, `headwater status` and Prometheus metrics, for real.

One module-scoped scenario drives the travel_bookings DAG through Airflow (``airflow dags
test``) four times against a loopback Slack receiver:

1. the source lost a table: the extract fails -> one message for the run;
2. the source is back but 3 bookings have an invalid status: dbt's source tests fail ->
   one message naming the failed test and its 3 failing rows, with the rows loaded so far;
3. nothing changed, so the run fails identically -> suppressed (no post), counted;
4. the bookings are fixed -> the run succeeds -> one "resolved" message.

Then `headwater metrics` serves the ledger and a real Prometheus scrapes it; PromQL answers
are compared with the ledger and with figures known from the scenario and the source.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta

import pytest

from headwater.orchestration.local import airflow_environ, run_dag
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.monitoring.promserver import Prometheus, free_port, stop, wait_for_http
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e
SPEC = load_spec("travel_bookings")
BAD_STATUS = "zz-not-a-status"  # + a number: distinct values, so each is one failing row
N_BAD = 3
STATUS_TEST = "source_accepted_values_travel_booking_status"


def _sqlite(url: str):
    return sqlite3.connect(url[len("sqlite:///") :])


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    home = tmp_path_factory.mktemp("alerts") / "hw"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp, SlackReceiver() as slack:
        mp.setenv("HEADWATER_HOME", str(home))
        for var in ("HEADWATER_WAREHOUSE_URL", "HEADWATER_LAKE_URL", "HEADWATER_SOURCE_URL", "AIRFLOW_HOME",
                    "AIRFLOW_CONN_HEADWATER_SLACK", "HEADWATER_ALERT_SUPPRESS_HOURS"):  # fmt: skip
            mp.delenv(var, raising=False)
        mp.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        settings = Settings.from_env()
        url = SPEC.source_url(settings.home)
        as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
        generator.generate(url, scale=0.02, seed=3, as_of=as_of)
        con = _sqlite(url)
        con.execute("DROP TABLE ticket_segment")
        con.commit()
        con.close()
        runs, posts_after = [], []
        runs.append(run_dag(settings, "travel_bookings"))
        posts_after.append(len(slack.posts))

        generator.generate(url, scale=0.02, seed=3, as_of=as_of)
        con = _sqlite(url)
        bad = [
            r[0] for r in con.execute("SELECT booking_id FROM booking ORDER BY booking_id LIMIT ?", [N_BAD])
        ]
        con.executemany(
            "UPDATE booking SET status = ? WHERE booking_id = ?",
            [(f"{BAD_STATUS}-{i}", b) for i, b in enumerate(bad)],
        )
        con.commit()
        counts = {t.name: con.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0] for t in SPEC.tables}
        con.close()
        runs.append(run_dag(settings, "travel_bookings"))
        posts_after.append(len(slack.posts))
        runs.append(run_dag(settings, "travel_bookings"))
        posts_after.append(len(slack.posts))

        wh = open_warehouse(settings.warehouse_url)
        booking_mark = wh.watermarks("travel_bookings")["booking"].watermark
        con = _sqlite(url)
        fixed_at = (as_of + timedelta(minutes=1)).isoformat(sep=" ")
        con.execute(
            "UPDATE booking SET status = 'confirmed', updated_at = ? WHERE status LIKE ?",
            [fixed_at, BAD_STATUS + "%"],
        )
        con.commit()
        run4_booking = con.execute(
            "SELECT count(*) FROM booking WHERE updated_at >= ?", [booking_mark]
        ).fetchone()[0]
        con.close()
        runs.append(run_dag(settings, "travel_bookings"))
        posts_after.append(len(slack.posts))
        yield {
            "settings": settings,
            "runs": runs,
            "posts": slack.posts,
            "posts_after": posts_after,
            "counts": counts,
            "run4_booking": run4_booking,
            "env": dict(os.environ),
        }


def _text(post: dict) -> str:
    return json.dumps(post["json"])


def test_outcomes_of_the_four_runs(scenario):
    states = [r.state for r in scenario["runs"]]
    assert states == ["failed", "failed", "failed", "success"], [(r.state, r.log) for r in scenario["runs"]]
    # exactly one post for each of runs 1 and 2, none for the repeat, one "resolved"
    assert scenario["posts_after"] == [1, 2, 2, 3]


def test_extract_failure_is_one_message_with_the_first_error_line(scenario):
    run, post = scenario["runs"][0], scenario["posts"][0]
    text = _text(post)
    assert post["json"]["text"].startswith(":red_circle: travel_bookings: run ")
    for expected in (run.run_id, "extract[ticket_segment]", "SourceError", "task log", "Airflow run"):
        assert expected in text, f"{expected!r} not in {text}"
    assert "Traceback" not in text and 'File \\"' not in text
    blocked = sum(1 for s in run.tasks.values() if s == "upstream_failed")
    assert blocked > 0 and f"{blocked} downstream tasks not run" in text
    assert "extract[booking]" not in text, "only failed tasks are listed"


def test_dbt_test_failure_message_has_the_test_its_failing_rows_and_rows_loaded(scenario):
    run, post = scenario["runs"][1], scenario["posts"][1]
    assert [t for t, s in run.tasks.items() if s == "failed"] == ["dbt_source_tests", "report_run"]
    text = _text(post)
    assert STATUS_TEST in text and f"{N_BAD} failing rows" in text, text
    loaded = sum(scenario["counts"].values())
    assert f"{loaded:,} loaded into {len(SPEC.tables)} tables" in text, text
    assert "0 quarantined" in text
    blocked = sum(1 for s in run.tasks.values() if s == "upstream_failed")
    assert f"{blocked} downstream tasks not run" in text
    # counts and identifiers only: no row contents, no secrets
    for post_ in scenario["posts"]:
        assert BAD_STATUS not in _text(post_)
        assert "/services/T000/B000/hook" not in _text(post_)


def test_repeat_is_suppressed_and_the_recovery_posts_resolved(scenario):
    resolved = scenario["posts"][2]["json"]
    assert resolved["text"].startswith(":large_green_circle: travel_bookings resolved")
    assert scenario["runs"][3].run_id in resolved["text"]
    assert "after 3 failed runs" in resolved["text"]
    assert "1 identical failure alert suppressed" in json.dumps(resolved)


def test_run_ledger_records_every_run(scenario):
    wh = open_warehouse(scenario["settings"].warehouse_url)
    rows = wh.query(
        "SELECT run_id, outcome, alert, rows_extracted, rows_loaded, tasks_failed, dbt_tests_failed, "
        "started_at <= ended_at FROM wh.headwater.runs WHERE pipeline = 'travel_bookings' ORDER BY ended_at"
    )
    assert [r[0] for r in rows] == [r.run_id for r in scenario["runs"]]
    assert [r[1] for r in rows] == ["failed", "failed", "failed", "success"]
    assert [r[2] for r in rows] == ["posted", "posted", "suppressed", "resolved"]
    assert rows[1][3] == sum(scenario["counts"].values()) == rows[1][4]  # first full load: all new
    assert rows[1][6] == 1 and rows[2][6] == 1 and rows[3][6] == 0
    assert all(r[7] for r in rows)
    # run 4 re-read the fixed bookings (and the rows at the old watermark) and nothing else
    per_table = dict(
        wh.query(
            "SELECT table_name, rows_in_batch FROM wh.headwater.load_ledger WHERE run_id = ?",
            [scenario["runs"][3].run_id],
        )
    )
    assert per_table == {"booking": scenario["run4_booking"]}
    assert rows[3][3] == scenario["run4_booking"]
    ledger = wh.query(
        "SELECT sum(rows_skipped), sum(rows_in_batch - rows_changed - rows_quarantined), min(bytes) "
        "FROM wh.headwater.load_ledger"
    )[0]
    assert ledger[0] == ledger[1] and ledger[2] > 0
    fresh = wh.query(
        "SELECT table_name, status, error_after_seconds FROM wh.headwater.source_freshness "
        "WHERE run_id = ? ORDER BY 1",
        [scenario["runs"][3].run_id],
    )
    assert ("booking", "pass", 3 * 86400.0) in fresh


def test_status_shows_the_latest_run_by_time(scenario):
    env = {**scenario["env"], "COLUMNS": "250"}
    proc = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "status", "travel_bookings"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"last run {scenario['runs'][3].run_id}" in out
    for expected in ("recent runs", "resolved", "suppressed", "watermark before", "freshness", "(pass)"):
        assert expected in out, f"{expected!r} not in:\n{out}"


def test_daily_digest_dag_posts_the_days_runs(scenario, monkeypatch):
    with SlackReceiver() as slack:
        monkeypatch.setenv("HEADWATER_SLACK_WEBHOOK_URL", slack.url)
        outcome = run_dag(scenario["settings"], "headwater_digest")
    assert outcome.state == "success", outcome.log
    assert len(slack.posts) == 1
    text = json.dumps(slack.posts[0]["json"])
    wh = open_warehouse(scenario["settings"].warehouse_url)
    loaded = wh.query("SELECT sum(rows_loaded) FROM wh.headwater.runs")[0][0]
    assert f"*travel_bookings*: 1 ok / 3 failed runs, {loaded:,} rows loaded, 0 quarantined" in text, text


def _scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def test_prometheus_scrapes_the_ledger_figures(scenario, tmp_path):
    from headwater.monitoring.metrics import METRICS

    settings = scenario["settings"]
    port = free_port()
    log = tmp_path / "metrics.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "metrics", "--port", str(port)],
        env=scenario["env"], stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/metrics", proc, log)
        exposition = _scrape(f"http://127.0.0.1:{port}/metrics")
        conditional = {"headwater_airflow_scheduler_heartbeat_age_seconds", "headwater_dbt_test_failures"}
        # exported once `headwater reconcile` ran (tests/monitoring/test_metrics_collector.py)
        conditional |= {"headwater_reconcile_rows", "headwater_reconcile_timestamp_seconds"}
        for name in set(METRICS) - conditional:
            assert f"\n{name}" in exposition or exposition.startswith(name), f"{name} not exported"
        assert "headwater_warehouse_up 1.0" in exposition and "headwater_airflow_up 1.0" in exposition

        wh = open_warehouse(settings.warehouse_url)
        ledger = {
            (t, kind): v
            for t, extracted, loaded, quarantined in wh.query(
                "SELECT table_name, sum(rows_in_batch), sum(rows_changed), sum(rows_quarantined) "
                "FROM wh.headwater.load_ledger WHERE pipeline = 'travel_bookings' GROUP BY 1"
            )
            for kind, v in (("extracted", extracted), ("loaded", loaded), ("quarantined", quarantined))
        }
        # independent of the ledger: run 2 loaded the whole source, run 4 the re-read bookings
        counts = scenario["counts"]
        assert ledger[("booking", "extracted")] == counts["booking"] + scenario["run4_booking"]

        with Prometheus(tmp_path / "prom", f"127.0.0.1:{port}") as prom:
            result = prom.wait_for('headwater_rows_extracted_total{pipeline="travel_bookings"}')
            got = {r["metric"]["table"]: float(r["value"][1]) for r in result}
            assert got == {t: float(ledger[(t, "extracted")]) for t in counts}
            loaded = prom.query('sum(headwater_rows_loaded_total{pipeline="travel_bookings"})')
            assert float(loaded[0]["value"][1]) == sum(ledger[(t, "loaded")] for t in counts)
            runs = prom.query('headwater_runs_total{pipeline="travel_bookings"}')
            assert {r["metric"]["outcome"]: float(r["value"][1]) for r in runs} == {
                "failed": 3.0,
                "success": 1.0,
            }
            assert (
                float(prom.query('headwater_last_run_success{pipeline="travel_bookings"}')[0]["value"][1])
                == 1
            )
            passed = wh.query(
                "SELECT count(*) FROM wh.headwater.dbt_results WHERE run_id = ? AND resource_type = 'test' "
                "AND status = 'pass'",
                [scenario["runs"][3].run_id],
            )[0][0]
            tests = prom.query('headwater_dbt_tests{pipeline="travel_bookings",status="pass"}')
            assert passed > 0 and float(tests[0]["value"][1]) == passed
            lag = prom.query('headwater_watermark_lag_seconds{pipeline="travel_bookings",table="booking"}')
            assert 3600 < float(lag[0]["value"][1]) < 3 * 86400  # the newest booking is ~2 h old
            fresh = prom.query(
                'headwater_source_freshness_seconds{table="booking"} < headwater_source_freshness_sla_seconds'
            )
            assert len(fresh) == 1
            pool = prom.query('headwater_airflow_pool_slots{pool="headwater_duckdb",state="total"}')
            assert float(pool[0]["value"][1]) == 1
            db = airflow_environ(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
            con = sqlite3.connect(db)
            default_slots, import_errors = con.execute(
                "SELECT (SELECT slots FROM slot_pool WHERE pool = 'default_pool'), "
                "(SELECT count(*) FROM import_error)"
            ).fetchone()
            con.close()
            default = prom.query('headwater_airflow_pool_slots{pool="default_pool",state="total"}')
            assert float(default[0]["value"][1]) == default_slots
            assert float(prom.query("headwater_airflow_import_errors")[0]["value"][1]) == import_errors
    finally:
        stop(proc)
    assert "Prometheus metrics on http://127.0.0.1:" in log.read_text()

"""The travel_bookings DAG, run for real by Airflow (``airflow dags test``), end to end.

Embedded default (SQLite source, Parquet lake, DuckDB warehouse) and production-like
(Postgres source and warehouse). Every expected figure is computed from the source database
with its own driver and the dbt seed's exchange rates, never read back from what the
pipeline produced.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from headwater.orchestration.local import run_dag
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e
SPEC = load_spec("travel_bookings")
RATES = {
    r["currency_code"]: Decimal(r["eur_rate"])
    for r in csv.DictReader((SPEC.dbt_project_dir / "seeds" / "currencies.csv").open())
}


class Source:
    """Reads the source database directly (sqlite3 or psycopg), for expected values."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.url.startswith("sqlite:///"):
            con = sqlite3.connect(self.url[len("sqlite:///") :])
            try:
                return con.execute(sql, params).fetchall()
            finally:
                con.close()
        import psycopg

        with psycopg.connect(self.url, options="-c search_path=travel_bookings") as con:
            return con.execute(sql.replace("?", "%s"), params).fetchall()


def expected_daily_summary(src: Source) -> dict[str, dict[str, object]]:
    """rep_booking_summary recomputed from the source: per booking day (created_at date)."""
    bookings = src.rows("SELECT booking_id, created_at, status FROM booking")
    tickets = src.rows("SELECT booking_id, booking_price, booking_currency FROM ticket")
    passengers = src.rows("SELECT booking_id FROM passenger")
    segments = src.rows("SELECT booking_id FROM segment")
    day = {b: str(c)[:10] for b, c, _ in bookings}
    status = {b: s for b, _, s in bookings}
    out: dict[str, dict[str, object]] = defaultdict(lambda: defaultdict(int))
    prices: dict[str, list[Decimal]] = defaultdict(list)
    for b, d in day.items():
        out[d]["bookings"] += 1
        out[d]["cancelled_bookings"] += status[b] == "cancelled"
    for b, price, cur in tickets:
        out[day[b]]["tickets"] += 1
        if status[b] != "cancelled":
            eur = (Decimal(str(price)) * RATES[cur]).quantize(Decimal("0.01"), ROUND_HALF_UP)
            prices[day[b]].append(eur)
    for (b,) in passengers:
        out[day[b]]["passengers"] += 1
    for (b,) in segments:
        out[day[b]]["segments"] += 1
    for d, values in out.items():
        values["revenue_eur"] = sum(prices[d], Decimal("0"))
    return {d: dict(v) for d, v in out.items()}


def actual_daily_summary(wh) -> dict[str, dict[str, object]]:
    rows = wh.query(
        "SELECT booking_date::VARCHAR, bookings, tickets, passengers, segments, revenue_eur, "
        "cancelled_bookings FROM wh.travel_bookings_reports.rep_booking_summary"
    )
    return {
        r[0]: {
            "bookings": r[1],
            "tickets": r[2],
            "passengers": r[3],
            "segments": r[4],
            "revenue_eur": Decimal(str(r[5])),
            "cancelled_bookings": r[6],
        }
        for r in rows
    }


def run(settings: Settings, conf: dict | None = None):
    outcome = run_dag(settings, "travel_bookings", conf)
    return outcome


def test_embedded_default_end_to_end(hw_home: Path):
    as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
    settings = Settings.from_env()
    url = SPEC.source_url(settings.home)
    generator.generate(url, scale=0.05, seed=11, as_of=as_of)
    _end_to_end(settings, Source(url), as_of)


def test_postgres_source_and_warehouse_end_to_end(hw_home: Path, pg_database: str, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_URL", pg_database)
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", pg_database)
    as_of = datetime.utcnow().replace(microsecond=0) - timedelta(hours=2)
    generator.generate(pg_database, scale=0.05, seed=12, as_of=as_of)
    _end_to_end(Settings.from_env(), Source(pg_database), as_of)


def _end_to_end(settings: Settings, src: Source, as_of: datetime) -> None:
    wh = open_warehouse(settings.warehouse_url)

    first = run(settings)
    assert first.state == "success", f"first run failed; log: {first.log}\n{first.tasks}"
    assert first.tasks["dbt_docs"] == "success"
    assert (settings.home / "dbt" / "travel_bookings" / "target" / "index.html").exists()

    # The marts against the source.
    assert actual_daily_summary(wh) == expected_daily_summary(src)
    n_tickets = src.rows("SELECT count(*) FROM ticket")[0][0]
    assert wh.query(
        "SELECT count(*), count(DISTINCT ticket_id) FROM wh.travel_bookings_core.fct_ticket_sales"
    ) == [(n_tickets, n_tickets)]
    watermarks = {t: s.watermark for t, s in wh.watermarks("travel_bookings").items()}
    dbt_failures = wh.query(
        "SELECT count(*) FROM wh.headwater.dbt_results WHERE run_id = ? AND status IN ('fail', 'error')",
        [first.run_id],
    )
    assert dbt_failures == [(0,)]

    # Advance the source: new bookings, status changes and price changes, all later in time.
    previous_status = dict(src.rows("SELECT booking_id, status FROM booking"))
    generator.advance(
        src.url, seed=5, as_of=as_of + timedelta(hours=1), new_fraction=0.02, update_fraction=0.05
    )
    second = run(settings)
    assert second.state == "success", f"second run failed; log: {second.log}\n{second.tasks}"

    # Only what changed moved: per table, the rows at or after the previous watermark.
    moved = dict(
        wh.query(
            "SELECT table_name, rows_in_batch FROM wh.headwater.load_ledger WHERE run_id = ?", [second.run_id]
        )
    )
    for t in SPEC.tables:
        expected = src.rows(
            f'SELECT count(*) FROM "{t.name}" WHERE "{t.cursor}" >= ?',
            (datetime.fromisoformat(watermarks[t.name]),),
        )[0][0]
        assert moved.get(t.name, 0) == expected, t.name

    # Updates landed, the snapshot closed the old versions, nothing duplicated.
    status_now = dict(src.rows("SELECT booking_id, status FROM booking"))
    changed = {b for b, s in status_now.items() if b in previous_status and previous_status[b] != s}
    assert changed, "advance changed some booking statuses"
    dim = dict(wh.query("SELECT booking_id, booking_status FROM wh.travel_bookings_core.dim_bookings"))
    assert dim == status_now
    versions = wh.query(
        "SELECT booking_id, count(*), count(*) FILTER (WHERE dbt_valid_to IS NULL), "
        "max(CASE WHEN dbt_valid_to IS NOT NULL THEN booking_status END) "
        "FROM wh.travel_bookings_snapshots.bookings_snapshot GROUP BY booking_id"
    )
    for booking_id, n_versions, n_current, closed_status in versions:
        assert n_current == 1, booking_id
        if booking_id in changed:
            assert n_versions >= 2 and closed_status == previous_status[booking_id], booking_id
    n_tickets = src.rows("SELECT count(*) FROM ticket")[0][0]
    assert wh.query(
        "SELECT count(*), count(DISTINCT ticket_id) FROM wh.travel_bookings_core.fct_ticket_sales"
    ) == [(n_tickets, n_tickets)]
    fct_status = dict(
        wh.query("SELECT ticket_id, booking_status FROM wh.travel_bookings_core.fct_ticket_sales")
    )
    ticket_booking = dict(src.rows("SELECT ticket_id, booking_id FROM ticket"))
    assert fct_status == {t: status_now[b] for t, b in ticket_booking.items()}
    assert actual_daily_summary(wh) == expected_daily_summary(src)

    # A third run with nothing new skips every extract, and dbt steps can be switched off.
    third = run(settings, {"run_docs": False, "run_seed": False})
    assert third.state == "success"
    extracts = {k: v for k, v in third.tasks.items() if k.startswith("extract[")}
    assert len(extracts) == len(SPEC.tables) and set(extracts.values()) == {"skipped"}
    assert third.tasks["dbt_docs"] == "skipped" and third.tasks["dbt_seed"] == "skipped"
    assert third.tasks["dbt_test_all"] == "success"

    # The run ledger has one row per DAG run, consistent with the load ledger.
    runs = wh.query(
        "SELECT run_id, outcome, rows_loaded, alert FROM wh.headwater.runs "
        "WHERE pipeline = 'travel_bookings' ORDER BY ended_at"
    )
    assert [(r[0], r[1], r[3]) for r in runs] == [(o.run_id, "success", None) for o in (first, second, third)]
    changed = wh.query(
        "SELECT sum(rows_changed) FROM wh.headwater.load_ledger WHERE run_id = ?", [second.run_id]
    )
    assert runs[1][2] == changed[0][0] > 0 and runs[2][2] == 0


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
        outcome = run(settings)
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

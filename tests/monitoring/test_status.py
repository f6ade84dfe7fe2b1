"""`headwater status`: the latest run is picked by time, not by the run id's spelling."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.console import Console

from headwater.monitoring.ledger import RunRecord, record_run
from headwater.monitoring.status import read_status, render
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse

SPEC = load_spec("travel_bookings")
T0 = datetime(2026, 3, 5, 6, 0, 0)


def test_status_picks_the_latest_run_by_time_and_renders_it(hw_home):
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    # "scheduled__…" sorts after "backfill__…" as a string, but the backfill ran later
    for run_id, ended, outcome in (
        ("scheduled__2026-03-05T06:00:00", T0, "success"),
        ("backfill__20260301T000000", T0 + timedelta(hours=1), "failed"),
    ):
        wh.record_dbt_results(
            SPEC.name,
            run_id,
            "test_all",
            [
                {
                    "unique_id": f"test.x.{outcome}",
                    "resource_type": "test",
                    "status": "fail" if outcome == "failed" else "pass",
                    "execution_time": 0.1,
                    "failures": 2,
                },
            ],
        )
        record_run(
            wh,
            RunRecord(
                SPEC.name,
                run_id,
                ended,
                ended - timedelta(seconds=30),
                ended,
                outcome,
                30.0,
                rows_loaded=1234,
                alert="posted" if outcome == "failed" else None,
            ),
            None,
        )
    status = read_status(SPEC, settings.warehouse_url)
    assert status.run_id == "backfill__20260301T000000"
    assert [r["run_id"] for r in status.runs] == [
        "backfill__20260301T000000",
        "scheduled__2026-03-05T06:00:00",
    ]
    assert status.failed_tests == [("test.x.failed", "fail", 2)]
    console = Console(record=True, width=250)
    render(console, status, now=T0 + timedelta(hours=2))
    out = console.export_text()
    assert "last run backfill__20260301T000000" in out
    assert "1,234" in out and "posted" in out and "test test.x.failed: fail, 2 failing rows" in out

    # Piped output (80 columns): one block per run and table, every value whole on its line.
    narrow = Console(record=True, width=80)
    render(narrow, status, now=T0 + timedelta(hours=2))
    text = narrow.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "1,234" in text and "posted" in text and "test test.x.failed: fail, 2 failing rows" in text
    for t in status.tables:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{t['table']}:"))
        assert f"{t['table']}: {t['rows']:,} rows now" in line if t["rows"] is not None else line
    assert [t["table"] for t in status.tables] == [t.name for t in SPEC.tables]

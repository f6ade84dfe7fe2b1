"""The operator commands, run as a user runs them (`headwater state|replay|backfill|quarantine`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from headwater import flow
from headwater.cli import main
from headwater.pipelines.travel_bookings import generator
from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.integration.test_extract_load import raw_rows, source_rows

SPEC = load_spec("travel_bookings")
AS_OF = datetime(2026, 3, 1, 12, 0, 0)


@pytest.fixture
def loaded(hw_home):
    settings = Settings.from_env()
    url = SPEC.source_url(settings.home)
    generator.generate(url, scale=0.02, seed=4, as_of=AS_OF)
    flow.run_el(SPEC, settings, "run_1")
    return settings, url


def test_state_reset_makes_the_next_run_full_and_set_moves_the_start(loaded, capsys):
    settings, url = loaded
    assert main(["state", "show", "travel_bookings"]) == 0
    assert "2026-03-01" in capsys.readouterr().out
    assert main(["state", "reset", "travel_bookings", "--table", "booking"]) == 0
    plans = {p["table"]: p["mode"] for p in flow.plan(SPEC, settings)}
    assert plans["booking"] == "full" and plans["ticket"] == "incremental"

    assert main(["state", "set", "travel_bookings", "--table", "ticket", "--watermark", "2026-02-20"]) == 0
    batch = flow.extract(
        SPEC, next(p for p in flow.plan(SPEC, settings) if p["table"] == "ticket"), "run_2", settings
    )
    con = sqlite3.connect(url[len("sqlite:///") :])
    expected = con.execute("SELECT count(*) FROM ticket WHERE updated_at >= '2026-02-20'").fetchone()[0]
    con.close()
    assert batch is not None and batch["rows"] == expected
    assert main(["state", "set", "travel_bookings", "--table", "nope", "--watermark", "x"]) == 2


def test_replay_rebuilds_a_lost_table_from_the_lake_without_the_source(loaded, monkeypatch):
    settings, url = loaded
    expected = source_rows(url, "booking")
    wh = open_warehouse(settings.warehouse_url)
    with wh.session() as con:
        con.execute("DELETE FROM wh.raw_travel_bookings.booking")
    no_source = "sqlite:////nonexistent/source.sqlite"
    monkeypatch.setenv("HEADWATER_SOURCE_TRAVEL_BOOKINGS_MAIN_URL", no_source)
    assert main(["replay", "travel_bookings", "--table", "booking"]) == 0
    assert set(raw_rows(settings, "booking")) == expected
    assert main(["replay", "travel_bookings", "--table", "booking"]) == 0  # twice: still no duplicates
    rows = raw_rows(settings, "booking")
    assert len(rows) == len(set(rows)) == len(expected)


def test_backfill_rereads_a_window_and_leaves_the_watermark(loaded, capsys):
    settings, url = loaded
    before = open_warehouse(settings.warehouse_url).watermarks(SPEC.name)["booking"].watermark
    con = sqlite3.connect(url[len("sqlite:///") :])
    # A fix applied at the source without touching updated_at: incremental runs cannot see it.
    con.execute(
        "UPDATE booking SET partner_id_offer = 'FIXED' WHERE updated_at >= '2026-02-10' "
        "AND updated_at < '2026-02-11'"
    )
    fixed = con.execute("SELECT count(*) FROM booking WHERE partner_id_offer = 'FIXED'").fetchone()[0]
    con.commit()
    con.close()
    assert fixed > 0
    assert (
        main(
            [
                "backfill",
                "travel_bookings",
                "--table",
                "booking",
                "--from",
                "2026-02-10",
                "--to",
                "2026-02-11",
            ]
        )
        == 0
    )
    assert "watermark unchanged" in capsys.readouterr().out
    assert sum(1 for r in raw_rows(settings, "booking") if r[4] == "FIXED") == fixed
    assert open_warehouse(settings.warehouse_url).watermarks(SPEC.name)["booking"].watermark == before
    assert set(raw_rows(settings, "booking")) == source_rows(url, "booking")


def test_quarantine_lists_rows_with_their_reason(hw_home, capsys):
    settings = Settings.from_env()
    wh = open_warehouse(settings.warehouse_url)
    with wh.session() as con:
        wh.ensure_metadata(con)
        con.execute(
            "INSERT INTO wh.headwater.quarantine (pipeline, table_name, run_id, batch_id, reason, record, "
            "quarantined_at) VALUES ('travel_bookings', 'ticket', 'run_9', 'b', "
            "'NULL in primary key (ticket_id)', '{\"ticket_id\": null}', now()::TIMESTAMP)"
        )
    assert main(["quarantine", "travel_bookings"]) == 0
    out = capsys.readouterr().out
    assert "NULL in primary key" in out and "run_9" in out

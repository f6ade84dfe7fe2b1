"""Watermarks: the lower bound of the next extract, with look-back, per cursor type."""

from __future__ import annotations

import pytest

from headwater.errors import TerminalError
from headwater.extract import TablePlan
from headwater.spec import TableSpec
from headwater.watermark import Bound, WatermarkState, lower_bound


def test_timestamp_bound_subtracts_the_lookback():
    assert lower_bound("2026-01-02 00:00:10", "TIMESTAMP", 0) == Bound("2026-01-02 00:00:10", "TIMESTAMP")
    assert lower_bound("2026-01-02 00:00:10", "TIMESTAMP", 3600).value == "2026-01-01 23:00:10"
    assert lower_bound("2026-01-02 00:00:10.250000", "TIMESTAMP", 10).value == "2026-01-02 00:00:00.250000"


def test_integer_bound_subtracts_the_lookback():
    assert lower_bound("1000", "BIGINT", 50) == Bound("950", "BIGINT")


def test_unsupported_cursor_types_are_refused():
    with pytest.raises(TerminalError, match="use a timestamp, date or integer column"):
        lower_bound("abc", "VARCHAR", 0)
    with pytest.raises(TerminalError):
        Bound("x", "BLOB").duckdb_literal()


def test_literals_cannot_break_out_of_the_string():
    assert Bound("2026-01-01' OR 1=1 --", "TIMESTAMP").duckdb_literal() == (
        "CAST('2026-01-01'' OR 1=1 --' AS TIMESTAMP)"
    )


def _state(wm):
    return WatermarkState("t", "updated_at", wm, "TIMESTAMP", 3, "123")


def test_plan_is_full_on_first_run_full_refresh_or_cursorless_tables():
    incremental = TableSpec("t", ("id",), "updated_at")
    cursorless = TableSpec("c", ("code",), None, "full")
    assert TablePlan.decide(incremental, None, False).mode == "full"
    assert TablePlan.decide(incremental, _state(None), False).mode == "full"
    assert TablePlan.decide(incremental, _state("2026-01-01 00:00:00"), True).mode == "full"
    assert TablePlan.decide(cursorless, _state("2026-01-01 00:00:00"), False).mode == "full"
    plan = TablePlan.decide(incremental, _state("2026-01-01 00:00:00"), False)
    assert (plan.mode, plan.watermark, plan.window_count, plan.window_fingerprint) == (
        "incremental",
        "2026-01-01 00:00:00",
        3,
        "123",
    )

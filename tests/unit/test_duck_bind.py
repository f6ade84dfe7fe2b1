"""duck.bind: parameters written into metadata statements as literals (no pandas import)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pytest

from headwater import duck


def test_each_placeholder_becomes_the_literal_of_its_parameter_and_round_trips():
    con = duckdb.connect()
    values = ["it's", 42, 1.5, None, True, datetime(2026, 1, 2, 3, 4, 5, 6), date(2026, 1, 2), ["a", "b'c"]]
    sql = duck.bind("SELECT " + ", ".join("?" for _ in values), values)
    assert "?" not in sql
    assert con.execute(sql).fetchone() == tuple(values)
    # the same values bound by DuckDB itself read back the same
    bound = con.execute("SELECT " + ", ".join("?" for _ in values), values).fetchone()
    assert con.execute(sql).fetchone() == bound


def test_a_time_zone_aware_datetime_keeps_its_instant():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    aware = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert con.execute(duck.bind("SELECT ?", [aware])).fetchone()[0] == aware


def test_a_question_mark_inside_quotes_is_not_a_placeholder():
    sql = duck.bind("SELECT '?' AS \"why?\", ? AS x, 'it''s ?' AS y", ["v"])
    assert sql == "SELECT '?' AS \"why?\", 'v' AS x, 'it''s ?' AS y"
    assert duckdb.connect().execute(sql).fetchone() == ("?", "v", "it's ?")


def test_an_injection_attempt_stays_a_string():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR)")
    con.execute(duck.bind("INSERT INTO t VALUES (?)", ["x'); DROP TABLE t; --"]))
    assert con.execute("SELECT name FROM t").fetchall() == [("x'); DROP TABLE t; --",)]


@pytest.mark.parametrize(("sql", "params"), [("SELECT ?, ?", [1]), ("SELECT ?", [1, 2]), ("SELECT 1", [1])])
def test_a_count_that_does_not_match_is_an_error(sql, params):
    with pytest.raises(ValueError, match="placeholders"):
        duck.bind(sql, params)


def test_an_unsupported_type_is_an_error_not_a_guess():
    with pytest.raises(TypeError):
        duck.bind("SELECT ?", [object()])

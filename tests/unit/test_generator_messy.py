"""Values corrupted on purpose: each kind checked against the true value kept beside it, with
an independent Python reader (a number-word parser, strptime), at the rates asked for, and the
same rows corrupted the same way for the same seed."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from headwater.synthetic import messy

N = 6_000
RULES = {
    "qty": [("number_words", 0.10), ("float_for_int", 0.10), ("wrong_type", 0.05), ("null", 0.05)],
    "day": [("date_formats", 0.30), ("empty", 0.05)],
    "name": [("whitespace", 0.10), ("case", 0.10)],
}

_UNITS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
    if i > 1
}


def parse_number_words(text: str) -> int:
    """British English number words to an int ("one hundred and five" -> 105)."""
    total, current = 0, 0
    for word in text.replace("-", " ").split():
        if word == "and":
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current *= 100
        elif word == "thousand":
            total, current = total + current * 1000, 0
        else:
            raise ValueError(f"not a number word: {word!r} in {text!r}")
    return total + current


def parse_date(text: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d %B %Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(text)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TABLE src AS
        SELECT range AS id, (range * 7919 % 250000)::INTEGER AS qty,
            DATE '2023-01-01' + (range % 700)::INTEGER AS day, 'Customer ' || range::VARCHAR AS name
        FROM range({N})
        """
    )
    yield con
    con.close()


def corrupted(con, seed: int) -> list[tuple]:
    messy.corrupt(con, "src", "m", key=["id"], rules=RULES, seed=seed)
    return con.execute(
        "SELECT id, qty, qty__true, qty__mess, day, day__true, day__mess, name, name__true, name__mess "
        "FROM m ORDER BY id"
    ).fetchall()


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (13, "thirteen"),
        (25, "twenty-five"),
        (105, "one hundred and five"),
        (1000, "one thousand"),
        (1042, "one thousand and forty-two"),
        (250999, "two hundred and fifty thousand nine hundred and ninety-nine"),
    ],
)
def test_number_words_read_as_people_write_them(n, words):
    con = duckdb.connect()
    messy.create_macros(con, seed=1)
    assert con.execute("SELECT hw_number_words(?::BIGINT)", [n]).fetchone()[0] == words


def test_each_kind_keeps_the_true_value_recoverable_or_clearly_wrong(con):
    rows = corrupted(con, seed=5)
    seen = {}
    for i, qty, qty_true, qty_mess, day, day_true, day_mess, name, name_true, name_mess in rows:
        assert qty_true == i * 7919 % 250000 and name_true == f"Customer {i}"
        for kind in (qty_mess, day_mess, name_mess):
            seen[kind] = seen.get(kind, 0) + 1
        if qty_mess is None:
            assert qty == str(qty_true)
        elif qty_mess == "number_words":
            assert parse_number_words(qty) == qty_true
        elif qty_mess == "float_for_int":
            assert qty.endswith(".0") and float(qty) == qty_true
        elif qty_mess == "wrong_type":
            assert qty in messy.WRONG_TYPE_WORDS
        else:
            assert qty_mess == "null" and qty is None
        if day_mess is None:
            assert day == day_true.isoformat()
        elif day_mess == "date_formats":
            assert parse_date(day) == day_true
        else:
            assert day_mess == "empty" and day == ""
        if name_mess == "whitespace":
            assert name != name_true and name.strip() == name_true
        elif name_mess == "case":
            assert name in (name_true.upper(), name_true.lower())
        else:
            assert name_mess is None and name == name_true
    # the rates hold (within five standard deviations of a binomial count)
    for column, kinds in RULES.items():
        for kind, rate in kinds:
            expected, sd = N * rate, (N * rate * (1 - rate)) ** 0.5
            assert abs(seen.get(kind, 0) - expected) < 5 * sd, (column, kind, seen.get(kind))


def test_the_three_date_formats_all_occur(con):
    days = [r[4] for r in corrupted(con, seed=5) if r[6] == "date_formats"]
    assert any("/" in d for d in days) and any(d[:4].isdigit() and "-" in d for d in days)
    assert any(d.split()[-2:-1] and d.split()[1].isalpha() for d in days if " " in d)


def test_same_seed_same_mess_other_seed_other_rows(con):
    first = corrupted(con, seed=5)
    assert corrupted(con, seed=5) == first
    other = corrupted(con, seed=6)
    assert [r[3] for r in other] != [r[3] for r in first]
    assert [r[2] for r in other] == [r[2] for r in first]  # the truth does not depend on the seed


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"qty": [("number_words", 0.7), ("null", 0.4)]}, "more than 1"),
        ({"qty": [("shouting", 0.1)]}, "unknown corruption"),
        ({"nope": [("null", 0.1)]}, "no column"),
        ({"qty": [("null", 1.5)]}, "within 0-1"),
    ],
)
def test_bad_rules_are_refused(con, rules, message):
    with pytest.raises(ValueError, match=message):
        messy.corrupt(con, "src", "m", key=["id"], rules=rules, seed=1)

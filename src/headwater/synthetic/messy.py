"""Values corrupted on purpose, so that the quarantine and cleaning paths get realistic input.

Everything is set-based SQL over DuckDB and deterministic by seed: a row's fate is a hash of
(seed, key, column), so the same rows are corrupted the same way on every run, at the given
rates. :func:`corrupt` keeps the true value beside the messy one (``<col>__true``) and names
what was done to it (``<col>__mess``), so a test can check what a cleaner recovers and what it
quarantines. The kinds:

========================  ===========================================================
``number_words``          25 -> "twenty-five", 105 -> "one hundred and five"
``float_for_int``         1042 -> "1042.0"
``date_formats``          a date as ISO, "03/01/2024" (day first) or "1 March 2024"
``whitespace``            stray spaces around the value (a text keeps its case)
``case``                  UPPER or lower case
``null``                  NULL
``empty``                 "" (an empty cell, not a NULL)
``wrong_type``            a word where a number or date belongs ("n/a", "TBD", ...)
========================  ===========================================================

:func:`malformed_line_sql` breaks whole lines of a text file (a field too few or too many, an
unbalanced quote, binary noise) for the file and log sinks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from headwater import duck
from headwater.synthetic.sqltext import lit, sql_list, uniform_sql

KINDS = (
    "number_words",
    "float_for_int",
    "date_formats",
    "whitespace",
    "case",
    "null",
    "empty",
    "wrong_type",
)
WRONG_TYPE_WORDS = ("n/a", "TBD", "unknown", "#VALUE!", "see notes", "?")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%-d %B %Y")
"""ISO, day-first numeric, and the long form; a cleaner must try them in this order."""

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def create_macros(con: Any, seed: int) -> None:
    """The macros the corruptions use: ``hw_mess_u`` (a draw) and ``hw_number_words``."""
    con.execute("SET enable_progress_bar = false")
    draw = uniform_sql(f"k::VARCHAR, {int(seed)}::BIGINT, salt")
    con.execute(f"CREATE OR REPLACE TEMP MACRO hw_mess_u(k, salt) AS {draw}")
    ones, tens = sql_list(_ONES), sql_list(_TENS)
    # 0..99, then hundreds ("one hundred and five"), then thousands, British style.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO hw_words99(n) AS (
            CASE WHEN n < 20 THEN list_extract({ones}, n + 1)
                 ELSE list_extract({tens}, n // 10 + 1)
                      || CASE WHEN n % 10 = 0 THEN '' ELSE '-' || list_extract({ones}, n % 10 + 1) END
            END)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP MACRO hw_words999(n) AS (
            CASE WHEN n < 100 THEN hw_words99(n)
                 ELSE hw_words99(n // 100) || ' hundred'
                      || CASE WHEN n % 100 = 0 THEN '' ELSE ' and ' || hw_words99(n % 100) END
            END)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP MACRO hw_number_words(n) AS (
            CASE WHEN n < 0 OR n >= 1000000 OR n <> trunc(n) THEN n::VARCHAR
                 WHEN n < 1000 THEN hw_words999(n::BIGINT)
                 ELSE hw_words999(n::BIGINT // 1000) || ' thousand'
                      || CASE WHEN n::BIGINT % 1000 = 0 THEN ''
                              WHEN n::BIGINT % 1000 < 100 THEN ' and ' || hw_words999(n::BIGINT % 1000)
                              ELSE ' ' || hw_words999(n::BIGINT % 1000) END
            END)
        """
    )


def messy_sql(kind: str, value: str, draw: str) -> str:
    """SQL turning ``value`` into text corrupted the ``kind`` way; ``draw`` is a [0, 1) column
    expression used for the variant (which date format, which word)."""
    text = f"CAST({value} AS VARCHAR)"
    if kind == "number_words":
        return f"hw_number_words({value})"
    if kind == "float_for_int":
        return f"(CAST(CAST({value} AS BIGINT) AS VARCHAR) || '.0')"
    if kind == "date_formats":
        # strftime wants a constant format: one branch per format
        day = f"CAST({value} AS DATE)"
        n = len(DATE_FORMATS)
        whens = " ".join(
            f"WHEN {draw} < {(i + 1) / n!r} THEN strftime({day}, {lit(f)})"
            for i, f in enumerate(DATE_FORMATS)
        )
        return f"(CASE {whens} END)"
    if kind == "whitespace":
        pads = sql_list(("  ", " ", "\t", "   "))
        return f"(list_extract({pads}, 1 + floor({draw} * 4)::INTEGER) || {text} || ' ')"
    if kind == "case":
        return f"(CASE WHEN {draw} < 0.5 THEN upper({text}) ELSE lower({text}) END)"
    if kind == "null":
        return "CAST(NULL AS VARCHAR)"
    if kind == "empty":
        return "''"
    if kind == "wrong_type":
        words = sql_list(WRONG_TYPE_WORDS)
        return f"list_extract({words}, 1 + floor({draw} * {len(WRONG_TYPE_WORDS)})::INTEGER)"
    raise ValueError(f"unknown corruption {kind!r}; known: {', '.join(KINDS)}")


def corrupt(
    con: Any,
    relation: str,
    dest: str,
    *,
    key: Sequence[str],
    rules: Mapping[str, Sequence[tuple[str, float]]],
    seed: int,
    clean: Mapping[str, str] | None = None,
) -> None:
    """``dest``: ``relation`` with the ``rules`` columns turned to text and some values corrupted.

    ``rules`` maps a column to (kind, rate) pairs; the rates of one column are disjoint shares
    of its rows (their sum at most 1), chosen by a hash of (seed, key, column). Each ruled
    column gets ``<col>__true`` (the original value) and ``<col>__mess`` (the kind applied, NULL
    when the value was left clean). ``clean`` optionally renders the untouched values (SQL with
    ``{col}`` for the column; default: a plain cast to text).
    """
    create_macros(con, seed)
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    unknown = set(rules) - set(cols)
    if unknown:
        raise ValueError(f"corrupt: no column {sorted(unknown)} in {relation}")
    row_key = " || '|' || ".join(f"CAST({duck.quote(k)} AS VARCHAR)" for k in key)
    select = []
    for col in cols:
        q = duck.quote(col)
        if col not in rules:
            select.append(q)
            continue
        draw = f"hw_mess_u(_k, {lit(col)})"
        variant = f"hw_mess_u(_k, {lit(col + '#v')})"
        acc, whens = 0.0, []
        for kind, rate in rules[col]:
            if not 0 <= rate <= 1:
                raise ValueError(f"corrupt: rate of {kind} on {col} must be within 0-1, got {rate!r}")
            messy_sql(kind, q, variant)  # validates the kind
            lo, acc = acc, acc + rate
            whens.append((f"{draw} >= {lo!r} AND {draw} < {acc!r}", kind))
        if acc > 1 + 1e-9:
            raise ValueError(f"corrupt: the rates on {col} add up to more than 1")
        plain = (clean or {}).get(col, "CAST({col} AS VARCHAR)").format(col=q)
        value = " ".join(f"WHEN {cond} THEN {messy_sql(kind, q, variant)}" for cond, kind in whens)
        kinds = " ".join(f"WHEN {cond} THEN {lit(kind)}" for cond, kind in whens)
        select.append(f"CASE {value} ELSE {plain} END AS {q}")
        select.append(f"{q} AS {duck.quote(col + '__true')}")
        select.append(f"CASE {kinds} END AS {duck.quote(col + '__mess')}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {duck.quote(dest)} AS "
        f"SELECT {', '.join(select)} FROM (SELECT *, {row_key} AS _k FROM {relation})"
    )


MALFORMED_KINDS = ("field_missing", "field_extra", "open_quote", "noise")


def malformed_line_sql(line: str, draw: str, delimiter: str = ",") -> str:
    """SQL breaking the text ``line``: drop its last field, add one, open a quote that never
    closes, or replace it with noise; ``draw`` in [0, 1) picks the way."""
    d = lit(delimiter)
    last_field = lit(f"[{delimiter}][^{delimiter}]*$")
    return (
        f"(CASE WHEN {draw} < 0.25 THEN regexp_replace({line}, {last_field}, '')"
        f" WHEN {draw} < 0.5 THEN {line} || {d} || 'extra'"
        f" WHEN {draw} < 0.75 THEN '\"' || {line}"
        f" ELSE '#@!' || repeat(chr(65533), 3) || ' ?' END)"
    )

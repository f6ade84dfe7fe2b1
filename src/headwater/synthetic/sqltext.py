"""SQL text for the row builders: constants as literals, weighted choices, deterministic draws.

Every literal that ends up in a generator's SQL comes from the generator's own constants, never
from a caller; :func:`lit` still refuses a quote, so a constant cannot change a statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def ts(moment: datetime) -> str:
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'"


def lit(value: Any) -> str:
    if isinstance(value, str):
        if "'" in value:
            raise ValueError(f"constant {value!r} may not contain a quote")
        return f"'{value}'"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"unsupported constant {value!r}")
    return repr(float(value)) if isinstance(value, float) else str(value)


def sql_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def case(expr: str, mapping: Mapping[Any, Any], default: Any = None, *, literal: bool = True) -> str:
    """``CASE expr WHEN k THEN v ... END`` from constants (values pre-rendered if not literal)."""
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v) if literal else v}" for k, v in mapping.items())
    tail = "" if default is None else f" ELSE {lit(default)}"
    return f"(CASE {expr} {whens}{tail} END)"


def pick(uniform: str, choices: Sequence[tuple[str, float]]) -> str:
    """A weighted choice among constants, driven by a column holding a uniform draw."""
    total = float(sum(w for _, w in choices))
    acc = 0.0
    whens = []
    for value, weight in choices[:-1]:
        acc += weight
        whens.append(f"WHEN {uniform} < {acc / total!r} THEN {lit(value)}")
    return f"(CASE {' '.join(whens)} ELSE {lit(choices[-1][0])} END)"


def uniform_sql(args: str) -> str:
    """A uniform draw in [0, 1) from the SQL expressions ``args`` (see :func:`create_uniform`)."""
    return f"((hash(hash({args})) >> 11)::DOUBLE / 9007199254740992.0)"


def create_uniform(con: Any, name: str, seed: int, stream: int | None = None) -> None:
    """Macro ``name(k1, k2, salt)``: a uniform draw in [0, 1) fixed by its arguments and the seed.

    ``stream`` (e.g. the as_of of an advance) separates the draws of different calls. The outer
    hash matters: DuckDB's multi-argument hash combines its arguments almost linearly, so draws
    that differ only by salt (or seed) came out correlated (|r| ~ 0.6-0.9); hashing the combined
    value again mixes it fully (measured |r| < 0.003). ``hash`` is DuckDB's own, so the data is
    identical for a given DuckDB version (pinned exactly).
    """
    con.execute("SET enable_progress_bar = false")  # a library must not draw on the terminal
    key = f"{int(seed)}::BIGINT" + ("" if stream is None else f", {int(stream)}::BIGINT")
    con.execute(f"CREATE OR REPLACE TEMP MACRO {name}(k1, k2, salt) AS {uniform_sql(f'k1, k2, {key}, salt')}")


def create_normal(con: Any, name: str, uniform: str) -> None:
    """Macro ``name(k1, k2, salt)``: roughly standard normal, bounded to +-3.46 (Irwin-Hall of 4)."""
    draws = " + ".join(f"{uniform}(k1, k2, salt || '{i}')" for i in range(1, 5))
    con.execute(f"CREATE OR REPLACE TEMP MACRO {name}(k1, k2, salt) AS (({draws} - 2.0) * sqrt(3.0))")


def create_id_step(con: Any, name: str, uniform: str, gap_rate: float = 0.015) -> None:
    """Macro ``name(k1, k2, salt)``: sequence-like id steps, 1 apart with an occasional gap of
    1-3 (the rolled-back inserts a real sequence shows); a running sum of it is an id."""
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO {name}(k1, k2, salt) AS "
        f"(1 + CASE WHEN {uniform}(k1, k2, salt) < {float(gap_rate)!r} "
        f"THEN 1 + floor({uniform}(k1, k2, salt || 'len') * 3)::BIGINT ELSE 0 END)"
    )

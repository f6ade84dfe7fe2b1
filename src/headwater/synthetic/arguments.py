"""Checks of a generator's arguments (seed, scale, as_of, fractions), with the same messages
for every pipeline."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any


def check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise ValueError(f"seed must be an integer that fits in 64 bits, got {seed!r}")
    return seed


def check_scale(scale: float, *, at_most: float | None = None) -> float:
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if at_most is not None and scale > at_most:
        raise ValueError(f"scale {scale} is too large (at most {at_most:g})")
    return float(scale)


def check_fraction(name: str, value: float, *, at_most: float | None = 1.0) -> float:
    """A share of rows: a finite number >= 0 and, unless ``at_most`` is None, at most that."""
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
    if not ok:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if at_most is not None and value > at_most:
        raise ValueError(f"{name} must be at most {at_most:g}, got {value!r}")
    return float(value)


def normalise_as_of(as_of: datetime | None) -> datetime:
    """Naive UTC, whole seconds; aware datetimes are converted, naive ones taken as UTC."""
    if as_of is None:
        as_of = datetime.now(UTC)
    if not isinstance(as_of, datetime):
        raise ValueError(f"as_of must be a datetime, got {as_of!r}")
    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(UTC).replace(tzinfo=None)
    return as_of.replace(microsecond=0)


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else normalise_as_of(value)
    return datetime.fromisoformat(str(value))  # SQLite stores 'YYYY-MM-DD HH:MM:SS' text


def stream_of(as_of: datetime) -> int:
    """The number that separates one ``advance``'s draws from another's (its as_of, in seconds)."""
    return int(as_of.replace(tzinfo=UTC).timestamp())

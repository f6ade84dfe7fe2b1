"""Numbers, money, times and durations formatted for people rather than machines."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

Number = int | float | Decimal


def _missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def count(value: Number | None) -> str:
    """12345 -> '12,345' (whole numbers, thousands separated)."""
    if _missing(value):
        return "–"
    return f"{round(float(value)):,}"  # type: ignore[arg-type]


def compact(value: Number | None) -> str:
    """12345 -> '12.3k', 4_560_000 -> '4.56M': for numbers too wide for a tile."""
    if _missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= limit:
            scaled = v / limit
            digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
            return f"{scaled:.{digits}f}".rstrip("0").rstrip(".") + suffix
    return f"{v:,.0f}" if v == int(v) else f"{v:,.1f}"


def money(value: Number | None, symbol: str = "€", cents: bool | None = None) -> str:
    """189593.63 -> '€189,594'; 101.82 -> '€101.82' (cents only below 1,000 unless asked)."""
    if _missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    show_cents = abs(v) < 1000 if cents is None else cents
    sign = "-" if v < 0 else ""
    return f"{sign}{symbol}{abs(v):,.{2 if show_cents else 0}f}"


def percent(value: Number | None, digits: int = 1) -> str:
    """0.1234 -> '12.3%'."""
    if _missing(value):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"  # type: ignore[arg-type]


def duration(seconds: Number | None) -> str:
    """75 -> '1 min 15 s'; 4000 -> '1 h 7 min'; 0.4 -> '0.4 s'."""
    if _missing(seconds):
        return "–"
    s = float(seconds)  # type: ignore[arg-type]
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    minutes, sec = divmod(round(s), 60)
    if minutes < 60:
        return f"{minutes} min {sec} s" if sec else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def utc_now() -> datetime:
    """Now in UTC, naive: the warehouse's metadata timestamps are naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago a naive-UTC timestamp was: 'just now', '5 min ago', '3 h ago', '2 days ago'."""
    if when is None or _missing_ts(when):
        return "never"
    now = now or utc_now()
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    s = (now - when).total_seconds()
    if s < 0:
        return "in the future"
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 48 * 3600:
        return f"{int(s // 3600)} h ago"
    return f"{int(s // 86400)} days ago"


def timestamp(when: datetime | None) -> str:
    """'2026-11-21 12:17 UTC'."""
    if when is None or _missing_ts(when):
        return "–"
    return f"{when:%Y-%m-%d %H:%M} UTC"


def _missing_ts(when: object) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(when))
    except (TypeError, ValueError):
        return False

"""Watermarks: how far a table has been loaded, and the lower bound of the next extract.

The next extract reads rows with ``cursor >= watermark - lookback``. Reading the boundary
again (``>=`` rather than ``>``) and a look-back window catch rows committed late with an
older timestamp or sharing the watermark's timestamp; the upsert makes the overlap harmless,
and a fingerprint of the window tells whether anything in it actually changed, so a quiet
table is still skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from headwater.errors import TerminalError

TIME_TYPES = {"TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamptz", "DATE": "date"}
INT_TYPES = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER"}


@dataclass(frozen=True)
class Bound:
    """A typed cursor value: the text form plus its DuckDB type."""

    value: str
    type: str

    def duckdb_literal(self) -> str:
        if self.type not in TIME_TYPES and self.type not in INT_TYPES:
            raise TerminalError(f"cursor type {self.type} is not supported for incremental loads")
        return "CAST('" + self.value.replace("'", "''") + f"' AS {self.type})"

    def postgres_type(self) -> str:
        return TIME_TYPES.get(self.type, "bigint")


def lower_bound(watermark: str, cursor_type: str, lookback_seconds: int) -> Bound:
    """The first cursor value the next incremental extract must read again."""
    if cursor_type in INT_TYPES:
        return Bound(str(int(watermark) - lookback_seconds), cursor_type)
    if cursor_type in TIME_TYPES:
        if lookback_seconds == 0:
            return Bound(watermark, cursor_type)
        moment = datetime.fromisoformat(watermark) - timedelta(seconds=lookback_seconds)
        return Bound(moment.isoformat(sep=" "), cursor_type)
    raise TerminalError(
        f"cursor type {cursor_type} is not supported for incremental loads: use a timestamp, "
        "date or integer column, or mode: full"
    )


@dataclass(frozen=True)
class WatermarkState:
    table: str
    cursor: str | None
    watermark: str | None
    cursor_type: str | None
    window_count: int | None
    window_fingerprint: str | None
    updated_at: datetime | None = None
    run_id: str | None = None
    files_fingerprint: str | None = None
    """File sources: names, sizes and times of the files the last full read loaded."""

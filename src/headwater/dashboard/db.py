"""Read-only access to the warehouse for the dashboards.

The dashboard never writes and never holds DuckDB's write lock: every read opens an in-memory
DuckDB, attaches the warehouse ``READ_ONLY`` (DuckDB file) or through a read-only Postgres
session, runs its queries and closes again, so a lock is held for milliseconds. DuckDB refuses
a read-only open while another process (a pipeline's load or a dbt step) holds the write
lock; that is retried briefly and then reported as :class:`WarehouseBusy`, which the pages
show as a message with a retry, never as a crash. A DuckDB file that does not exist yet is
:class:`WarehouseMissing` (and is not created: creating it would be a write).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

from headwater import duck
from headwater.errors import TransientError
from headwater.urls import mask_url, parse_url

ALIAS = "wh"
"""The warehouse's catalog name in every dashboard query (``wh.<schema>.<table>``)."""

T = TypeVar("T")

_LOCK_MARKERS = ("could not set lock", "conflicting lock", "lock on file")


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read right now; the message says why and what to do."""


class WarehouseMissing(WarehouseUnavailable):
    """No warehouse yet (the DuckDB file does not exist): nothing has run."""


class WarehouseBusy(WarehouseUnavailable, TransientError):
    """Another process holds DuckDB's write lock (a pipeline run is loading or transforming)."""


class Reader:
    """Opens short read-only sessions on one warehouse URL."""

    def __init__(self, url: str, *, attempts: int = 6, wait_seconds: float = 0.25) -> None:
        self.url = url
        self.kind, self.target = parse_url(url)
        if self.kind not in ("duckdb", "postgres"):
            raise WarehouseUnavailable(f"{mask_url(url)} cannot be a warehouse")
        self.attempts = max(1, attempts)
        self.wait_seconds = wait_seconds

    def __repr__(self) -> str:
        return f"Reader({mask_url(self.url)})"

    @property
    def describe(self) -> str:
        return str(Path(self.target)) if self.kind == "duckdb" else mask_url(self.url)

    @contextmanager
    def session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the warehouse attached read-only as ``wh``; closed on exit."""
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def run(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """``fn(con)`` in one read-only session (one short lock for a page's queries)."""
        with self.session() as con:
            return fn(con)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self.kind == "duckdb" and not Path(self.target).exists():
            raise WarehouseMissing(
                f"There is no warehouse at {self.target} yet: no pipeline has run. "
                "Run `headwater demo` (or `headwater run <pipeline>`) first."
            )
        last: Exception | None = None
        for attempt in range(self.attempts):
            con = duck.connect()
            try:
                self._attach(con)
                return con
            except duckdb.Error as e:
                con.close()
                if not _is_lock_conflict(e):
                    raise WarehouseUnavailable(
                        f"Cannot open the warehouse {self.describe} read-only: {_first_line(e)}"
                    ) from e
                last = e
                if attempt + 1 < self.attempts:
                    time.sleep(self.wait_seconds * (attempt + 1))
        raise WarehouseBusy(
            f"The warehouse {self.describe} is being written right now (a pipeline run holds "
            "DuckDB's single write lock), so it cannot be read at this moment. The dashboard "
            "only reads; try again in a few seconds, or when the run has finished."
        ) from last

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.kind == "duckdb":
            duck.attach(con, f"duckdb:///{self.target}", ALIAS, read_only=True)
        else:
            duck.attach(con, _read_only_postgres_url(self.url), ALIAS, read_only=True)


def _read_only_postgres_url(url: str) -> str:
    """The URL with every transaction of the session read-only on the server side too."""
    option = "options=-c%20default_transaction_read_only%3Don"
    return url + ("&" if "?" in url else "?") + option


def _is_lock_conflict(e: Exception) -> bool:
    text = str(e).lower()
    return any(m in text for m in _LOCK_MARKERS)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__

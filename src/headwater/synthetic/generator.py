"""The choreography every generator shares: a generator is declarations + business rules.

:class:`SourceGenerator` is the uniform interface the CLI calls, for every pipeline:
``generate(url, *, scale, seed, as_of, schema)`` and
``advance(url, *, seed, as_of, new_fraction, update_fraction, schema)``; it checks the
arguments once for all. Two kinds build on it:

:class:`SqlSourceGenerator`, for a database source (SQLite, Postgres). A pipeline's generator
declares its tables (``source``) and the columns ``advance`` changes (``updates``), and writes
the business rules in three hooks:

- ``build(con, run)``: fill ``out_<table>`` for every table, in an in-memory DuckDB;
- ``read_state(target)``: what ``advance`` needs from the source (with its ``newest`` moment);
- ``build_changes(con, run, state)``: fill ``out_<table>`` with new rows (for the tables in
  ``inserts``) and ``upd_<table>`` with changed ones (the source is attached as ``src``);
  return the counts to report.

This class (re)creates the tables, bulk-writes and indexes them, stages and applies an advance
atomically, so no generator repeats any of it. :class:`headwater.synthetic.folder.
FolderSourceGenerator` is the other kind, for file and API sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from headwater import duck
from headwater.synthetic.arguments import check_fraction, check_scale, check_seed, normalise_as_of
from headwater.synthetic.schema import Schema
from headwater.synthetic.target import Target, count


class SourceState(Protocol):
    @property
    def newest(self) -> datetime: ...


@dataclass(frozen=True)
class Run:
    """One call's settled arguments."""

    target: Target
    seed: int
    as_of: datetime
    scale: float = 1.0
    new_fraction: float = 0.0
    update_fraction: float = 0.0


class SourceGenerator:
    pipeline: ClassVar[str]
    source: ClassVar[Schema]
    new_fraction: ClassVar[float] = 0.05
    update_fraction: ClassVar[float] = 0.05
    new_fraction_at_most: ClassVar[float | None] = 1.0
    """None: ``new_fraction`` may exceed 1 (more new rows than there are)."""
    max_scale: ClassVar[float | None] = None

    @property
    def tables(self) -> tuple[str, ...]:
        return self.source.names

    def generate(
        self,
        url: str,
        *,
        scale: float = 1.0,
        seed: int = 42,
        as_of: datetime | None = None,
        schema: str | None = None,
        other_sources: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """(Re)create the source at ``url`` (SQLite, a Postgres ``schema``, or a folder) with the
        world at ``as_of`` (default: now, UTC, whole seconds); return row counts.

        ``other_sources`` (name -> URL) are the pipeline's sources beside the main one, which
        ``headwater generate``/``demo`` pass to every generator of such a pipeline: one that
        writes them too (files delivered beside a database) overrides this; the rest (an API
        served by a stand-in) ignore them."""
        scale = check_scale(scale, at_most=self.max_scale)
        run = Run(self._target(url, schema), check_seed(seed), normalise_as_of(as_of), scale=scale)
        return self._generate(run)

    def advance(
        self,
        url: str,
        *,
        seed: int = 42,
        as_of: datetime | None = None,
        new_fraction: float | None = None,
        update_fraction: float | None = None,
        schema: str | None = None,
        other_sources: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """Play the source forward to ``as_of``: new rows and changes, stamped after the newest
        moment already there and at most ``as_of``; return what changed."""
        new = self.new_fraction if new_fraction is None else new_fraction
        upd = self.update_fraction if update_fraction is None else update_fraction
        run = Run(
            self._target(url, schema),
            check_seed(seed),
            normalise_as_of(as_of),
            new_fraction=check_fraction("new_fraction", new, at_most=self.new_fraction_at_most),
            update_fraction=check_fraction("update_fraction", upd),
        )
        return self._advance(run)

    @staticmethod
    def check_forward(as_of: datetime, newest: datetime) -> None:
        if as_of <= newest:
            raise ValueError(
                f"as_of {as_of:%Y-%m-%d %H:%M:%S} is not after the newest timestamp already in "
                f"the source ({newest:%Y-%m-%d %H:%M:%S}); advance only moves forward in "
                "time: pass a later as_of (or regenerate the source)"
            )

    def _target(self, url: str, schema: str | None) -> Target:
        return Target.from_url(url, schema or self.pipeline, self.pipeline)

    def _generate(self, run: Run) -> dict[str, int]:
        raise NotImplementedError

    def _advance(self, run: Run) -> dict[str, int]:
        raise NotImplementedError


class SqlSourceGenerator(SourceGenerator):
    updates: ClassVar[Schema]
    """Per table that ``advance`` updates: its key and the columns it changes."""
    inserts: ClassVar[tuple[str, ...]] = ()
    """The tables ``advance`` adds rows to (``out_<table>``); empty: every table."""
    deletes: ClassVar[tuple[str, ...]] = ()
    """The tables ``advance`` deletes rows from: ``build_changes`` fills ``del_<table>`` with
    their keys (applied after the inserts and updates, children first, same transaction)."""

    # --- hooks -------------------------------------------------------------------------------

    def build(self, con: Any, run: Run) -> None:
        raise NotImplementedError

    def read_state(self, target: Target) -> SourceState:
        raise NotImplementedError

    def build_changes(self, con: Any, run: Run, state: Any) -> dict[str, int]:
        raise NotImplementedError

    # --- the choreography --------------------------------------------------------------------

    def _generate(self, run: Run) -> dict[str, int]:
        run.target.recreate(self.source)
        con = duck.connect()
        try:
            self.build(con, run)
            counts = {t: count(con, f"out_{t}") for t in self.tables}
            run.target.bulk_write(con, [(t, t.name, f"out_{t.name}") for t in self.source])
        finally:
            con.close()
        run.target.create_indexes(self.source)
        return counts

    def _advance(self, run: Run) -> dict[str, int]:
        state = self.read_state(run.target)
        self.check_forward(run.as_of, state.newest)
        with run.target.staged_changes(self.source, self.updates, self.deletes) as staging:
            con = duck.connect()
            try:
                duck.attach(con, run.target.url, "src")
                result = self.build_changes(con, run, state)
                staging.write(con, new=self.inserts or self.tables, updated=self.updates.names)
                con.execute("DETACH src")
            finally:
                con.close()
        return result

"""Schema drift between a batch and its raw table, and what the pipeline's policy makes of it.

New source columns are always added (and reported). Type changes and columns that vanished
from the source follow the pipeline's ``schema_changes`` policy: ``evolve`` alters the raw
column to the new type / keeps the vanished column (NULL for new rows); ``fail`` stops the
load with a message naming table, column, old and new type, before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headwater.errors import TerminalError

POLICIES = ("evolve", "fail")
IGNORED = ("_loaded_at", "_run_id", "_deleted_at")
"""Columns Headwater keeps in raw tables itself (``_deleted_at``: the delete check's mark)."""


class SchemaChangeError(TerminalError):
    """The source schema changed in a way the pipeline's policy does not accept."""


@dataclass
class SchemaDiff:
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    retyped: list[tuple[str, str, str]] = field(default_factory=list)
    """(column, old type, new type)"""

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.retyped)

    def describe(self, table: str) -> list[str]:
        return (
            [f"{table}.{c}: new column ({t})" for c, t in self.added]
            + [f"{table}.{c}: no longer in the source (was {t})" for c, t in self.removed]
            + [f"{table}.{c}: type changed from {old} to {new}" for c, old, new in self.retyped]
        )


def _normal(type_: str) -> str:
    return " ".join(type_.upper().split())


def diff_columns(existing: dict[str, str], incoming: list[list[str]] | list[tuple[str, str]]) -> SchemaDiff:
    """Compare the raw table's columns (name -> type) with a batch's (name, type) list."""
    diff = SchemaDiff()
    seen = set()
    for name, type_ in incoming:
        seen.add(name)
        if name not in existing:
            diff.added.append((name, type_))
        elif _normal(existing[name]) != _normal(type_):
            diff.retyped.append((name, existing[name], type_))
    for name, type_ in existing.items():
        if name not in seen and name not in IGNORED:
            diff.removed.append((name, type_))
    return diff


def enforce(policy: str, diff: SchemaDiff, table: str) -> None:
    """Raise SchemaChangeError when the policy refuses part of the diff."""
    if policy == "evolve" or not (diff.retyped or diff.removed):
        return
    problems = [m for m in diff.describe(table) if "new column" not in m]
    raise SchemaChangeError(
        f"source schema changed and the pipeline's policy is schema_changes: {policy}: "
        + "; ".join(problems)
        + ". Nothing was loaded. Fix the source, or set load.schema_changes: evolve in the "
        "pipeline spec to alter the raw table."
    )

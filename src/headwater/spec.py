"""Pipeline specs: a pipeline is data (tables, keys, cursors, modes, schedule), validated here.

Every identifier in a spec ends up in SQL, so validation refuses anything that is not a plain
name before any statement is built; the error names the pipeline, the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from headwater.errors import SpecError
from headwater.identifiers import valid_identifier

MODES = ("incremental", "full")
DBT_STEPS = (
    "seed",
    "source_freshness",
    "source_tests",
    "staging",
    "snapshot",
    "core",
    "test_all",
    "docs",
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor: str | None = None
    """Column that grows on insert and update; None means the table always loads in full."""
    mode: str = "incremental"
    depends_on: tuple[str, ...] = ()
    """Tables that must be loaded before this one (parents of its foreign keys)."""

    @property
    def effective_mode(self) -> str:
        return "full" if self.cursor is None else self.mode


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    url: str
    schema: str | None = None
    generator: str | None = None


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    description: str
    source: SourceSpec
    tables: tuple[TableSpec, ...]
    schedule: str | None = None
    retries: int = 2
    retry_delay_minutes: int = 5
    lookback_seconds: int = 0
    schema_changes: str = "evolve"
    """What a type change or a vanished source column does: evolve (alter / keep) or fail."""
    dbt_project: str | None = None
    dbt_steps: tuple[str, ...] = ()
    folder: Path = field(default=Path("."), compare=False)

    @property
    def raw_schema(self) -> str:
        return f"raw_{self.name}"

    @property
    def dbt_project_dir(self) -> Path | None:
        return self.folder / self.dbt_project if self.dbt_project else None

    def load_levels(self) -> list[list[str]]:
        """Tables grouped so every table comes after the tables it depends on.

        Level 0 holds the tables with no dependencies; tables within a level may load in
        parallel. The spec parser has already refused unknown names and cycles.
        """
        done: set[str] = set()
        levels: list[list[str]] = []
        remaining = list(self.tables)
        while remaining:
            level = [t.name for t in remaining if set(t.depends_on) <= done]
            levels.append(level)
            done |= set(level)
            remaining = [t for t in remaining if t.name not in done]
        return levels

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise SpecError(f"pipeline {self.name!r} has no table {name!r}")

    def source_url(self, home: Path, override: str | None = None) -> str:
        return override or self.source.url.replace("{home}", str(home))


def _identifier(value: Any, where: str) -> str:
    if not isinstance(value, str) or not valid_identifier(value):
        raise SpecError(
            f"{where}: {value!r} is not a valid identifier "
            "(letters, digits and _, starting with a letter or _, at most 63 characters)"
        )
    return value


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping or mapping[key] in (None, "", []):
        raise SpecError(f"{where}: missing required field {key!r}")
    return mapping[key]


def _known_keys(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def parse_spec(data: Any, folder: Path = Path(".")) -> PipelineSpec:
    """Validate a spec as loaded from YAML and build the typed object."""
    if not isinstance(data, dict):
        raise SpecError("a pipeline spec must be a mapping")
    name = _identifier(_require(data, "name", "pipeline"), "pipeline.name")
    where = f"pipeline {name!r}"
    _known_keys(
        data,
        {
            "name",
            "description",
            "schedule",
            "retries",
            "retry_delay_minutes",
            "source",
            "load",
            "tables",
            "transform",
        },
        where,
    )
    src = _require(data, "source", where)
    if not isinstance(src, dict):
        raise SpecError(f"{where}: source must be a mapping")
    _known_keys(src, {"kind", "url", "schema", "generator"}, f"{where}.source")
    if src.get("kind") != "sql":
        raise SpecError(f"{where}.source.kind: {src.get('kind')!r} is not supported (use 'sql')")
    source = SourceSpec(
        kind="sql",
        url=str(_require(src, "url", f"{where}.source")),
        schema=_identifier(src["schema"], f"{where}.source.schema") if src.get("schema") else None,
        generator=src.get("generator"),
    )

    raw_tables = _require(data, "tables", where)
    if not isinstance(raw_tables, list):
        raise SpecError(f"{where}.tables must be a list")
    tables: list[TableSpec] = []
    for i, t in enumerate(raw_tables):
        tw = f"{where}.tables[{i}]"
        if not isinstance(t, dict):
            raise SpecError(f"{tw} must be a mapping")
        _known_keys(t, {"name", "primary_key", "cursor", "mode", "depends_on"}, tw)
        tname = _identifier(_require(t, "name", tw), f"{tw}.name")
        tw = f"{where}, table {tname!r}"
        pk = _require(t, "primary_key", tw)
        pk = [pk] if isinstance(pk, str) else pk
        if not isinstance(pk, list):
            raise SpecError(f"{tw}: primary_key must be a column name or a list of them")
        pk_cols = tuple(_identifier(c, f"{tw}.primary_key") for c in pk)
        if len(set(pk_cols)) != len(pk_cols):
            raise SpecError(f"{tw}: primary_key lists a column twice: {list(pk_cols)}")
        cursor = _identifier(t["cursor"], f"{tw}.cursor") if t.get("cursor") else None
        mode = t.get("mode", "incremental" if cursor else "full")
        if mode not in MODES:
            raise SpecError(f"{tw}.mode: {mode!r} is not one of {MODES}")
        if mode == "incremental" and cursor is None:
            raise SpecError(f"{tw}: incremental mode needs a cursor column; set cursor or mode: full")
        deps = t.get("depends_on") or []
        deps = [deps] if isinstance(deps, str) else deps
        if not isinstance(deps, list):
            raise SpecError(f"{tw}: depends_on must be a table name or a list of them")
        tables.append(TableSpec(tname, pk_cols, cursor, mode, tuple(deps)))
    names = [t.name for t in tables]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{where}: table(s) listed twice: {dupes}")

    _check_dependencies(where, tables)

    load = data.get("load") or {}
    _known_keys(load, {"lookback_seconds", "schema_changes"}, f"{where}.load")
    schema_changes = load.get("schema_changes", "evolve")
    if schema_changes not in ("evolve", "fail"):
        raise SpecError(f"{where}.load.schema_changes: {schema_changes!r} is not one of ('evolve', 'fail')")
    lookback = load.get("lookback_seconds", 0)
    if not isinstance(lookback, int) or lookback < 0:
        raise SpecError(f"{where}.load.lookback_seconds must be a whole number >= 0")

    transform = data.get("transform") or {}
    _known_keys(transform, {"dbt_project", "steps"}, f"{where}.transform")
    steps = tuple(transform.get("steps", DBT_STEPS if transform.get("dbt_project") else ()))
    bad = [s for s in steps if s not in DBT_STEPS]
    if bad:
        raise SpecError(f"{where}.transform.steps: unknown step(s) {bad}; known: {list(DBT_STEPS)}")

    retries = data.get("retries", 2)
    delay = data.get("retry_delay_minutes", 5)
    if not isinstance(retries, int) or retries < 0 or not isinstance(delay, int) or delay < 0:
        raise SpecError(f"{where}: retries and retry_delay_minutes must be whole numbers >= 0")
    return PipelineSpec(
        name=name,
        description=str(data.get("description", "")),
        source=source,
        tables=tuple(tables),
        schedule=data.get("schedule"),
        retries=retries,
        retry_delay_minutes=delay,
        lookback_seconds=lookback,
        schema_changes=schema_changes,
        dbt_project=transform.get("dbt_project"),
        dbt_steps=steps,
        folder=folder,
    )


def _check_dependencies(where: str, tables: list[TableSpec]) -> None:
    names = {t.name for t in tables}
    for t in tables:
        unknown = [d for d in t.depends_on if d not in names]
        if unknown:
            raise SpecError(f"{where}, table {t.name!r}: depends_on names unknown table(s) {unknown}")
        if t.name in t.depends_on:
            raise SpecError(f"{where}, table {t.name!r}: depends_on lists the table itself")
    done: set[str] = set()
    remaining = list(tables)
    while remaining:
        ready = [t for t in remaining if set(t.depends_on) <= done]
        if not ready:
            cycle = sorted(t.name for t in remaining)
            raise SpecError(f"{where}: depends_on forms a cycle among {cycle}")
        done |= {t.name for t in ready}
        remaining = [t for t in remaining if t.name not in done]


def pipelines_root() -> Path:
    return Path(str(resources.files("headwater.pipelines")))


def available_pipelines() -> list[str]:
    root = pipelines_root()
    return sorted(p.parent.name for p in root.glob("*/pipeline.yaml"))


@cache
def load_spec(name: str) -> PipelineSpec:
    """Load and validate the spec of a bundled pipeline (cached: DAG parsing calls this)."""
    if not valid_identifier(name):
        raise SpecError(f"{name!r} is not a pipeline name")
    path = pipelines_root() / name / "pipeline.yaml"
    if not path.exists():
        raise SpecError(
            f"no pipeline named {name!r}; available: {', '.join(available_pipelines()) or 'none'}"
        )
    with path.open() as f:
        return parse_spec(yaml.safe_load(f), folder=path.parent)

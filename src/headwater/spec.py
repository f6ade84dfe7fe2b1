"""Pipeline specs: a pipeline is data (tables, keys, cursors, modes, schedule), validated here.

Every identifier in a spec ends up in SQL, so validation refuses anything that is not a plain
name before any statement is built; the error names the pipeline, the field and the fix.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from headwater.errors import SpecError
from headwater.identifiers import require_identifier as _identifier
from headwater.shapes import (
    DEFAULT_PRESET,
    PRESETS,
    DagShape,
    DbtStep,
    dag_order,
    default_dags,
    parse_dags,
    parse_render,
    parse_steps,
)

MODES = ("incremental", "full")
SOURCE_KINDS = ("sql", "files", "http")
TABLE_KEYS = {"name", "primary_key", "cursor", "mode", "depends_on", "source", "read", "deletes", "load"}
FILE_FORMATS = ("csv", "xlsx", "json", "access_log")
MAIN_SOURCE = "main"
DBT_STEPS = tuple(s.name for s in PRESETS[DEFAULT_PRESET])
"""The steps of the standard preset (seed 000's eight)."""


@dataclass(frozen=True)
class ReadSpec:
    """How to read a table from a file or API source: where, in what format, with what types.

    File and API data carry no types of their own, so every column is declared; a value that
    does not parse as its declared type (a number word, a date in another format) is
    quarantined with the reason, never guessed.
    """

    columns: tuple[tuple[str, str], ...]
    """(name, type) pairs in the order the file or the records hold them."""
    path: str | None = None
    """Files: a path or glob relative to the source URL. API: the endpoint path."""
    format: str = "csv"
    date_format: str | None = None
    timestamp_format: str | None = None
    delimiter: str = ","
    header: bool = True
    sheet: str | None = None
    records: str | None = None
    """API: the field of the response body holding the list of records (None: the body)."""
    since_param: str | None = None
    """API: the query parameter that passes the watermark, so the server filters."""
    page_size: int = 100
    on_drift: str = "evolve"
    """The pipeline's ``load.schema_changes``, for a file header or API record whose fields
    differ from the declared columns: evolve (missing -> NULL, unknown -> extra VARCHAR
    column, with a warning) or fail (a clear error naming the file and the columns)."""

    patterns: tuple[tuple[str, str], ...] = ()
    """(column, regular expression) pairs: a non-empty value that does not match its column's
    whole pattern is quarantined like a value of the wrong type (e.g. an access log's ``ip``
    restricted to IPv4 addresses)."""

    required: tuple[str, ...] = ()
    """The table's key and cursor columns: missing from a file or API record, always an error
    (rows without their key cannot be loaded), whatever ``on_drift`` says."""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c[0] for c in self.columns)


@dataclass(frozen=True)
class DeletesSpec:
    """``deletes: detect``: find keys that vanished from the source and mark them in raw.

    After the loads, the DAG compares the source's key set with the raw table's (hashes per
    key bucket, computed in each database) and stamps ``_deleted_at`` on keys the source no
    longer has (un-marking keys that come back). An unreachable source or one that answers
    with no rows marks nothing, unless ``allow_empty``.
    """

    every_runs: int = 1
    """Check on every N-th run (1: every run); the runs between skip the check, visibly."""
    allow_empty: bool = False
    """An empty source table marks every key deleted (otherwise: refused, nothing marked)."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    primary_key: tuple[str, ...]
    cursor: str | None = None
    """Column that grows on insert and update; None means the table always loads in full."""
    mode: str = "incremental"
    depends_on: tuple[str, ...] = ()
    """Tables that must be loaded before this one (parents of its foreign keys)."""
    source: str = MAIN_SOURCE
    """Name of the pipeline source the table comes from."""
    read: ReadSpec | None = None
    """File and API sources only: where the table is and its declared columns."""
    deletes: DeletesSpec | None = None
    """Delete detection (``deletes: detect``); None: deletes at the source are not looked for."""
    chunk_rows: int | None = None
    """``load.chunk_rows``: a batch with more rows is split into chunks of about this many rows
    (by a hash of the key), each loaded by its own task, in parallel where the warehouse allows
    it (see warehouse/chunks.py). None: one load per batch."""

    @property
    def effective_mode(self) -> str:
        return "full" if self.cursor is None else self.mode


@dataclass(frozen=True)
class SourceSpec:
    kind: str
    url: str
    schema: str | None = None
    name: str = MAIN_SOURCE


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    description: str
    sources: tuple[SourceSpec, ...]
    tables: tuple[TableSpec, ...]
    schedule: str | None = None
    retries: int = 2
    retry_delay_minutes: int = 5
    queues: Mapping[str, str] = field(default_factory=dict, hash=False)
    """Celery queue per kind of task (``load``: plan/extract/load/deletes, ``transform``: dbt);
    a kind not named goes to Airflow's default queue. Deployments override it (Settings)."""
    lookback_seconds: int = 0
    schema_changes: str = "evolve"
    """What a type change or a vanished source column does: evolve (alter / keep) or fail."""
    max_rejected_share: float = 0.05
    """A batch whose share of quarantined rows passes this fails the run (rows are kept)."""
    dbt_project: str | None = None
    dbt_steps: tuple[str, ...] = ()
    """Names of the dbt steps declared in ``transform:`` (see ``steps`` for what they run)."""
    steps: tuple[DbtStep, ...] = ()
    dags: tuple[DagShape, ...] = ()
    """The pipeline's DAGs (one named after the pipeline unless ``dags:`` says otherwise)."""
    dbt_render: str = "steps"
    """``transform.render``: ``steps`` (one task per dbt step) or ``per_model`` (one task per
    dbt node, see headwater.dbt_nodes)."""
    dbt_target: str | None = None
    """``transform.dbt_target``: the pipeline's default dbt target (dev or pro) when
    HEADWATER_DBT_TARGET is not set; None: pro, like every pipeline."""
    folder: Path = field(default=Path("."), compare=False)

    def __post_init__(self) -> None:
        # Built in code rather than parsed: steps named from the standard preset, one DAG.
        if self.dbt_steps and not self.steps:
            preset = {s.name: s for s in PRESETS[DEFAULT_PRESET]}
            object.__setattr__(self, "steps", tuple(preset[n] for n in self.dbt_steps))
        if not self.dags:
            object.__setattr__(self, "dags", default_dags(self.name, self.schedule, self.steps))

    def step(self, name: str) -> DbtStep:
        for s in self.steps:
            if s.name == name:
                return s
        raise SpecError(f"pipeline {self.name!r} has no dbt step {name!r}; steps: {list(self.dbt_steps)}")

    def dag(self, dag_id: str) -> DagShape:
        for d in self.dags:
            if d.dag_id == dag_id:
                return d
        raise SpecError(
            f"pipeline {self.name!r} has no DAG {dag_id!r}; DAGs: {[d.dag_id for d in self.dags]}"
        )

    def dags_in_order(self) -> list[DagShape]:
        """Producers before the DAGs their Assets schedule (the order a one-shot run follows)."""
        return dag_order(self.dags, f"pipeline {self.name!r}")

    @property
    def source(self) -> SourceSpec:
        """The main source (the one the generator fills)."""
        return self.source_named(MAIN_SOURCE) if self.has_source(MAIN_SOURCE) else self.sources[0]

    def has_source(self, name: str) -> bool:
        return any(s.name == name for s in self.sources)

    def source_named(self, name: str) -> SourceSpec:
        for s in self.sources:
            if s.name == name:
                return s
        raise SpecError(f"pipeline {self.name!r} has no source {name!r}")

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

    def source_url(self, home: Path, override: str | None = None, name: str | None = None) -> str:
        """A source's URL with ``{home}`` filled in; ``override`` replaces the main source's."""
        source = self.source if name is None else self.source_named(name)
        if override and source is self.source:
            return override
        return source.url.replace("{home}", str(home))


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
            "queues",
            "source",
            "sources",
            "load",
            "tables",
            "transform",
            "dags",
        },
        where,
    )
    sources = _parse_sources(data, where)
    source_names = [src.name for src in sources]

    raw_tables = _require(data, "tables", where)
    if not isinstance(raw_tables, list):
        raise SpecError(f"{where}.tables must be a list")
    tables: list[TableSpec] = []
    for i, t in enumerate(raw_tables):
        tw = f"{where}.tables[{i}]"
        if not isinstance(t, dict):
            raise SpecError(f"{tw} must be a mapping")
        _known_keys(t, TABLE_KEYS, tw)
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
        source_name = t.get("source", source_names[0] if len(source_names) == 1 else MAIN_SOURCE)
        if source_name not in source_names:
            raise SpecError(
                f"{tw}.source: {source_name!r} is not one of the pipeline's sources {source_names}"
            )
        kind = next(src.kind for src in sources if src.name == source_name)
        read = _parse_read(t.get("read"), kind, tw)
        if read is not None:
            known = (*read.column_names, "_source_file", "_source_line")
            missing = [c for c in (*pk_cols, *([cursor] if cursor else [])) if c not in known]
            if missing:
                raise SpecError(f"{tw}: key/cursor column(s) {missing} are not among read.columns")
        deletes = _parse_deletes(t.get("deletes"), kind, mode, tw)
        chunk_rows = _chunk_rows(t.get("load"), tw)
        tables.append(
            TableSpec(tname, pk_cols, cursor, mode, tuple(deps), source_name, read, deletes, chunk_rows)
        )
    names = [t.name for t in tables]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{where}: table(s) listed twice: {dupes}")

    _check_dependencies(where, tables)

    load = data.get("load") or {}
    _known_keys(load, {"lookback_seconds", "schema_changes", "max_rejected_share"}, f"{where}.load")
    max_rejected = load.get("max_rejected_share", 0.05)
    if (
        isinstance(max_rejected, bool)
        or not isinstance(max_rejected, int | float)
        or not 0 <= max_rejected <= 1
    ):
        raise SpecError(f"{where}.load.max_rejected_share must be a number from 0 to 1")
    schema_changes = load.get("schema_changes", "evolve")
    if schema_changes not in ("evolve", "fail"):
        raise SpecError(f"{where}.load.schema_changes: {schema_changes!r} is not one of ('evolve', 'fail')")
    tables = [
        replace(
            t,
            read=replace(
                t.read,
                on_drift=schema_changes,
                required=tuple(
                    c for c in (*t.primary_key, *([t.cursor] if t.cursor else [])) if c in t.read.column_names
                ),
            ),
        )
        if t.read is not None
        else t
        for t in tables
    ]
    lookback = load.get("lookback_seconds", 0)
    if not isinstance(lookback, int) or lookback < 0:
        raise SpecError(f"{where}.load.lookback_seconds must be a whole number >= 0")

    transform = data.get("transform") or {}
    if not isinstance(transform, dict):
        raise SpecError(f"{where}.transform must be a mapping")
    _known_keys(transform, {"dbt_project", "preset", "steps", "render", "dbt_target"}, f"{where}.transform")
    dbt_target = transform.get("dbt_target")
    if dbt_target is not None and dbt_target not in ("dev", "pro"):
        raise SpecError(f"{where}.transform.dbt_target: {dbt_target!r} is not one of ('dev', 'pro')")
    steps = parse_steps(transform, f"{where}.transform")
    dags = parse_dags(
        data.get("dags"),
        name,
        data.get("schedule"),
        steps,
        {t.name: t.source for t in tables},
        {t.name: t.depends_on for t in tables},
        where,
    )
    render = parse_render(transform, steps, dags, f"{where}.transform")

    retries = data.get("retries", 2)
    delay = data.get("retry_delay_minutes", 5)
    if not isinstance(retries, int) or retries < 0 or not isinstance(delay, int) or delay < 0:
        raise SpecError(f"{where}: retries and retry_delay_minutes must be whole numbers >= 0")
    queues = _parse_queues(data.get("queues") or {}, f"{where}.queues")
    return PipelineSpec(
        name=name,
        description=str(data.get("description", "")),
        sources=sources,
        tables=tuple(tables),
        schedule=data.get("schedule"),
        retries=retries,
        retry_delay_minutes=delay,
        queues=queues,
        lookback_seconds=lookback,
        schema_changes=schema_changes,
        max_rejected_share=float(max_rejected),
        dbt_project=transform.get("dbt_project"),
        dbt_steps=tuple(s.name for s in steps),
        steps=steps,
        dbt_render=render,
        dags=dags,
        dbt_target=dbt_target,
        folder=folder,
    )


def _chunk_rows(load: Any, where: str) -> int | None:
    """A table's ``load: {chunk_rows: N}``: split batches above N rows into parallel chunks."""
    if load is None:
        return None
    if not isinstance(load, dict):
        raise SpecError(f"{where}.load must be a mapping")
    _known_keys(load, {"chunk_rows"}, f"{where}.load")
    n = load.get("chunk_rows")
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpecError(f"{where}.load.chunk_rows must be a whole number >= 1, got {n!r}")
    return n


def _parse_source(src: Any, name: str, where: str) -> SourceSpec:
    if not isinstance(src, dict):
        raise SpecError(f"{where} must be a mapping")
    _known_keys(src, {"kind", "url", "schema"}, where)
    kind = src.get("kind")
    if kind not in SOURCE_KINDS:
        raise SpecError(f"{where}.kind: {kind!r} is not supported (use one of {list(SOURCE_KINDS)})")
    return SourceSpec(
        kind=kind,
        url=str(_require(src, "url", where)),
        schema=_identifier(src["schema"], f"{where}.schema") if src.get("schema") else None,
        name=name,
    )


def _parse_deletes(value: Any, kind: str, mode: str, where: str) -> DeletesSpec | None:
    """``deletes: detect`` or ``{detect: true, every_runs: N, allow_empty: false}``."""
    if value in (None, "ignore", False):
        return None
    dw = f"{where}.deletes"
    if value == "detect":
        value = {"detect": True}
    if not isinstance(value, dict):
        raise SpecError(
            f"{dw}: use detect, ignore or a mapping {{detect: true, every_runs: N, allow_empty: false}}"
        )
    _known_keys(value, {"detect", "every_runs", "allow_empty"}, dw)
    if value.get("detect", True) is not True:
        return None
    if mode == "full":
        raise SpecError(f"{dw}: a full-mode table already loses the keys its source lost; remove deletes")
    if kind != "sql":
        raise SpecError(f"{dw}: only a SQL source can be listed whole to find deletes (this is {kind})")
    every = value.get("every_runs", 1)
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise SpecError(f"{dw}.every_runs must be a whole number >= 1")
    allow_empty = value.get("allow_empty", False)
    if not isinstance(allow_empty, bool):
        raise SpecError(f"{dw}.allow_empty must be true or false")
    return DeletesSpec(every_runs=every, allow_empty=allow_empty)


def _parse_sources(data: dict[str, Any], where: str) -> tuple[SourceSpec, ...]:
    """``source:`` (one source, named main) or ``sources:`` (a mapping of named sources)."""
    if "source" in data and "sources" in data:
        raise SpecError(f"{where}: give either source (one) or sources (several), not both")
    if "sources" not in data:
        return (_parse_source(_require(data, "source", where), MAIN_SOURCE, f"{where}.source"),)
    named = data["sources"]
    if not isinstance(named, dict) or not named:
        raise SpecError(f"{where}.sources must be a mapping of source name to source")
    return tuple(
        _parse_source(src, _identifier(n, f"{where}.sources"), f"{where}.sources.{n}")
        for n, src in named.items()
    )


_TYPE_NAME = re.compile(r"^([A-Za-z][A-Za-z0-9_ ]*?)\s*(\(\s*(\d+)\s*(,\s*(\d+)\s*)?\))?$")

COLUMN_TYPES = {
    "BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
    "SMALLINT": "SMALLINT", "INT2": "SMALLINT",
    "INTEGER": "INTEGER", "INT": "INTEGER", "INT4": "INTEGER",
    "BIGINT": "BIGINT", "INT8": "BIGINT",
    "REAL": "REAL", "FLOAT4": "REAL",
    "DOUBLE": "DOUBLE", "DOUBLE PRECISION": "DOUBLE", "FLOAT8": "DOUBLE", "FLOAT": "REAL",
    "DECIMAL": "DECIMAL", "NUMERIC": "DECIMAL",
    "VARCHAR": "VARCHAR", "TEXT": "VARCHAR", "STRING": "VARCHAR",
    "DATE": "DATE", "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP", "TIMESTAMPTZ": "TIMESTAMPTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "UUID": "UUID",
}  # fmt: skip
"""Declarable column types (alias -> canonical): each exists in DuckDB (which reads files and
APIs) and maps to a Postgres type, so a batch loads on either warehouse. Anything else is
refused at spec time instead of failing at extract with an engine error."""


def column_type(value: Any, where: str) -> str:
    """The canonical spelling of a declared column type, or a SpecError naming the field."""
    match = _TYPE_NAME.match(value.strip()) if isinstance(value, str) else None
    base = " ".join(match.group(1).upper().split()) if match else None
    if match is None or base not in COLUMN_TYPES:
        known = sorted(set(COLUMN_TYPES.values()))
        raise SpecError(f"{where}: {value!r} is not a supported column type; use one of {known}")
    canonical = COLUMN_TYPES[base]
    precision, scale = match.group(3), match.group(5)
    if precision is None:
        return canonical
    if canonical == "VARCHAR" and scale is None:
        return canonical  # VARCHAR(n): both engines store text of any length the same way
    if canonical != "DECIMAL" or not 1 <= int(precision) <= 38 or int(scale or 0) > int(precision):
        raise SpecError(
            f"{where}: {value!r}: only DECIMAL(precision, scale) takes numbers, with "
            "1 <= precision <= 38 and scale <= precision"
        )
    return f"DECIMAL({int(precision)},{int(scale or 0)})"


def relative_path(value: str, where: str, what: str = "read.path") -> str:
    """``value`` when it stays inside its source's URL; a SpecError otherwise.

    A table's path is joined to its source URL, so an absolute path, a URL of its own, a
    home folder or enough ``..`` would read files outside the source (``/etc/passwd`` into
    the warehouse). Refused here, before anything is read.
    """
    problem = None
    if "\x00" in value:
        problem = "contains a NUL byte"
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value) or value.startswith("//"):
        problem = "is a URL of its own"
    elif value.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", value):
        problem = "is absolute"
    elif ".." in re.split(r"[/\\]+", posixpath.normpath(value.replace("\\", "/"))):
        problem = "climbs out of the source with '..'"
    if problem:
        raise SpecError(
            f"{where}: {what} {value!r} {problem}; it must be a path or glob relative to the "
            "source URL (e.g. orders/*.csv), which decides where the source's files are"
        )
    return value


def _parse_read(read: Any, kind: str, where: str) -> ReadSpec | None:
    if kind == "sql":
        if read is not None:
            raise SpecError(f"{where}.read: SQL sources are read by table name; remove read")
        return None
    if not isinstance(read, dict):
        raise SpecError(f"{where}: a table of a {kind} source needs read: (path/endpoint and columns)")
    rw = f"{where}.read"
    _known_keys(
        read,
        {"path", "endpoint", "format", "columns", "date_format", "timestamp_format", "delimiter",
         "header", "sheet", "records", "since_param", "page_size", "patterns"},
        rw,
    )  # fmt: skip
    cols = _require(read, "columns", rw)
    if not isinstance(cols, dict):
        raise SpecError(f"{rw}.columns must map column name to type, e.g. {{id: BIGINT}}")
    columns = []
    for name, type_ in cols.items():
        _identifier(name, f"{rw}.columns")
        columns.append((name, column_type(type_, f"{rw}.columns.{name}")))
    if kind == "http":
        path = relative_path(str(_require(read, "endpoint", rw)), rw, "read.endpoint")
        fmt = "json"
    else:
        path = relative_path(str(_require(read, "path", rw)), rw)
        fmt = read.get("format") or _format_from_path(path, rw)
    if fmt not in FILE_FORMATS:
        raise SpecError(f"{rw}.format: {fmt!r} is not one of {list(FILE_FORMATS)}")
    delimiter = read.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise SpecError(f"{rw}.delimiter must be one character")
    page_size = read.get("page_size", 100)
    if not isinstance(page_size, int) or page_size < 1:
        raise SpecError(f"{rw}.page_size must be a whole number >= 1")
    since_param = read.get("since_param")
    records = read.get("records")
    patterns = _parse_patterns(read.get("patterns"), [c[0] for c in columns], rw)
    if patterns and fmt == "csv":
        # CSV is typed by DuckDB's reader itself, not by the shared typed split
        raise SpecError(f"{rw}.patterns: not supported for CSV (XLSX, JSON, access logs and APIs only)")
    return ReadSpec(
        columns=tuple(columns),
        path=path,
        format=fmt,
        date_format=read.get("date_format"),
        timestamp_format=read.get("timestamp_format"),
        delimiter=delimiter,
        header=bool(read.get("header", True)),
        sheet=read.get("sheet"),
        records=str(records) if records else None,
        since_param=str(since_param) if since_param else None,
        page_size=page_size,
        patterns=patterns,
    )


def _parse_patterns(patterns: Any, columns: list[str], where: str) -> tuple[tuple[str, str], ...]:
    if patterns is None:
        return ()
    if not isinstance(patterns, dict):
        raise SpecError(f"{where}.patterns must map column name to a regular expression")
    out = []
    for name, pattern in patterns.items():
        if name not in columns:
            raise SpecError(f"{where}.patterns: {name!r} is not one of read.columns {columns}")
        if not isinstance(pattern, str) or not pattern:
            raise SpecError(f"{where}.patterns.{name} must be a regular expression (text)")
        try:
            re.compile(pattern)
        except re.error as e:
            raise SpecError(
                f"{where}.patterns.{name}: {pattern!r} is not a valid regular expression ({e})"
            ) from None
        out.append((name, pattern))
    return tuple(out)


def _format_from_path(path: str, where: str) -> str:
    lower = path.lower()
    for suffix, fmt in ((".csv", "csv"), (".csv.gz", "csv"), (".xlsx", "xlsx"), (".json", "json"),
                        (".jsonl", "json"), (".ndjson", "json"), (".log", "access_log")):  # fmt: skip
        if lower.endswith(suffix):
            return fmt
    raise SpecError(f"{where}.format: cannot tell the format of {path!r}; set format: {list(FILE_FORMATS)}")


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
    """The bundled pipelines' folder (discovery also looks in HEADWATER_PIPELINE_PATHS)."""
    from headwater.discovery import bundled_root

    return bundled_root()


def available_pipelines() -> list[str]:
    """Every discovered pipeline (see :mod:`headwater.discovery`)."""
    from headwater.discovery import available_pipelines as discovered

    return discovered()


def load_spec(name: str) -> PipelineSpec:
    """Load and validate a discovered pipeline's spec (see :mod:`headwater.discovery`)."""
    from headwater.discovery import load_spec as discovered_spec

    return discovered_spec(name)


def load_spec_from(folder: Path) -> PipelineSpec:
    """Load and validate the spec in ``folder``/pipeline.yaml (any folder, e.g. outside the package)."""
    path = Path(folder) / "pipeline.yaml"
    if not path.exists():
        raise SpecError(f"no pipeline.yaml in {folder}")
    import yaml

    with path.open() as f:
        return parse_spec(yaml.safe_load(f), folder=path.parent)


QUEUE_KINDS = ("load", "transform")


def _parse_queues(raw: Any, where: str) -> dict[str, str]:
    """``queues: {load: <queue>, transform: <queue>}``: Celery queue names per kind of task."""
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a mapping of {' / '.join(QUEUE_KINDS)} to a queue name")
    _known_keys(raw, set(QUEUE_KINDS), where)
    queues = {}
    for kind, name in raw.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise SpecError(f"{where}.{kind}: a queue name (letters, digits, '_', '.', '-'), not {name!r}")
        queues[kind] = name
    return queues

"""What every source gives the extract step, and the typed validation that files and APIs share.

A source turns "table T's rows with since <= cursor < until" into DuckDB SQL that the extract
step copies into the lake (``relation``). Sources without types of their own (files, APIs)
also report the rows they could not read (``rejects``): every rejected row keeps its raw
content, the file and line it came from and the reason, and ends up in the warehouse's
quarantine table; nothing is dropped and nothing is guessed.
"""

from __future__ import annotations

from typing import Protocol

import duckdb

from headwater import duck
from headwater.spec import ReadSpec, TableSpec
from headwater.watermark import Bound

REJECT_COLUMNS = ("source_file", "source_line", "column_name", "reason", "record")
"""The columns of a rejects relation, in order (written next to a batch as _rejects.parquet)."""


class Source(Protocol):
    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make the source readable from ``con`` (attach a database, configure S3 ...)."""

    def check_table(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> None:
        """Fail with a clear SourceError when the table cannot be read at all."""

    def relation(
        self, con: duckdb.DuckDBPyConnection, table: TableSpec, since: Bound | None, until: Bound | None
    ) -> str:
        """DuckDB SQL of the table's readable rows in the cursor window."""

    def rejects(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str | None:
        """After ``relation`` was read: SQL of the rows that could not be read, or None."""


def cursor_filter(table: TableSpec, since: Bound | None, until: Bound | None) -> str:
    """A WHERE clause (or '') selecting since <= cursor < until."""
    if table.cursor is None:
        return ""
    conditions = []
    if since is not None:
        conditions.append(f"{duck.quote(table.cursor)} >= {since.duckdb_literal()}")
    if until is not None:
        conditions.append(f"{duck.quote(table.cursor)} < {until.duckdb_literal()}")
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def parsed(column: str, type_: str, read: ReadSpec) -> str:
    """SQL parsing the raw text column ``column`` as ``type_`` (NULL when it does not parse).

    Dates and timestamps use the declared format when there is one, and ISO 8601 otherwise:
    03/01/2024 is never guessed to be March or January. Empty text is NULL.
    """
    raw = f"nullif(trim({duck.quote(column)}), '')"
    base = type_.split("(")[0].strip()
    if base == "VARCHAR" or base == "TEXT":
        return duck.quote(column)
    if base == "DATE" and read.date_format:
        return f"try_strptime({raw}, {duck.literal(read.date_format)})::DATE"
    if base.startswith("TIMESTAMP") and read.timestamp_format:
        return f"try_strptime({raw}, {duck.literal(read.timestamp_format)})::{type_}"
    return f"TRY_CAST({raw} AS {type_})"


def typed_split(
    raw: str,
    read: ReadSpec,
    provenance: tuple[str, ...],
    record: str | None = None,
    problem: str | None = None,
) -> tuple[str, str]:
    """(good rows SQL, rejects SQL) for ``raw``, a relation of text columns plus provenance.

    ``raw`` holds every declared column as text and the provenance columns ``_source_file``
    and ``_source_line``; a row is good when every non-empty value parses as its type.
    ``record`` is the SQL of a rejected row's raw content (default: its text values as JSON);
    ``problem`` names a text column saying why a row could not even be split into columns
    (NULL when it could).
    """
    checks = []  # (column, what is wrong with a bad value, SQL true when the value is fine)
    patterns = dict(read.patterns)
    for name, type_ in read.columns:
        value = f"nullif(trim({duck.quote(name)}), '')"
        checks.append(
            (
                name,
                f" is not a valid {type_}",
                f"({value} IS NULL OR {parsed(name, type_, read)} IS NOT NULL)",
            )
        )
        if name in patterns:
            matches = f"regexp_full_match(trim({duck.quote(name)}), {duck.literal(patterns[name])})"
            checks.append((name, f" does not match read.patterns.{name}", f"({value} IS NULL OR {matches})"))
    all_ok = " AND ".join([*(c[2] for c in checks), *([f"{problem} IS NULL"] if problem else [])])
    typed_columns = ", ".join(f"{parsed(n, t, read)} AS {duck.quote(n)}" for n, t in read.columns)
    extra = "".join(f", {duck.quote(p)}" for p in provenance)
    good = f"SELECT {typed_columns}{extra} FROM {raw} WHERE {all_ok}"
    reasons = (f"{problem}, " if problem else "") + ", ".join(
        f"CASE WHEN NOT {ok} THEN {duck.literal(f'column {n}: ')} || "
        f"left({duck.quote(n)}, 80) || {duck.literal(what)} END"
        for n, what, ok in checks
    )
    first_bad = (f"WHEN {problem} IS NOT NULL THEN NULL " if problem else "") + " ".join(
        f"WHEN NOT {ok} THEN {duck.literal(n)}" for n, _, ok in checks
    )
    if record is None:
        pairs = ", ".join(f"{duck.quote(n)} := {duck.quote(n)}" for n in read.column_names)
        record = f"to_json(struct_pack({pairs}))::VARCHAR"
    rejects = (
        f"SELECT _source_file::VARCHAR AS source_file, _source_line::BIGINT AS source_line, "
        f"CASE {first_bad} END AS column_name, concat_ws('; ', {reasons}) AS reason, "
        f"{record} AS record FROM {raw} WHERE NOT ({all_ok})"
    )
    return good, rejects


def match_header(
    header: list[str] | tuple[str, ...], read: ReadSpec, where: str, odd_names: str = "error"
) -> tuple[dict[str, int], list[str], list[tuple[str, int]]]:
    """Match a file's header (or a record's fields) to the declared columns, by name.

    Returns (declared name -> position, declared names missing, unknown (name, position)).
    Names match ignoring case and surrounding spaces. When something is missing or unknown,
    the pipeline's drift policy decides: ``fail`` raises SchemaChangeError naming ``where``
    and the columns; ``evolve`` logs a warning (missing columns load as NULL, unknown ones
    as extra text columns, so nothing is lost).
    """
    import logging

    from headwater.errors import SourceError
    from headwater.identifiers import valid_identifier
    from headwater.warehouse.schema import SchemaChangeError

    found = [str(h).strip() for h in header]
    lowered = [h.lower() for h in found]
    repeated = sorted({h for h in found if lowered.count(h.lower()) > 1})
    if repeated:
        raise SourceError(f"{where}: the header names column(s) {repeated} twice")
    declared = {n.lower(): n for n in read.column_names}
    positions = {declared[h]: i for i, h in enumerate(lowered) if h in declared}
    missing = [n for n in read.column_names if n not in positions]
    unknown = [(found[i], i) for i, h in enumerate(lowered) if h not in declared and h]
    lost_keys = [c for c in missing if c in read.required]
    if lost_keys:
        raise SourceError(
            f"{where}: key or cursor column(s) {lost_keys} are missing (renamed? or a title row "
            f"above the header?); rows cannot be loaded without them. Found: {found}"
        )
    if not (missing or unknown):
        return positions, missing, unknown
    problem = "; ".join(
        [
            *([f"lacks declared column(s) {missing}"] if missing else []),
            *([f"has unknown column(s) {[u for u, _ in unknown]}"] if unknown else []),
        ]
    )
    if read.on_drift == "fail":
        raise SchemaChangeError(
            f"{where}: the header {problem}, and the pipeline's policy is schema_changes: fail. "
            "Nothing was loaded. Fix the source, or declare the columns in read.columns, or set "
            "load.schema_changes: evolve."
        )
    bad = [u for u, _ in unknown if not valid_identifier(u)]
    if bad and odd_names == "skip":  # e.g. an API's "@odata.etag": cannot be a column
        unknown = [(u, i) for u, i in unknown if valid_identifier(u)]
        problem += f" (left out, not usable as column names: {bad})"
    elif bad:
        raise SourceError(
            f"{where}: the header has unknown column(s) {bad} whose names cannot become columns "
            "(letters, digits and _ only); declare or rename them"
        )
    logging.getLogger(__name__).warning(
        "%s: the header %s; schema_changes: evolve: missing columns load as NULL, unknown ones "
        "as extra text columns",
        where,
        problem,
    )
    return positions, missing, unknown

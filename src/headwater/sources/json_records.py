"""JSON records (files and API pages) as text rows, with their shape checked first.

A JSON source's shape can drift without any parse error: the field holding the records
disappears (which read as an empty page), a field is renamed (which read as NULL), a record
is a string instead of an object. Each is caught here, in DuckDB, before the typed split:

- the ``records`` field must exist and hold a list in every file or page: otherwise a
  clear error naming the file or page (never a "successful" run with 0 rows);
- each file's or page's field names are matched to the declared columns like a CSV header
  (``sources.base.match_header``: the drift policy decides; a key or cursor field that is
  missing is always an error);
- a record that is not an object is quarantined with that reason.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.sources.base import match_header
from headwater.spec import ReadSpec

EXPLODED = "__hw_json_records"


def load_records(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    objects: str,
    read: ReadSpec,
    label: Callable[[str], str],
    whole_body: bool = False,
) -> list[str]:
    """Fill ``raw`` with one text row per record (plus ``_problem``); return extra columns.

    ``objects`` is a relation of (filename, json); ``label`` names a file for messages (an
    API page's scratch file becomes "<endpoint> page N"). With ``whole_body`` (API pages)
    and no ``records`` field, a page's body must itself be the list of records.
    """
    if read.records or whole_body:
        path = "$." + ".".join(f'"{p}"' for p in read.records.split(".")) if read.records else "$"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __hw_json_bodies AS SELECT filename, "
            f"json_extract(json, {duck.literal(path)}) AS body, json_type(json) AS outer_type, "
            f"CASE WHEN json_type(json) = 'OBJECT' THEN json_keys(json) END AS outer_keys FROM {objects}"
        )
        _check_record_lists(con, read, label)
        records = "from_json(body, '[\"JSON\"]')"
        exploded = (
            f"SELECT filename, unnest({records}) AS r, generate_subscripts({records}, 1) AS i "
            "FROM __hw_json_bodies"
        )
    else:
        exploded = (
            f"SELECT filename, json AS r, row_number() OVER (PARTITION BY filename) AS i FROM {objects}"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {EXPLODED} AS {exploded}")
    extras = _check_fields(con, read, label)
    names = [*read.column_names, *extras]
    cols = ", ".join(f"(r ->> {duck.literal(n)}) AS {duck.quote(n)}" for n in names)
    problem = (
        "CASE WHEN json_type(r) IS DISTINCT FROM 'OBJECT' THEN 'record is not a JSON object but ' "
        "|| coalesce(lower(json_type(r)), 'null') END"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {duck.quote(raw)} AS SELECT {cols}, filename AS _source_file, "
        f"i::BIGINT AS _source_line, {problem} AS _problem, r::VARCHAR AS _record FROM {EXPLODED}"
    )
    return extras


def _check_record_lists(con: duckdb.DuckDBPyConnection, read: ReadSpec, label: Callable[[str], str]) -> None:
    bad = con.execute(
        "SELECT filename, json_type(body), outer_type, outer_keys FROM __hw_json_bodies "
        "WHERE json_type(body) IS DISTINCT FROM 'ARRAY' ORDER BY filename LIMIT 1"
    ).fetchone()
    if bad is None:
        return
    file, found, outer, keys = bad
    if read.records and found is None:
        has = f"its fields are {sorted(keys)}" if keys is not None else f"it is a JSON {str(outer).lower()}"
        raise SourceError(
            f"{label(file)}: no {read.records!r} field holding the records ({has}); an absent "
            "field is not an empty page: check read.records in the spec, or the source"
        )
    where = f"field {read.records!r}" if read.records else "the body"
    hint = "" if read.records else "; set read.records to the field that holds the list"
    raise SourceError(f"{label(file)}: {where} is a JSON {str(found).lower()}, not a list of records{hint}")


def _check_fields(con: duckdb.DuckDBPyConnection, read: ReadSpec, label: Callable[[str], str]) -> list[str]:
    """Match each file's (page's) field names to the declared columns; return extra ones."""
    per_file = con.execute(
        f"SELECT filename, list(DISTINCT k ORDER BY k) FROM (SELECT filename, unnest(json_keys(r)) AS k "
        f"FROM {EXPLODED} WHERE json_type(r) = 'OBJECT') GROUP BY filename ORDER BY filename"
    ).fetchall()
    extras: list[str] = []
    for file, keys in per_file:
        _, _, unknown = match_header(list(keys), read, f"{label(file)}: the records' fields", "skip")
        extras += [u for u, _ in unknown if u not in extras]
    return sorted(extras)


def read_json_files(con: duckdb.DuckDBPyConnection, files: list[str]) -> str:
    """The files as (filename, json) objects, after making sure each one parses as JSON."""
    relation = f"read_json_objects({duck.string_list(files)}, filename = true)"
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __hw_json_objects AS SELECT * FROM {relation}")
    except duckdb.Error:
        for f in files:  # which one: a second look only when something is wrong
            try:
                con.execute(f"SELECT count(*) FROM read_json_objects({duck.literal(f)})").fetchall()
            except duckdb.Error as e:
                raise SourceError(f"file {f}: not valid JSON ({_first_line(e)})") from None
        raise
    return "__hw_json_objects"


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return line.removeprefix("Invalid Input Error: ")[:200]

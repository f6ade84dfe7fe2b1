"""File sources: CSV, XLSX, JSON and web-server access logs, in a local folder or on S3.

Every table names a path or glob under the source URL and declares its columns. CSV is read
by DuckDB's parallel streaming reader with typed columns and ``store_rejects``: a malformed
line, a wrong column count, bytes that are not UTF-8, or a value that does not parse as its
type (a number word, a date in another format) is rejected with its file, line and raw text
instead of failing the run or being guessed (``sources.csv_files``: columns by header name,
repeated headers, unterminated quotes). XLSX (``sources.xlsx``), JSON
(``sources.json_records``) and logs are read as text and validated by the same typed split
(``sources.base.typed_split``). Nothing outside the source URL is read.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import replace

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.lake import S3Config
from headwater.sources.base import cursor_filter, typed_split
from headwater.sources.csv_files import CsvReader
from headwater.sources.json_records import load_records, read_json_files
from headwater.sources.xlsx import load_xlsx
from headwater.spec import ReadSpec, TableSpec
from headwater.watermark import Bound

log = logging.getLogger(__name__)

PROVENANCE = ("_source_file", "_source_line")

# Apache/Nginx "combined" format: ip ident user [time] "request" status bytes "referrer" "agent".
COMBINED_LOG = (
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) '
    r'"((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"\s*$'
)
LOG_FIELDS = ("ip", "ident", "user", "time", "request", "status", "bytes", "referrer", "user_agent")
LOG_DERIVED = ("method", "path", "protocol")
LOG_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


class FileSource:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._rejects: str | None = None
        self._recovered: str | None = None
        self._csv: CsvReader | None = None
        self._where = ""
        self._files: dict[str, list[str]] = {}
        self._readable: str | None = None

    def __repr__(self) -> str:
        return f"FileSource({duck.mask_url(self.url)})"

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.url.startswith("s3://"):
            S3Config.from_env().configure_duckdb(con)

    def pattern(self, read: ReadSpec) -> str:
        assert read.path is not None
        return posixpath.join(self.url, read.path)

    def files(self, con: duckdb.DuckDBPyConnection, read: ReadSpec) -> list[str]:
        """The files matching the table's path, listed once per extract (a LIST call on S3)."""
        pattern = self.pattern(read)
        if pattern not in self._files:
            rows = con.execute("SELECT file FROM glob(?) ORDER BY file", [pattern]).fetchall()
            # The spec refuses paths that leave the source; this guards an override or a
            # symlinked folder: nothing outside the source URL is ever read.
            outside = [r[0] for r in rows if not _inside(r[0], self.url)]
            if outside:
                raise SourceError(
                    f"{read.path!r} matches file(s) outside the source {duck.mask_url(self.url)} "
                    f"(e.g. {outside[0]}); refusing to read them"
                )
            self._files[pattern] = [r[0] for r in rows]
        return self._files[pattern]

    def check_table(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> None:
        read = _read_of(table)
        files = self.files(con, read)
        if not files:
            raise SourceError(
                f"no file matches {read.path!r} under {duck.mask_url(self.url)} for table "
                f"{table.name!r}: check read.path in the pipeline spec or deliver the files"
            )
        sizes = con.execute(
            "SELECT filename, size FROM read_blob(?) WHERE size = 0 ORDER BY filename", [files]
        ).fetchall()
        for name, _ in sizes:
            log.warning("%s: file %s is empty (0 bytes); nothing to read from it", table.name, name)

    def fingerprint(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str:
        """A hash of the matched files' names, sizes and modification times (no content read)."""
        files = self.files(con, _read_of(table))
        return str(
            duck.scalar(
                con,
                "SELECT md5(string_agg(filename || ':' || size || ':' || last_modified::VARCHAR, ',' "
                "ORDER BY filename)) FROM read_blob(?)",
                [files],
            )
        )

    def relation(
        self, con: duckdb.DuckDBPyConnection, table: TableSpec, since: Bound | None, until: Bound | None
    ) -> str:
        read = _read_of(table)
        files = self.files(con, read)
        where = cursor_filter(table, since, until)
        if read.format == "csv":
            self._csv, self._where = CsvReader(con, files, read, table.name), where
            self._readable = self._csv.relation()
            return f"SELECT * FROM ({self._readable}){where}"
        self._csv = None
        raw = f"__hw_raw_{table.name}"
        record = problem = None
        if read.format == "xlsx":
            extras = load_xlsx(con, raw, files, read)
            read = replace(read, columns=(*read.columns, *((e, "VARCHAR") for e in extras)))
            problem = "_problem"
        elif read.format == "json":
            objects = read_json_files(con, files)
            extras = load_records(con, raw, objects, read, lambda f: f"file {f}")
            read = replace(read, columns=(*read.columns, *((e, "VARCHAR") for e in extras)))
            record, problem = "_record", "_problem"
        else:
            read = replace(read, timestamp_format=read.timestamp_format or LOG_TIME_FORMAT)
            _load_access_log(con, raw, files, read)
            record, problem = "_raw_line", "_problem"
        good, rejects = typed_split(duck.quote(raw), read, PROVENANCE, record, problem)
        self._rejects, self._readable = rejects, good
        return f"SELECT * FROM ({good}){where}"

    def rows_before_cursor_filter(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """After ``relation``: the readable rows of the files, whatever their cursor."""
        if self._readable is None:
            return None
        return int(duck.scalar(con, f"SELECT count(*) FROM ({self._readable})"))

    def rejects(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str | None:
        if self._csv is not None:
            self._rejects, self._recovered = self._csv.finish(con, self._where)
        return self._rejects

    def recovered(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str | None:
        """After ``rejects``: SQL of good rows found only on a second look (CSV lines that an
        unterminated quote had swallowed), to add to the batch; None when there are none."""
        return self._recovered


def _inside(file: str, root: str) -> bool:
    if "://" in root:
        return file.startswith(root + "/")
    return os.path.realpath(file).startswith(os.path.realpath(root) + os.sep)


def _read_of(table: TableSpec) -> ReadSpec:
    if table.read is None:
        raise SourceError(f"table {table.name!r} of a file source has no read: section in its spec")
    return table.read


def _load_access_log(con: duckdb.DuckDBPyConnection, raw: str, files: list[str], read: ReadSpec) -> None:
    """Combined-format lines, split by a regular expression; a non-matching line is rejected.

    Lines are numbered exactly: each file's bytes are split on newlines and handed to DuckDB
    as Arrow (no Python loop per line), and a line that is not UTF-8 is rejected, not mangled.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.fs as pafs

    fs, _ = pafs.FileSystem.from_uri(files[0]) if "://" in files[0] else (pafs.LocalFileSystem(), None)
    parts = []
    for f in files:
        path = f.split("://", 1)[1] if "://" in f else f
        with fs.open_input_stream(path) as stream:
            lines = stream.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parts.append(
            pa.table(
                {
                    "_source_file": pa.array([f] * len(lines), pa.string()),
                    "_source_line": pa.array(np.arange(1, len(lines) + 1, dtype=np.int64)),
                    "_bytes": pa.array(lines, pa.binary()),
                }
            )
        )
    arrow_lines = pa.concat_tables(parts)  # noqa: F841 (read by DuckDB's replacement scan)
    fields = ", ".join(duck.literal(n) for n in LOG_FIELDS)
    wanted = set(read.column_names)
    unknown = wanted - set(LOG_FIELDS) - set(LOG_DERIVED) - set(PROVENANCE)
    if unknown:
        raise SourceError(
            f"access-log columns {sorted(unknown)} do not exist; available: {list(LOG_FIELDS + LOG_DERIVED)}"
        )
    pattern = duck.literal(COMBINED_LOG)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {duck.quote(raw)} AS "
        f"WITH decoded AS (SELECT _source_file, _source_line, TRY(decode(_bytes)) AS line, "
        f"  _bytes FROM arrow_lines), "
        f"parsed AS (SELECT *, regexp_extract(line, {pattern}, [{fields}]) AS f, "
        f"  regexp_full_match(line, {pattern}) AS ok FROM decoded) "
        f"SELECT _source_file, _source_line, "
        f"  coalesce(line, 'not UTF-8: ' || left(_bytes::VARCHAR, 300)) AS _raw_line, "
        + ", ".join(f"CASE WHEN ok THEN nullif(f.{n}, '-') END AS {duck.quote(n)}" for n in LOG_FIELDS)
        + ", CASE WHEN ok THEN split_part(f.request, ' ', 1) END AS method"
        ", CASE WHEN ok THEN split_part(f.request, ' ', 2) END AS path"
        ", CASE WHEN ok THEN split_part(f.request, ' ', 3) END AS protocol"
        ", CASE WHEN line IS NULL THEN 'line is not valid UTF-8' "
        "  WHEN NOT ok THEN 'line is not in the combined log format' END AS _problem FROM parsed"
    )

"""CSV files: columns matched by header name, repeated headers and unterminated quotes caught.

DuckDB's streaming reader parses the files with typed columns and ``store_rejects``; around
it, this module makes sure that every line of every file ends up loaded or quarantined:

- Each file's header is read first (one small read per file) and its columns are matched to
  the declared ones *by name*, so a delivery whose columns come in another order still loads
  each value into its own column. Files with the same header are read together. A header
  that lacks a declared column or has an unknown one follows the pipeline's drift policy
  (``load.schema_changes``): ``fail`` stops with the file and the columns named; ``evolve``
  warns, fills a missing column with NULL and keeps an unknown one as an extra text column.
- A copy of the header line in the middle of a file is quarantined as such. With a typed
  column DuckDB rejects the line itself; when every column is text the line would parse, so
  it is kept out of the good rows and found again for the quarantine.
- An unterminated quote makes DuckDB read every following line into one field until the
  next quote, and reject the lot as one record. The line with the quote is quarantined and
  the lines it swallowed are read again on their own (they are good rows, or rejects with
  their own line numbers): rows in a file = rows read + rows rejected.
"""

from __future__ import annotations

import csv
import logging
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.lake import S3Config
from headwater.sources.base import match_header
from headwater.spec import ReadSpec

log = logging.getLogger(__name__)

REJECTS_TABLE = "__hw_rejects"
REJECTS_SCAN = "__hw_reject_scans"
HEADERS_TABLE = "__hw_csv_headers"
RECOVERED_TABLE = "__hw_csv_recovered"
REPEATED_HEADER = "repeated header line: a copy of the file's header in the middle of the file"
UNTERMINATED = (
    "unterminated quote: a quoted field opened on this line is never closed; "
    "the lines after it were read on their own"
)
MAX_RECOVERY_ROUNDS = 100
DUCKDB_LINE_CAP = 10_000
"""Characters of a rejected line that DuckDB keeps in its reject table."""


@dataclass(frozen=True)
class CsvGroup:
    """Files sharing one header, read by one ``read_csv`` call."""

    files: tuple[str, ...]
    header: tuple[str, ...] | None
    """The header's names as in the files (None: the spec says the files have no header)."""
    header_line: str | None
    columns: tuple[tuple[str, str], ...]
    """(name, type) of each column in the files' order: declared names, or unknown ones."""

    @property
    def all_text(self) -> bool:
        return all(t == "VARCHAR" for _, t in self.columns)


def header_line(file: str) -> str | None:
    """The first line of ``file`` as text (None for an empty file), reading 1 MB at most."""
    head = b""
    with _stream(file) as stream:  # 64 KB at a time: one small read per file, also on S3
        while b"\n" not in head and len(head) < 1 << 20:
            chunk = stream.read(1 << 16)
            if not chunk:
                break
            head += chunk
    if not head:
        return None
    try:
        return head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"file {file}: its header line is not UTF-8 text; is it a CSV file?") from None


def _stream(file: str):
    """The file's bytes as a stream, decompressed when its name says so (.gz)."""
    import pyarrow.fs as pafs

    if file.startswith("s3://"):
        fs: pafs.FileSystem = S3Config.from_env().filesystem()
        path = file.removeprefix("s3://")
    else:
        fs, path = pafs.LocalFileSystem(), file
    return fs.open_input_stream(path, compression="detect")


def _lines_from(file: str, position: int) -> Iterator[bytes]:
    """The (decompressed) file's lines from the one starting at byte ``position``, without
    their newlines. Starts a byte early: DuckDB's position may point at the line's first or
    second byte, and a newline there means it was the first."""
    start = max(position - 1, 0)
    with _stream(file) as f:
        while start > 0:
            skipped = f.read(min(start, 1 << 20))
            if not skipped:
                return
            start -= len(skipped)
        pending = b""
        first = position > 0
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            if first:
                chunk, first = (chunk[1:] if chunk[:1] == b"\n" else chunk), False
            pending += chunk
            *lines, pending = pending.split(b"\n")
            yield from lines
        if pending:
            yield pending


def scan_record(file: str, position: int, tail: Path | None = None) -> tuple[int, int, int]:
    """(newlines inside, characters of its first line, characters in all) of the CSV record
    starting at byte ``position``, found in the file itself, for records DuckDB cut at
    10,000 characters. Like DuckDB's reader, a record whose first line leaves a quote open
    ends with the next line holding a quote that is not an escaped pair ("").
    With ``tail``, its lines after the first are written there, to be read again."""
    held = first_chars = total = 0
    out = tail.open("wb") if tail is not None else None
    try:
        for n, line in enumerate(_lines_from(file, position)):
            text = line.rstrip(b"\r").decode("utf-8", errors="replace")
            if n == 0:
                first_chars = len(text)
                total = len(text)
                if line.count(b'"') % 2 == 0:
                    break  # no quote left open: a one-line record
                continue
            if out is not None:
                out.write(line + b"\n")
            total += 1 + len(text)
            held += 1
            if b'"' in line.replace(b'""', b""):
                break
    finally:
        if out is not None:
            out.close()
    return held, first_chars, total


def plan_groups(files: list[str], read: ReadSpec, table: str) -> list[CsvGroup]:
    """Group the files by header and match each header's names to the declared columns."""
    if not read.header:
        return [CsvGroup(tuple(files), None, None, read.columns)]
    by_line: dict[str, list[str]] = {}
    for f in files:
        line = header_line(f)
        if line is not None and line.strip():
            by_line.setdefault(line, []).append(f)
    groups = []
    for line, members in by_line.items():
        names = tuple(next(csv.reader([line], delimiter=read.delimiter)))
        groups.append(CsvGroup(tuple(members), names, line, _match(names, read, members[0], table)))
    return groups


def _match(header: tuple[str, ...], read: ReadSpec, file: str, table: str) -> tuple[tuple[str, str], ...]:
    """The files' columns in their order: the declared name and type, or an unknown name
    as text (the drift policy of ``match_header`` decides whether that is allowed)."""
    positions, _, unknown = match_header(header, read, f"table {table!r}, file {file}")
    types = dict(read.columns)
    by_position = {i: (n, types[n]) for n, i in positions.items()}
    by_position.update({i: (u, "VARCHAR") for u, i in unknown})
    # An empty header cell (a trailing delimiter) is a column nobody named: keep it as text.
    return tuple(by_position.get(i, (f"column_{i + 1}", "VARCHAR")) for i in range(len(header)))


def output_columns(groups: list[CsvGroup], read: ReadSpec) -> list[tuple[str, str]]:
    """The batch's columns: the declared ones, then every unknown one (text), sorted."""
    declared = set(read.column_names)
    extra = sorted({n for g in groups for n, _ in g.columns if n not in declared})
    return [*read.columns, *((n, "VARCHAR") for n in extra)]


def read_csv(
    files: list[str], read: ReadSpec, columns: tuple[tuple[str, str], ...], header: bool, rejects: str
) -> str:
    struct = "{" + ", ".join(f"{duck.literal(n)}: {duck.literal(t)}" for n, t in columns) + "}"
    options = [
        f"columns = {struct}",
        f"header = {str(header).lower()}",
        f"delim = {duck.literal(read.delimiter)}",
        "quote = '\"'",
        "escape = '\"'",
        "auto_detect = false",
        "store_rejects = true",
        f"rejects_table = {duck.literal(rejects)}",
        f"rejects_scan = {duck.literal(rejects + '_scans')}",
        "filename = '_source_file'",
    ]
    if read.date_format:
        options.append(f"dateformat = {duck.literal(read.date_format)}")
    if read.timestamp_format:
        options.append(f"timestampformat = {duck.literal(read.timestamp_format)}")
    return f"read_csv({duck.string_list(files)}, {', '.join(options)})"


def is_header_row(group: CsvGroup) -> str | None:
    """SQL true for a row that repeats the header, when nothing else would reject it."""
    if group.header is None or not group.all_text:
        return None
    return " AND ".join(
        f"{duck.quote(n)} IS NOT DISTINCT FROM {duck.literal(h)}"
        for (n, _), h in zip(group.columns, group.header, strict=True)
    )


def group_select(group: CsvGroup, source: str, wanted: list[tuple[str, str]]) -> str:
    """The group's rows with the batch's columns in the batch's order (NULL where absent)."""
    have = {n for n, _ in group.columns}
    cols = ", ".join(duck.quote(n) if n in have else f"NULL::{t} AS {duck.quote(n)}" for n, t in wanted)
    header = is_header_row(group)
    where = f" WHERE NOT coalesce({header}, false)" if header else ""
    return f"SELECT {cols}, _source_file FROM {source}{where}"


def rejects_select(rejects: str) -> str:
    """DuckDB's reject tables as rows: file read, DuckDB's line number, column, reason, raw
    text, the record's byte position and the newlines it holds.

    DuckDB may report several errors for one line (each missing column): one row per line
    with all of its reasons. A rejected line that is the file's header again says so.
    """
    return (
        "SELECT s.file_path AS read_path, e.line::BIGINT AS line, "
        "CASE WHEN min(e.csv_line) = any_value(h.header_line) THEN NULL ELSE min(e.column_name) END "
        "AS column_name, "
        f"CASE WHEN min(e.csv_line) = any_value(h.header_line) THEN {duck.literal(REPEATED_HEADER)} "
        "ELSE string_agg(DISTINCT e.error_type::VARCHAR || ': ' || e.error_message, '; ' "
        "ORDER BY e.error_type::VARCHAR || ': ' || e.error_message) END AS reason, "
        "min(e.csv_line) AS record, min(e.line_byte_position) AS byte_position, "
        "length(rtrim(min(e.csv_line), E'\\n')) "
        "- length(replace(rtrim(min(e.csv_line), E'\\n'), E'\\n', '')) AS held, "
        "NULL::BIGINT AS record_length "
        f"FROM {rejects} AS e JOIN {rejects}_scans AS s USING (scan_id, file_id) "
        f"LEFT JOIN {HEADERS_TABLE} AS h ON h.file = s.file_path "
        "GROUP BY s.file_path, e.line"
    )


class CsvReader:
    """One table's CSV read: the relation, then (after it was read) the rejects and the
    rows recovered from lines an unterminated quote had swallowed."""

    def __init__(self, con: duckdb.DuckDBPyConnection, files: list[str], read: ReadSpec, table: str) -> None:
        self.read = read
        self.table = table
        self.groups = plan_groups(files, read, table)
        self.columns = output_columns(self.groups, read)
        rows = [(f, g.header_line) for g in self.groups for f in g.files]
        con.execute(f"CREATE OR REPLACE TEMP TABLE {HEADERS_TABLE} (file VARCHAR, header_line VARCHAR)")
        if rows:
            con.executemany(f"INSERT INTO {HEADERS_TABLE} VALUES (?, ?)", rows)

    def relation(self) -> str:
        if not self.groups:
            cols = ", ".join(f"NULL::{t} AS {duck.quote(n)}" for n, t in self.columns)
            return f"SELECT {cols}, NULL::VARCHAR AS _source_file LIMIT 0"
        return " UNION ALL ".join(
            group_select(
                g,
                read_csv(list(g.files), self.read, g.columns, g.header is not None, REJECTS_TABLE),
                self.columns,
            )
            for g in self.groups
        )

    def finish(self, con: duckdb.DuckDBPyConnection, where: str) -> tuple[str, str | None]:
        """After the relation was read: (rejects SQL, SQL of recovered good rows or None)."""
        if not self.groups:
            return (
                "SELECT NULL::VARCHAR AS source_file, NULL::BIGINT AS source_line, "
                "NULL::VARCHAR AS column_name, NULL::VARCHAR AS reason, NULL::VARCHAR AS record, "
                "NULL::BIGINT AS record_length LIMIT 0",
                None,
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __hw_csv_rejects (source_file VARCHAR, source_line BIGINT, "
            "column_name VARCHAR, reason VARCHAR, record VARCHAR, record_length BIGINT, "
            "read_path VARCHAR, byte_position BIGINT, held BIGINT)"
        )
        self._scratch = Path(tempfile.mkdtemp(prefix=f"headwater-csv-{self.table}-"))
        try:
            self._add_rejects(con, REJECTS_TABLE, {})
            self._repeated_text_headers(con)
            recovered = self._recover_swallowed_lines(con)
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)
        rejects = (
            "SELECT source_file, source_line, column_name, reason, record, record_length "
            "FROM __hw_csv_rejects"
        )
        if recovered is None:
            return rejects, None
        return rejects, f"SELECT * FROM ({recovered}){where}"

    def _add_rejects(
        self, con: duckdb.DuckDBPyConnection, table: str, parts: dict[str, tuple[str, int]]
    ) -> None:
        """Add one read's rejects to ``__hw_csv_rejects`` as lines of the original files.

        DuckDB numbers records, not lines: after a rejected record that spans several lines
        the next ones are shifted back by the lines it held (counted in the file itself when
        DuckDB cut the record's text). ``parts`` maps a scratch file to (original file, line
        before its first line).
        """
        con.execute(f"CREATE OR REPLACE TEMP TABLE __hw_csv_pass AS {rejects_select(table)}")
        cut = con.execute(
            "SELECT read_path, byte_position FROM __hw_csv_pass "
            f"WHERE length(record) >= {DUCKDB_LINE_CAP} AND byte_position IS NOT NULL"
        ).fetchall()
        for path, position in cut:  # rare: records of more than 10,000 characters
            held, _, total = scan_record(path, int(position))
            con.execute(
                "UPDATE __hw_csv_pass SET held = ?, record_length = ? "
                "WHERE read_path = ? AND byte_position = ?",
                [held, total, path, position],
            )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __hw_csv_parts (path VARCHAR, file VARCHAR, offset_ BIGINT)"
        )
        if parts:
            con.executemany(
                "INSERT INTO __hw_csv_parts VALUES (?, ?, ?)", [(p, f, o) for p, (f, o) in parts.items()]
            )
        con.execute(
            "INSERT INTO __hw_csv_rejects SELECT coalesce(m.file, r.read_path), "
            "r.line + coalesce(m.offset_, 0) + coalesce(sum(r.held) OVER ("
            "PARTITION BY r.read_path ORDER BY r.line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), "
            "r.column_name, r.reason, r.record, "
            "r.record_length, r.read_path, r.byte_position, r.held "
            "FROM __hw_csv_pass AS r LEFT JOIN __hw_csv_parts AS m ON m.path = r.read_path"
        )

    def _repeated_text_headers(self, con: duckdb.DuckDBPyConnection) -> None:
        """All-text tables: find the header copies kept out of the rows, with their lines.

        A second look at the files, paid only by tables whose every column is text (a typed
        column makes DuckDB reject the copy itself, with its line).
        """
        for g in self.groups:
            header = is_header_row(g)
            if header is None:
                continue
            src = read_csv(list(g.files), self.read, g.columns, True, "__hw_rejects_again")
            hit = [
                r[0]
                for r in con.execute(f"SELECT DISTINCT _source_file FROM {src} WHERE {header}").fetchall()
            ]
            for f in hit:
                con.execute(
                    "INSERT INTO __hw_csv_rejects SELECT ?, i::BIGINT, NULL, ?, line, NULL, ?, NULL, 0 FROM ("
                    "SELECT unnest(lines) AS line, generate_subscripts(lines, 1) AS i FROM ("
                    "SELECT string_split(regexp_replace(content, '\\r?\\n$', ''), E'\\n') AS lines "
                    "FROM read_text(?))) WHERE i > 1 AND rtrim(line, E'\\r') = ?",
                    [f, REPEATED_HEADER, f, f, g.header_line],
                )

    def _recover_swallowed_lines(self, con: duckdb.DuckDBPyConnection) -> str | None:
        """Read again, on their own, the lines an unterminated quote swallowed.

        Each round replaces a swallowed record's reject by its first line (the quote's) and
        reads the rest from a scratch file; those lines may hold another unterminated quote,
        hence the rounds. Returns the SQL of the recovered rows (a temp table) or None.
        """
        made = False
        for round_ in range(MAX_RECOVERY_ROUNDS):
            swallowed = con.execute(
                "SELECT source_file, source_line, record, read_path, byte_position, held "
                "FROM __hw_csv_rejects WHERE reason LIKE '%UNQUOTED VALUE%' AND held > 0 ORDER BY ALL"
            ).fetchall()
            if not swallowed:
                return f"SELECT * FROM {RECOVERED_TABLE}" if made else None
            for file, line, record, path, position, _ in swallowed:
                part = self._scratch / f"r{round_}-{line}.csv"
                first, _, rest = str(record).partition("\n")
                first_length = None
                if len(record) >= DUCKDB_LINE_CAP and position is not None:
                    _, first_length, _ = scan_record(path, int(position), tail=part)
                else:
                    part.write_text(rest if rest.endswith("\n") else rest + "\n")
                con.execute(
                    "UPDATE __hw_csv_rejects SET reason = ?, record = ?, column_name = NULL, held = 0, "
                    "record_length = ? WHERE source_file = ? AND source_line = ?",
                    [UNTERMINATED, first, first_length, file, line],
                )
                if part.stat().st_size == 0 or not part.read_bytes().strip(b"\r\n"):
                    continue
                group = (
                    next(g for g in self.groups if file in g.files) if self.read.header else self.groups[0]
                )
                table = f"__hw_rejects_r{round_}"
                src = read_csv([str(part)], self.read, group.columns, False, table)
                body = group_select(group, src, self.columns)
                body = f"SELECT * EXCLUDE (_source_file), {duck.literal(file)} AS _source_file FROM ({body})"
                verb = "INSERT INTO" if made else "CREATE OR REPLACE TEMP TABLE"
                con.execute(f"{verb} {RECOVERED_TABLE} {'' if made else 'AS '}{body}")
                made = True
                self._add_rejects(con, table, {str(part): (file, line)})
                con.execute(f"DELETE FROM {table}")  # the next part of this round starts clean
                con.execute(f"DELETE FROM {table}_scans")
        raise SourceError(f"table {self.table!r}: more than {MAX_RECOVERY_ROUNDS} nested unterminated quotes")

"""XLSX workbooks: cell values as text, real date cells as dates, uncached formulas rejected.

DuckDB's excel extension reads the sheet (all text, so the typed split of ``sources.base``
judges every value alike). Two things the text alone cannot tell are read from the sheet's
XML, in one streaming pass that keeps only the few cells concerned:

- A date typed in Excel or LibreOffice is stored as a number (days since 1899-12-30) in a
  cell whose style has a date format; as text it is "45352". Those cells are turned back
  into dates (in the declared format, if any) before the typed split; a plain number in a
  date column stays a number, and is rejected: nothing is guessed.
- A formula saved without its computed value (by a program that does not calculate) reads
  as empty. The row is quarantined instead of loading a NULL that the sheet never held.

A file that is not a workbook (empty, truncated, a CSV renamed .xlsx) fails with one message
naming the file and the problem.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree

import duckdb

from headwater import duck
from headwater.errors import SourceError
from headwater.sources.base import match_header
from headwater.spec import ReadSpec

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Built-in number formats that show a date and/or time (ECMA-376 18.8.30, plus the East Asian
# date formats Excel and LibreOffice use).
BUILTIN_DATE_FORMATS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}
NOT_TEXT = {"s", "str", "inlineStr", "b", "e"}
"""Cell types (t=) that are not plain numbers: never dates, whatever their style."""


@dataclass
class SheetFacts:
    """What the sheet's XML says beyond the values: date cells and uncached formulas."""

    epoch: str = "1899-12-30"
    dates: list[tuple[int, int, str]] = field(default_factory=list)
    """(row, column index, serial) of numeric cells with a date format."""
    uncached: list[tuple[int, int]] = field(default_factory=list)
    """(row, column index) of formulas saved without a value."""


def load_xlsx(con: duckdb.DuckDBPyConnection, raw: str, files: list[str], read: ReadSpec) -> list[str]:
    """Fill the temp table ``raw`` with every workbook's rows as text (plus ``_problem``);
    return the names of unknown columns kept as extra text columns (drift policy: evolve)."""
    duck.load_extension(con, "excel")
    selects = []
    extras: set[str] = set()
    for n, f in enumerate(files):
        facts = sheet_facts(f, read.sheet)
        options = "header = true, all_varchar = true"
        if read.sheet:
            options += f", sheet = {duck.literal(read.sheet)}"
        source = f"read_xlsx({duck.literal(f)}, {options})"
        try:
            header = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        except duckdb.Error as e:
            if "No rows found" in str(e):
                sheet = f"sheet {read.sheet!r}" if read.sheet else "its first sheet"
                raise SourceError(f"workbook {f}: {sheet} is empty (no header row, no data)") from None
            raise SourceError(f"workbook {f}: cannot be read as XLSX ({_first_line(e)})") from None
        positions, _, unknown = match_header(header, read, f"workbook {f}")
        extras |= {u for u, _ in unknown}
        cells = _facts_tables(con, f"__hw_xlsx_{n}", facts, len(header))
        # The sheet's columns by position (c0, c1, ...): their names come from the file.
        aliases = ", ".join(f"c{i}" for i in range(len(header)))
        cols = []
        for name, type_ in [*read.columns, *((u, "VARCHAR") for u, _ in unknown)]:
            i = positions.get(name, next((j for u, j in unknown if u == name), None))
            if i is None:
                cols.append(f"NULL::VARCHAR AS {duck.quote(name)}")
                continue
            as_date = _date_text(type_, read, facts.epoch)
            value = (
                f"CASE WHEN d.c{i} IS NOT NULL THEN {as_date.format(serial=f'd.c{i}')} ELSE x.c{i} END"
                if as_date
                else f"x.c{i}"
            )
            cols.append(f"{value}::VARCHAR AS {duck.quote(name)}")
        problem = (
            "CASE WHEN u.cells IS NOT NULL THEN 'formula without a cached value in cell(s) ' "
            "|| u.cells || ': open and save the workbook in Excel or LibreOffice to compute it' END"
        )
        # Row order within one workbook is the sheet's order; +1 for the header row.
        selects.append(
            f"SELECT {', '.join(cols)}, {duck.literal(f)} AS _source_file, x._source_line, "
            f"{problem} AS _problem "
            f"FROM (SELECT *, (row_number() OVER () + 1)::BIGINT AS _source_line "
            f"FROM {source} AS s({aliases})) AS x "
            f"LEFT JOIN {cells}_dates AS d USING (_source_line) "
            f"LEFT JOIN {cells}_uncached AS u USING (_source_line)"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {duck.quote(raw)} AS {' UNION ALL BY NAME '.join(selects)}")
    return sorted(extras)


def _date_text(type_: str, read: ReadSpec, epoch: str) -> str | None:
    """SQL template turning a date cell's serial into the text the typed split expects."""
    base = type_.split("(")[0]
    moment = f"(TIMESTAMP '{epoch}' + to_milliseconds(round({{serial}}::DOUBLE * 86400000)::BIGINT))"
    if base == "DATE":
        # A cell holding a time of day too is not a date: shown whole, it is rejected
        # rather than cut to its day.
        day = f"strftime({moment}, {duck.literal(read.date_format or '%Y-%m-%d')})"
        whole = f"'date-time cell ' || strftime({moment}, '%Y-%m-%d %H:%M:%S')"
        return f"CASE WHEN {{serial}}::DOUBLE = floor({{serial}}::DOUBLE) THEN {day} ELSE {whole} END"
    if base.startswith("TIMESTAMP"):
        fmt = read.timestamp_format or "%Y-%m-%d %H:%M:%S.%g"
    elif base == "VARCHAR":
        fmt = "%Y-%m-%d %H:%M:%S"
    else:
        return None  # a date cell in a numeric column: its number, as Excel shows in General
    return f"strftime({moment}, {duck.literal(fmt)})"


def _facts_tables(con: duckdb.DuckDBPyConnection, name: str, facts: SheetFacts, width: int) -> str:
    """Temp tables, one row per sheet row: date serials by column (c0...), uncached cells."""
    import pyarrow as pa

    dates = pa.table(
        {
            "_source_line": pa.array([d[0] for d in facts.dates], pa.int64()),
            "col": pa.array([d[1] for d in facts.dates], pa.int64()),
            "serial": pa.array([d[2] for d in facts.dates], pa.string()),
        }
    )
    uncached = pa.table(
        {
            "_source_line": pa.array([u[0] for u in facts.uncached], pa.int64()),
            "cell": pa.array([_ref(u[0], u[1]) for u in facts.uncached], pa.string()),
        }
    )
    con.register(f"{name}_dates_long", dates)
    con.register(f"{name}_uncached_long", uncached)
    pivot = "".join(f", max(serial) FILTER (WHERE col = {i}) AS c{i}" for i in range(width))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_dates AS SELECT _source_line{pivot} "
        f"FROM {name}_dates_long GROUP BY _source_line"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name}_uncached AS SELECT _source_line, "
        f"string_agg(cell, ', ' ORDER BY cell) AS cells FROM {name}_uncached_long GROUP BY _source_line"
    )
    return name


def _ref(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row}"


def sheet_facts(file: str, sheet: str | None) -> SheetFacts:
    """Read the workbook's styles and stream its sheet for date cells and uncached formulas."""
    try:
        with _open_zip(file) as z:
            workbook = ElementTree.fromstring(z.read("xl/workbook.xml"))
            facts = SheetFacts()
            pr = workbook.find(f"{NS}workbookPr")
            if pr is not None and pr.get("date1904") in ("1", "true"):
                facts.epoch = "1904-01-01"
            date_styles = _date_styles(z)
            with z.open(_sheet_path(z, workbook, sheet, file)) as stream:
                for row, col, style, kind, has_formula, value in _cells(stream):
                    if has_formula and value is None:
                        facts.uncached.append((row, col))
                    elif value is not None and style in date_styles and kind not in NOT_TEXT:
                        facts.dates.append((row, col, value))
            return facts
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, EOFError, OSError, ValueError) as e:
        problem = (
            "it is empty"
            if isinstance(e, zipfile.BadZipFile) and _is_empty(file)
            else (f"it is not a valid XLSX workbook ({type(e).__name__}: {e})")
        )
        raise SourceError(f"workbook {file}: cannot be read: {problem}") from None


def _open_zip(file: str) -> zipfile.ZipFile:
    if file.startswith("s3://"):
        from headwater.lake import S3Config

        handle = S3Config.from_env().filesystem().open_input_file(file.removeprefix("s3://"))
        return zipfile.ZipFile(handle)  # type: ignore[arg-type]
    return zipfile.ZipFile(file)


def _is_empty(file: str) -> bool:
    import os

    return not file.startswith("s3://") and os.path.getsize(file) == 0


def _date_styles(z: zipfile.ZipFile) -> set[int]:
    """Indexes of the cell formats (cellXfs) whose number format shows a date or time."""
    try:
        styles = ElementTree.fromstring(z.read("xl/styles.xml"))
    except KeyError:
        return set()
    custom = {int(f.get("numFmtId", "-1")): f.get("formatCode", "") for f in styles.iter(f"{NS}numFmt")}
    xfs = styles.find(f"{NS}cellXfs")
    found = set()
    for i, xf in enumerate(xfs if xfs is not None else []):
        fmt = int(xf.get("numFmtId", "0"))
        if fmt in BUILTIN_DATE_FORMATS or (fmt in custom and _is_date_format(custom[fmt])):
            found.add(i)
    return found


def _is_date_format(code: str) -> bool:
    """A custom format shows a date/time when, outside quotes, escapes and [..] parts, it
    has a day, month, year, hour or second code (``0.00`` or ``@`` do not)."""
    plain = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.', "", code.split(";")[0])
    return bool(re.search(r"[dmyhsDMYHS]", plain))


def _sheet_path(z: zipfile.ZipFile, workbook: ElementTree.Element, sheet: str | None, file: str) -> str:
    sheets = workbook.findall(f"{NS}sheets/{NS}sheet")
    chosen = next((s for s in sheets if sheet is None or s.get("name") == sheet), None)
    if chosen is None:
        names = [s.get("name") for s in sheets]
        raise SourceError(f"workbook {file}: no sheet named {sheet!r}; it has {names}")
    rel_id = chosen.get(f"{REL_NS}id")
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next(
        r.get("Target", "") for r in rels.iter(f"{PKG_REL_NS}Relationship") if r.get("Id") == rel_id
    )
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))


def _cells(stream) -> Iterator[tuple[int, int, int, str | None, bool, str | None]]:
    """(row, column index, style, type, has formula, value) of each cell, streaming."""
    for _, element in ElementTree.iterparse(stream, events=("end",)):
        if element.tag == f"{NS}c":
            ref = element.get("r", "")
            letters = re.match(r"[A-Z]+", ref)
            col = 0
            for ch in letters.group(0) if letters else "":
                col = col * 26 + ord(ch) - 64
            v = element.find(f"{NS}v")
            row = int(ref[len(letters.group(0)) :]) if letters else 0
            yield (
                row,
                col - 1,
                int(element.get("s", "0")),
                element.get("t"),
                element.find(f"{NS}f") is not None,
                v.text if v is not None else None,
            )
            element.clear()
        elif element.tag == f"{NS}row":
            element.clear()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

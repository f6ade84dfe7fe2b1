"""The b2b_commerce drops as they really go wrong: read with the pipeline's own table specs.

Leads workbooks with a title row above the header, a text in the date column, an empty sheet
or cut off mid-file; access logs with lines that are not in the combined format, requests over
IPv6 and bytes that are not text. Each gets a clear error naming the file, or a quarantine
row with the file, the line (or sheet row) and the reason, and nothing else of the delivery is
lost. Expected rows come from what the test wrote, never from the engine.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from headwater import flow
from headwater.errors import SourceError
from headwater.settings import Settings
from headwater.spec import load_spec, parse_spec
from headwater.warehouse import open_warehouse

PIPELINE = load_spec("b2b_commerce")
LEAD_COLUMNS = list(PIPELINE.table("leads").read.column_names)


def spec_for(table: str):
    """The pipeline's table, read from a scratch folder (same read section, keys, cursor)."""
    t = PIPELINE.table(table)
    read = {"path": t.read.path, "format": t.read.format, "columns": dict(t.read.columns)}
    if t.read.sheet:
        read["sheet"] = t.read.sheet
    if t.read.patterns:
        read["patterns"] = dict(t.read.patterns)
    entry = {"name": table, "primary_key": list(t.primary_key), "read": read}
    if t.cursor:
        entry["cursor"] = t.cursor
    return parse_spec(
        {
            "name": "b2b_drop",
            "source": {"kind": "files", "url": "{home}/drop"},
            "load": {"max_rejected_share": 0.6},
            "tables": [entry],
        }
    )


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    (tmp_path / "drop").mkdir()
    return tmp_path / "drop"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path,
        warehouse_url=f"duckdb:///{tmp_path}/wh.duckdb",
        lake_url=str(tmp_path / "lake"),
        source_url=None,
        dags_folder=tmp_path,
    )


def workbook(path: Path, rows: list[list], *, title: str | None = None, header: bool = True) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "leads"
    if title:
        sheet.append([title])
    if header:
        sheet.append(LEAD_COLUMNS)
    for row in rows:
        sheet.append(row)
    book.save(path)


def lead(i: int, contact=None) -> list:
    return [i, f"user{i}", contact or date(2026, 3, i), "Organic", "seo_blog", 100 + i, 7]


def query(settings: Settings, sql: str) -> list[tuple]:
    return open_warehouse(settings.warehouse_url).query(sql)


def quarantined(settings: Settings) -> list[tuple]:
    return query(
        settings,
        "SELECT source_file, source_line, column_name, reason FROM wh.headwater.quarantine ORDER BY 1, 2",
    )


def test_a_text_in_the_date_column_is_quarantined_with_its_row_and_the_rest_loads(drop, settings):
    workbook(drop / "leads_1.xlsx", [lead(1), lead(2, "next week"), lead(3)])
    flow.run_el(spec_for("leads"), settings, "run_1")
    assert query(settings, 'SELECT lead_id FROM wh."raw_b2b_drop".leads ORDER BY 1') == [(1,), (3,)]
    [(file, row, column, reason)] = quarantined(settings)
    assert (Path(file).name, row, column) == ("leads_1.xlsx", 3, "first_contact_date")  # header = row 1
    assert "next week" in reason and "DATE" in reason


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (lambda p: workbook(p, [lead(1)], title="Leads export, November"), "title row above the header"),
        (lambda p: workbook(p, [], header=False), "is empty"),
        (lambda p: p.write_bytes(_good_bytes(p)[:400]), "not a valid XLSX"),
    ],
    ids=["title-row", "empty-sheet", "truncated"],
)
def test_a_broken_workbook_is_one_clear_error_naming_it_and_nothing_is_loaded(drop, settings, write, problem):
    workbook(drop / "leads_1.xlsx", [lead(1), lead(2)])
    write(drop / "leads_2.xlsx")
    with pytest.raises(SourceError) as error:
        flow.run_el(spec_for("leads"), settings, "run_1")
    assert "leads_2.xlsx" in str(error.value) and problem in str(error.value)
    tables = query(
        settings, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_b2b_drop'"
    )
    assert tables == [(0,)], "nothing of a delivery with a broken workbook is loaded"
    assert (drop / "leads_1.xlsx").exists() and (drop / "leads_2.xlsx").exists()


def _good_bytes(path: Path) -> bytes:
    scratch = path.with_suffix(".tmp")
    workbook(scratch, [lead(i) for i in range(1, 30)])
    data = scratch.read_bytes()
    scratch.unlink()
    return data


LOG_LINES = [
    b'20.1.2.3 - anna.fischer1 [01/Mar/2026:10:00:00 +0000] "POST /login HTTP/1.1" 302 512 "-" "Mozilla/5.0"',
    b"GET /products/3 200",  # not the combined format
    b'2001:db8::7 - - [01/Mar/2026:10:00:02 +0000] "GET /products/3 HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
    b'20.1.2.\xff\xfe - - [01/Mar/2026:10:00:03 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',  # not UTF-8
    b"\x00\x17\x9c garbage",
    b'198.51.100.7 - - [01/Mar/2026:10:00:05 +0000] "GET /products/3 HTTP/1.1" 200 512 "-" "curl/8"',
    b'20.1.2.3 - anna.fischer1 [01/Mar/2026:10:00:06 +0000] "GET /cart HTTP/1.1" 200 88 '
    b'"https://shop.example/login" "Mozilla/5.0"',
]


def test_log_lines_not_combined_ipv6_or_not_text_are_quarantined_by_file_and_line(drop, settings):
    (drop / "access_1.log").write_bytes(b"\n".join(LOG_LINES) + b"\n")
    flow.run_el(spec_for("access_log"), settings, "run_1")
    loaded = query(
        settings, 'SELECT "_source_line", ip, "user", path FROM wh."raw_b2b_drop".access_log ORDER BY 1'
    )
    # an address in no country's range is a good line: the journey leaves its country empty
    assert loaded == [
        (1, "20.1.2.3", "anna.fischer1", "/login"),
        (6, "198.51.100.7", None, "/products/3"),
        (7, "20.1.2.3", "anna.fischer1", "/cart"),
    ]
    q = {(Path(f).name, n): reason for f, n, _, reason in quarantined(settings)}
    assert set(q) == {("access_1.log", n) for n in (2, 3, 4, 5)}
    assert q[("access_1.log", 2)] == "line is not in the combined log format"
    assert q[("access_1.log", 3)] == "column ip: 2001:db8::7 does not match read.patterns.ip"
    assert q[("access_1.log", 4)] == q[("access_1.log", 5)] == "line is not valid UTF-8"
    # read again (the same file, touched): nothing new loaded, nothing quarantined twice
    (drop / "access_1.log").write_bytes((drop / "access_1.log").read_bytes())
    flow.run_el(spec_for("access_log"), settings, "run_2")
    assert len(quarantined(settings)) == 4
    assert query(settings, 'SELECT count(*) FROM wh."raw_b2b_drop".access_log') == [(3,)]


def test_a_new_log_file_loads_alone_and_unchanged_files_are_skipped(drop, settings):
    """The old file's rejected lines come back with every read (they carry no readable time):
    they count against all the lines read, so a small new file does not trip the threshold;
    files unchanged since the last load are not read at all."""
    (drop / "access_1.log").write_bytes(b"\n".join(LOG_LINES) + b"\n")
    flow.run_el(spec_for("access_log"), settings, "run_1")  # 4 of 7 rejected: under 60%
    later = b'20.1.2.9 - - [01/Mar/2026:11:00:00 +0000] "GET /products/4 HTTP/1.1" 200 9 "-" "curl/8"'
    (drop / "access_2.log").write_bytes(later + b"\n")
    flow.run_el(spec_for("access_log"), settings, "run_2")  # 4 rejected of 8 lines read
    flow.run_el(spec_for("access_log"), settings, "run_3")  # nothing changed
    ledger = query(settings, "SELECT run_id, rows_changed FROM wh.headwater.load_ledger ORDER BY run_id")
    assert ledger == [("run_1", 3), ("run_2", 1)]
    assert query(settings, 'SELECT count(*) FROM wh."raw_b2b_drop".access_log') == [(4,)]
    assert len(quarantined(settings)) == 4

"""The toolkit's sinks, each read back with an independent reader: CSV chunks with the csv
module, access logs with a regular expression of the combined format, XLSX with openpyxl, the
JSON API with real HTTP GETs on 127.0.0.1; and the table declaration's DDL with SQLite.

The rows come from Python here (the expected values), so nothing is compared with itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
import urllib.error
import urllib.request
from decimal import Decimal

import duckdb
import openpyxl
import pytest

from headwater.synthetic import declare
from headwater.synthetic.api_server import serve
from headwater.synthetic.files import write_access_log, write_csv, write_json
from headwater.synthetic.xlsx import Sheet, write_xlsx

START = dt.datetime(2024, 3, 1, 9, 0, 0)
ROWS = [
    (i, f"item {i}", i * 7 % 1000, dt.date(2024, 1, 1) + dt.timedelta(days=i % 300),
     START + dt.timedelta(seconds=37 * i), Decimal(i) * Decimal("1.25"))
    for i in range(1, 1001)
]  # fmt: skip
COLUMNS = ("id", "name", "qty", "day", "updated_at", "price")


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE items (id BIGINT, name VARCHAR, qty INTEGER, day DATE, updated_at TIMESTAMP, "
        "price DECIMAL(10,2))"
    )
    con.executemany("INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    yield con
    con.close()


def as_text(row: tuple) -> list[str]:
    i, name, qty, day, updated_at, price = row
    return [str(i), name, str(qty), day.isoformat(), f"{updated_at:%Y-%m-%d %H:%M:%S}", f"{price:.2f}"]


# ------------------------------------------------------------------------------------------
# declarations -> DDL


def test_a_declaration_builds_the_ddl_sqlite_takes():
    source = declare(
        """
        orders key(order_id) cursor(updated_at) index(customer_id)
            order_id bigint, customer_id bigint, amount numeric(12,2) null, note text null,
            updated_at timestamp
        order_lines key(order_id, line_no) cursor(updated_at)
            order_id bigint, line_no integer, sku varchar(16), updated_at timestamp
        """
    )
    assert source.names == ("orders", "order_lines")
    assert source["orders"].all_indexes() == (("updated_at",), ("customer_id",))
    with sqlite3.connect(":memory:") as lite:
        for table in source:
            lite.execute(table.create_sql(f'"{table.name}"'))
        info = lite.execute("PRAGMA table_info(orders)").fetchall()
        assert [(r[1], r[2].lower(), bool(r[3]), r[5]) for r in info] == [
            ("order_id", "bigint", True, 1),
            ("customer_id", "bigint", True, 0),
            ("amount", "numeric(12,2)", False, 0),
            ("note", "text", False, 0),
            ("updated_at", "timestamp", True, 0),
        ]
        with pytest.raises(sqlite3.IntegrityError):
            lite.execute("INSERT INTO order_lines VALUES (1, NULL, 'x', '2024-01-01')")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t key(a)\n a bigint, a text", "twice"),
        ("t key(b)\n a bigint", "undeclared"),
        ("t key(a) cursor(z)\n a bigint", "undeclared"),
        ("a bigint", "before the first table"),
        ('t key(a)\n a bigint, "b; drop" text', "cannot read|refusing"),
        ("t key(a) partition(a)\n a bigint", "unknown clause"),
    ],
)
def test_a_bad_declaration_is_refused(text, message):
    with pytest.raises(Exception, match=message):
        declare(text)


# ------------------------------------------------------------------------------------------
# CSV


def test_csv_in_chunks_holds_every_row_once_in_order(con, tmp_path):
    written = write_csv(con, "items", tmp_path / "out" / "items.csv", chunks=3, order_by=["id"])
    assert [w.path.name for w in written] == ["items_001.csv", "items_002.csv", "items_003.csv"]
    assert [w.rows for w in written] == [333, 333, 334]
    rows = []
    for w in written:
        with w.path.open(newline="") as f:
            lines = list(csv.reader(f))
        assert lines[0] == list(COLUMNS)
        rows += lines[1:]
    assert rows == [as_text(r) for r in ROWS]


def test_csv_malformed_lines_are_the_ones_reported_and_the_rest_are_intact(con, tmp_path):
    (w,) = write_csv(con, "items", tmp_path / "messy.csv", order_by=["id"], malformed_rate=0.05, seed=3)
    expected = [",".join(COLUMNS)] + [",".join(as_text(r)) for r in ROWS]
    lines = w.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(expected)
    differing = tuple(
        n for n, (got, want) in enumerate(zip(lines, expected, strict=True), start=1) if got != want
    )
    assert differing == w.malformed_lines
    assert 20 <= len(differing) <= 85 and 1 not in differing  # about 5%; the header is kept
    for n in differing:  # each broken line is broken for a CSV reader: another shape or noise
        parsed = next(csv.reader([lines[n - 1]]), [])
        assert len(parsed) != len(COLUMNS) or parsed[0].startswith('"') or not parsed[0].isdigit()
    (again,) = write_csv(con, "items", tmp_path / "messy.csv", order_by=["id"], malformed_rate=0.05, seed=3)
    assert again.malformed_lines == w.malformed_lines


# ------------------------------------------------------------------------------------------
# access logs

COMBINED = re.compile(
    r'^(?P<ip>\S+) - (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) (?P<proto>[^"]+)" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<ref>[^"]*)" "(?P<ua>[^"]*)"$'
)


def test_access_log_lines_are_combined_format(con, tmp_path):
    con.execute(
        """
        CREATE TABLE hits AS
        SELECT '198.51.100.' || (range % 200)::VARCHAR AS ip,
            CASE WHEN range % 7 = 0 THEN 'alice' END AS user_name,
            TIMESTAMP '2024-03-01 23:59:50' + to_seconds(range * 3) AS requested_at,
            CASE WHEN range % 4 = 0 THEN 'POST' ELSE 'GET' END AS method,
            '/products/' || range::VARCHAR || '?ref=mail' AS path, 'HTTP/1.1' AS protocol,
            CASE WHEN range % 10 = 0 THEN 404 ELSE 200 END AS status,
            CASE WHEN range % 5 = 0 THEN NULL ELSE range * 100 END AS bytes,
            CASE WHEN range % 3 = 0 THEN 'https://example.org/' END AS referrer,
            'Mozilla/5.0 (X11; Linux x86_64)' AS user_agent
        FROM range(300)
        """
    )
    written = write_access_log(con, "hits", tmp_path / "logs" / "access.log", malformed_rate=0.03, seed=5)
    lines = written.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == written.rows == 300
    for n, line in enumerate(lines, start=1):
        match = COMBINED.match(line)
        if n in written.malformed_lines:
            assert match is None or line.startswith('"'), line
            continue
        assert match, line
        i = n - 1  # written in request order, which is range order here
        when = dt.datetime(2024, 3, 1, 23, 59, 50, tzinfo=dt.UTC) + dt.timedelta(seconds=3 * i)
        assert dt.datetime.strptime(match["ts"], "%d/%b/%Y:%H:%M:%S %z") == when
        assert match["ip"] == f"198.51.100.{i % 200}"
        assert match["user"] == ("alice" if i % 7 == 0 else "-")
        assert (match["method"], match["path"]) == (
            "POST" if i % 4 == 0 else "GET",
            f"/products/{i}?ref=mail",
        )
        assert int(match["status"]) == (404 if i % 10 == 0 else 200)
        assert match["bytes"] == ("-" if i % 5 == 0 else str(i * 100))
        assert match["ref"] == ("https://example.org/" if i % 3 == 0 else "-")
    assert 1 <= len(written.malformed_lines) <= 25


# ------------------------------------------------------------------------------------------
# XLSX


MESSY_QTY = "(SELECT id, CASE WHEN id % 2 = 0 THEN 'twenty-five' ELSE ' 42 ' END AS qty FROM items)"


def test_xlsx_has_real_date_and_number_cells(con, tmp_path):
    path = tmp_path / "book" / "leads.xlsx"
    counts = write_xlsx(
        con,
        path,
        [
            Sheet("Items", "items", order_by=["id"], title_rows=["Items export", "generated for tests"]),
            Sheet("Messy", MESSY_QTY, order_by=["id"]),
        ],
    )  # fmt: skip
    assert counts == {"Items": 1000, "Messy": 1000}
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Items", "Messy"]
    sheet = book["Items"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Items export" and rows[1][0] == "generated for tests"
    assert rows[2] == COLUMNS
    cells = list(sheet.iter_rows(min_row=4))
    assert len(cells) == len(ROWS)
    for got, (i, name, qty, day, updated_at, price) in zip(cells, ROWS, strict=True):
        c_id, c_name, c_qty, c_day, c_ts, c_price = got
        assert (c_id.data_type, c_id.value) == ("n", i)
        assert (c_name.data_type, c_name.value) == ("s", name)
        assert (c_qty.data_type, c_qty.value) == ("n", qty)
        # a date is a serial-number cell with a date format, read back as a datetime
        assert c_day.is_date and c_day.number_format == "yyyy-mm-dd" and c_day.value.date() == day
        assert c_ts.is_date and c_ts.number_format == "yyyy-mm-dd hh:mm:ss" and c_ts.value == updated_at
        assert c_price.data_type == "n" and c_price.value == pytest.approx(float(price))
    # DuckDB's excel reader (what an XLSX file source uses) types the columns from the cells
    from headwater import duck

    reader = duck.connect()
    duck.load_extension(reader, "excel")
    relation = f"read_xlsx('{path}', sheet = 'Items', range = 'A3:F1003')"
    types = [r[1] for r in reader.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    assert types == ["DOUBLE", "VARCHAR", "DOUBLE", "DATE", "TIMESTAMP", "DOUBLE"]
    read_back = reader.execute(f"SELECT day, updated_at FROM {relation}").fetchall()
    assert read_back == [(day, updated_at) for _, _, _, day, updated_at, _ in ROWS]
    messy = list(book["Messy"].iter_rows(min_row=2, max_row=3))
    assert [(c.data_type, c.value) for c in messy[0]] == [("n", 1), ("s", " 42 ")]
    assert [(c.data_type, c.value) for c in messy[1]] == [("n", 2), ("s", "twenty-five")]


# ------------------------------------------------------------------------------------------
# the JSON API


def get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def follow(url: str, token: str | None = None, retries: int = 5) -> tuple[list[dict], list[int]]:
    """Every record, following Link rel=next; retrying 429 and 5xx like a client should."""
    records, statuses = [], []
    while url:
        for _ in range(retries + 1):
            status, headers, body = get(url, token)
            statuses.append(status)
            if status not in (429, 500, 502, 503):
                break
        assert status == 200, (status, body)
        records += body["data"]
        link = headers.get("Link", "")
        url = link[1 : link.index(">")] if 'rel="next"' in link else ""
    return records, statuses


def expected_json(rows) -> list[dict]:
    return [
        {
            "id": i,
            "name": n,
            "qty": q,
            "day": d.isoformat(),
            "updated_at": f"{u:%Y-%m-%dT%H:%M:%S}",
            "price": float(p),
        }
        for i, n, q, d, u, p in rows
    ]


def test_api_pages_follow_link_headers_and_filter_by_modified_since(con, tmp_path):
    write_json(con, "items", tmp_path / "api" / "items.json", order_by=["id"])
    with serve(tmp_path / "api") as api:
        assert api.url.startswith("http://127.0.0.1:")
        records, statuses = follow(f"{api.url}/items?page_size=150")
        assert records == expected_json(ROWS) and statuses == [200] * 7
        since = START + dt.timedelta(seconds=37 * 900)
        recent, _ = follow(f"{api.url}/items?page_size=40&modified_since={since:%Y-%m-%dT%H:%M:%S}")
        assert recent == expected_json([r for r in ROWS if r[4] > since]) and len(recent) == 100
        status, _, body = get(f"{api.url}/items?page=3&page_size=400")
        assert status == 200 and body["page"] == 3 and len(body["data"]) == 200 and "next" not in body
        assert get(f"{api.url}/nothing")[0] == 404
        assert get(f"{api.url}/items?page=0")[0] == 400


def test_api_checks_the_token_without_echoing_it(con, tmp_path):
    write_json(con, "(SELECT * FROM items WHERE id <= 10)", tmp_path / "items.json")
    token = "s3cret-token-value"
    with serve(tmp_path, token=token) as api:
        for sent in (None, "wrong"):
            status, headers, body = get(f"{api.url}/items", sent)
            assert status == 401 and token not in json.dumps(body) + json.dumps(headers)
        records, _ = follow(f"{api.url}/items", token)
        assert [r["id"] for r in records] == list(range(1, 11))


def test_api_fails_on_purpose_deterministically_and_a_retrying_client_gets_everything(con, tmp_path):
    write_json(con, "items", tmp_path / "items.json", order_by=["id"])
    runs = []
    for _ in range(2):
        with serve(tmp_path, failure_rate=0.4, seed=11) as api:
            records, statuses = follow(f"{api.url}/items?page_size=50")
            assert records == expected_json(ROWS)
            runs.append(statuses)
            assert api.config.served[429] + api.config.served[503] == len(statuses) - 20
    assert runs[0] == runs[1]  # the same requests meet the same failures
    assert {429, 503} <= set(runs[0]) and runs[0].count(200) == 20


def test_api_serves_a_changed_file_without_a_restart(con, tmp_path):
    write_json(con, "(SELECT * FROM items WHERE id <= 5)", tmp_path / "items.json")
    with serve(tmp_path) as api:
        assert len(follow(f"{api.url}/items")[0]) == 5
        write_json(con, "(SELECT * FROM items WHERE id <= 8)", tmp_path / "items.json")
        import os

        os.utime(tmp_path / "items.json", (1e9, 2e9))  # a new mtime even within the clock's resolution
        assert len(follow(f"{api.url}/items")[0]) == 8
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{api.url}/items", timeout=2)  # stopped cleanly: nothing listens


def test_the_api_runs_as_a_process_and_stops_cleanly_on_sigterm(con, tmp_path):
    import signal
    import socket
    import subprocess
    import sys

    write_json(con, "(SELECT * FROM items WHERE id <= 3)", tmp_path / "items.json")
    (tmp_path / "token").write_text("file-token\n")
    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [sys.executable, "-m", "headwater.synthetic.api_server", str(tmp_path), "--port", str(port)]
    proc = subprocess.Popen(
        [*args, "--token-file", str(tmp_path / "token")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"serving {tmp_path} at http://127.0.0.1:{port}"
        assert get(f"http://127.0.0.1:{port}/items")[0] == 401
        assert [r["id"] for r in follow(f"http://127.0.0.1:{port}/items", "file-token")[0]] == [1, 2, 3]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

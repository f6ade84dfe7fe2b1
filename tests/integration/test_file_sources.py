"""File sources (CSV, XLSX, JSON, access logs) and their bad input, on DuckDB and Postgres.

Expected values come from Python's own csv/json parsing of the very bytes the test wrote and
from the rules stated in the test (ISO dates only, digits only), never from the engine.
Every input line must end up either in the raw table or in the quarantine: nothing is lost.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb
import pytest

from headwater import flow
from headwater.errors import RejectedRowsError, SourceError
from headwater.settings import Settings
from headwater.spec import parse_spec
from headwater.warehouse import open_warehouse

ORDER_COLUMNS = {
    "order_id": "BIGINT",
    "customer": "VARCHAR",
    "amount": "DECIMAL(10,2)",
    "ordered_on": "DATE",
    "updated_at": "TIMESTAMP",
}


def orders_spec(path: str = "orders/*.csv", max_rejected_share: float = 0.2, **read) -> object:
    return parse_spec(
        {
            "name": "shop_files",
            "source": {"kind": "files", "url": "{home}/drop"},
            "load": {"max_rejected_share": max_rejected_share},
            "tables": [
                {
                    "name": "orders",
                    "primary_key": "order_id",
                    "cursor": "updated_at",
                    "mode": "full",
                    "read": {"path": path, "columns": dict(ORDER_COLUMNS), **read},
                }
            ],
        }
    )


def good_line(i: int, amount: str | None = None, updated: str = "2026-01-01 10:00:00") -> str:
    return f"{i},customer {i},{amount or f'{i}.50'},2026-01-{1 + i % 28:02d},{updated}"


# Lines (after the header) and why the bad ones are bad; the line number is the file's.
BAD_LINES = {
    "5,customer 5,twenty-five,2026-01-05,2026-01-01 10:00:00": "amount",
    "6,customer 6,6.50,03/01/2026,2026-01-01 10:00:00": "ordered_on",
    "7,customer 7,7.50,2026-01-07,2026-01-01 10:00:00,surplus": "Columns",
    "8,customer 8": "Columns",
    "9,customer 9,9.5O,2026-01-09,2026-01-01 10:00:00": "amount",
}


def orders_csv() -> bytes:
    lines = ["order_id,customer,amount,ordered_on,updated_at"]
    lines += [good_line(i) for i in range(1, 5)]
    lines += list(BAD_LINES)
    lines += [good_line(i) for i in range(10, 60)]
    lines.append(good_line(60))  # an exact copy of a line: collapses into one row
    lines.append(good_line(60))
    lines.append(good_line(61, "1.00", "2026-01-01 09:00:00"))  # superseded by the next line
    lines.append(good_line(61, "2.00", "2026-01-02 09:00:00"))
    lines.append(good_line(62, "1.00"))  # same key, same cursor, other content: conflict
    lines.append(good_line(62, "3.00"))
    lines.append(",nobody,1.00,2026-01-03,2026-01-01 10:00:00")  # NULL key
    body = ("\n".join(lines) + "\n").encode()
    # A customer name that is not UTF-8 (latin-1 bytes): rejected, never mangled.
    return body + b"63,caf\xe9,1.00,2026-01-03,2026-01-01 10:00:00\n"


def expected_from_csv(data: bytes) -> tuple[dict[int, tuple], set[int], list[int], set[int]]:
    """(good rows by key, bad line numbers, NULL-key line numbers, conflicting keys).

    Uses only Python's csv module and the stated rules, line by line.
    """
    text = data.decode("utf-8", errors="surrogateescape")
    rows: dict[int, list[tuple]] = {}
    bad: set[int] = set()
    null_keys: list[int] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if number == 1:
            continue
        try:
            fields[1].encode("utf-8")
            assert len(fields) == 5
            key = int(fields[0]) if fields[0] else None
            row = (
                key,
                fields[1],
                Decimal(fields[2]).quantize(Decimal("0.01")),
                date.fromisoformat(fields[3]),
                datetime.fromisoformat(fields[4]),
            )
        except (AssertionError, ValueError, InvalidOperation, UnicodeEncodeError):
            bad.add(number)
            continue
        if key is None:
            null_keys.append(number)
            continue
        rows.setdefault(key, []).append(row)
    good, conflicts = {}, set()
    for key, versions in rows.items():
        latest = max(v[4] for v in versions)
        top = {v for v in versions if v[4] == latest}
        if len(top) > 1:
            conflicts.add(key)
        else:
            good[key] = top.pop()
    return good, bad, null_keys, conflicts


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


def settings_for(tmp_path: Path, warehouse_url: str) -> Settings:
    return Settings(
        home=tmp_path,
        warehouse_url=warehouse_url,
        lake_url=str(tmp_path / "lake"),
        source_url=None,
        dags_folder=tmp_path,
    )


def raw(settings: Settings, pipeline: str, table: str, columns: list[str]) -> list[tuple]:
    sel = ", ".join(f'"{c}"' for c in columns)
    return open_warehouse(settings.warehouse_url).query(f'SELECT {sel} FROM wh."raw_{pipeline}"."{table}"')


def quarantine(settings: Settings, pipeline: str) -> list[tuple]:
    return open_warehouse(settings.warehouse_url).query(
        "SELECT table_name, source_file, source_line, column_name, reason, record "
        "FROM wh.headwater.quarantine WHERE pipeline = ? ORDER BY source_line",
        [pipeline],
    )


HEADER = "order_id,customer,amount,ordered_on,updated_at"


def ledger_rows_read(settings: Settings) -> int:
    rows = open_warehouse(settings.warehouse_url).query("SELECT sum(rows_read) FROM wh.headwater.load_ledger")
    return int(rows[0][0])


def data_lines(*files: Path) -> int:
    """Physical lines after each file's header, counted from the bytes the test wrote."""
    return sum(len(f.read_bytes().splitlines()) - 1 for f in files)


def test_bad_csv_lines_are_quarantined_with_file_line_and_reason_and_nothing_is_lost(tmp_path, warehouse_url):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    data = orders_csv()
    (drop / "part-1.csv").write_bytes(data)
    settings = settings_for(tmp_path, warehouse_url)
    spec = orders_spec()
    good, bad, null_keys, conflicts = expected_from_csv(data)
    assert len(bad) == len(BAD_LINES) + 1 and conflicts == {62} and len(null_keys) == 1  # the test's own data

    flow.run_el(spec, settings, "run_1")

    loaded = raw(settings, "shop_files", "orders", list(ORDER_COLUMNS))
    assert len(loaded) == len({r[0] for r in loaded}), "duplicate keys in the raw table"
    assert {r[0]: tuple(r) for r in loaded} == good

    q = quarantine(settings, "shop_files")
    by_line = {r[2]: r for r in q if r[2] is not None}
    assert set(by_line) == bad, "every unreadable line is quarantined under its own line number"
    for line_text, why in BAD_LINES.items():
        number = data.decode(errors="replace").splitlines().index(line_text) + 1
        table, file, _, _, reason, record = by_line[number]
        assert table == "orders" and file.endswith("part-1.csv")
        assert why in reason and record.startswith(line_text.split(",")[0] + ",")
    assert any("twenty-five" in r[4] for r in q), "the reason names the value that did not parse"
    null_rows = [r for r in q if "NULL in primary key" in r[4]]
    assert len(null_rows) == len(null_keys)
    conflict_rows = [r for r in q if "conflicting values" in r[4]]
    assert sorted(json.loads(r[5])["order_id"] for r in conflict_rows) == [62, 62]

    # Nothing lost: every data line is in the raw table, in the quarantine, or an older
    # version / exact copy of a loaded row.
    data_lines = len(data.splitlines()) - 1
    superseded_or_copies = 2  # line 60's copy and key 61's older version
    assert len(loaded) + len(q) + superseded_or_copies == data_lines
    assert ledger_rows_read(settings) == data_lines, "the ledger shows every line read"

    # The same files again: the table is skipped (no batch, no ledger row).
    wh = open_warehouse(settings.warehouse_url)
    ledger = "SELECT count(*) FROM wh.headwater.load_ledger"
    assert flow.run_el(spec, settings, "run_2") == {"orders": None}
    assert wh.query(ledger) == [(1,)]

    # A forced full refresh reads them again and still adds nothing anywhere.
    flow.run_el(spec, settings, "run_3", full_refresh=True)
    assert wh.query(ledger) == [(2,)]
    assert sorted(raw(settings, "shop_files", "orders", list(ORDER_COLUMNS))) == sorted(loaded)
    assert len(quarantine(settings, "shop_files")) == len(q)

    # A new file in the drop is read with the others.
    (drop / "part-2.csv").write_text(
        "order_id,customer,amount,ordered_on,updated_at\n" + good_line(100) + "\n"
    )
    flow.run_el(spec, settings, "run_4")
    assert len(raw(settings, "shop_files", "orders", ["order_id"])) == len(loaded) + 1


def test_too_many_rejected_rows_fail_the_run_loading_nothing_and_quoting_no_values(tmp_path):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    lines = ["order_id,customer,amount,ordered_on,updated_at"]
    lines += [good_line(i) for i in range(1, 6)]
    lines += [f"{i},customer {i},twenty-five,2026-01-01,2026-01-01 10:00:00" for i in range(6, 12)]
    (drop / "bad.csv").write_text("\n".join(lines) + "\n")
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(RejectedRowsError) as err:
        flow.run_el(orders_spec(max_rejected_share=0.2), settings, "run_1")
    message = str(err.value)
    assert "6 of 11 rows rejected" in message and "6 x amount" in message
    assert "twenty-five" not in message and "customer" not in message, "row contents leaked"
    rejects = next((tmp_path / "lake").rglob("_rejects.parquet"))
    assert duckdb.sql(f"SELECT count(*) FROM '{rejects}'").fetchone() == (6,)
    assert 5 + 6 == data_lines(drop / "bad.csv"), "rows in = good rows + rejected ones"
    wh = open_warehouse(settings.warehouse_url)
    assert wh.query("SELECT count(*) FROM wh.headwater.load_ledger") == [(0,)]
    assert wh.query("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw_shop_files'") == [(0,)]

    # Raising the threshold lets the same delivery through; the bad rows go to quarantine.
    flow.run_el(orders_spec(max_rejected_share=0.6), settings, "run_2")
    assert len(raw(settings, "shop_files", "orders", ["order_id"])) == 5
    assert len(quarantine(settings, "shop_files")) == 6
    assert 5 + 6 == data_lines(drop / "bad.csv") == ledger_rows_read(settings)


def test_an_empty_file_is_reported_and_the_others_load(tmp_path, caplog):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    (drop / "a.csv").write_text("order_id,customer,amount,ordered_on,updated_at\n" + good_line(1) + "\n")
    (drop / "b.csv").write_bytes(b"")
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with caplog.at_level(logging.WARNING):
        flow.run_el(orders_spec(), settings, "run_1")
    assert any("b.csv is empty (0 bytes)" in r.getMessage() for r in caplog.records)
    assert raw(settings, "shop_files", "orders", ["order_id"]) == [(1,)]
    assert quarantine(settings, "shop_files") == []
    assert data_lines(drop / "a.csv") == 1 == ledger_rows_read(settings)  # b.csv holds no line


def test_no_file_matching_the_spec_is_a_clear_error(tmp_path):
    (tmp_path / "drop").mkdir()
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(SourceError, match=r"no file matches 'orders/\*.csv' under .*drop for table 'orders'"):
        flow.run_el(orders_spec(), settings, "run_1")


def test_xlsx_sheet_with_a_number_word_and_a_foreign_date(tmp_path, warehouse_url):
    drop = tmp_path / "drop"
    drop.mkdir()
    rows = [(i, f"lead {i}", f"{i}.25", f"2026-02-{i:02d}", "2026-02-01 08:00:00") for i in range(1, 21)]
    rows[4] = (5, "lead 5", "seven", "2026-02-05", "2026-02-01 08:00:00")
    rows[9] = (10, "lead 10", "10.25", "10.02.2026", "2026-02-01 08:00:00")
    con = duckdb.connect()
    from headwater import duck

    duck.load_extension(con, "excel")
    con.execute(
        "CREATE TABLE t (order_id VARCHAR, customer VARCHAR, amount VARCHAR, ordered_on VARCHAR, "
        "updated_at VARCHAR)"
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    con.execute(f"COPY t TO '{drop / 'leads.xlsx'}' (FORMAT xlsx, HEADER true)")
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(orders_spec(path="leads.xlsx"), settings, "run_1")

    expected = {r[0] for r in rows} - {5, 10}
    assert {r[0] for r in raw(settings, "shop_files", "orders", ["order_id"])} == expected
    q = quarantine(settings, "shop_files")
    assert [(r[2], r[3]) for r in q] == [(6, "amount"), (11, "ordered_on")]  # sheet rows (header = 1)
    assert q[0][4] == "column amount: seven is not a valid DECIMAL(10,2)"
    assert q[1][4] == "column ordered_on: 10.02.2026 is not a valid DATE"
    assert len(expected) + len(q) == len(rows) == ledger_rows_read(settings)


def test_json_records_and_access_logs(tmp_path, warehouse_url):
    drop = tmp_path / "drop"
    (drop / "logs").mkdir(parents=True)
    rates = [("EUR", 1.1, "2026-01-01"), ("USD", "one", "2026-01-02"), ("GBP", 0.8, "2026-01-03")]
    records = [{"code": c, "rate": r, "modified": m} for c, r, m in rates]
    (drop / "currencies.json").write_text(json.dumps({"data": records}))
    log_lines = [
        b'10.0.0.1 - - [01/Feb/2026:10:00:00 +0000] "GET /p/1 HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
        b"garbage that is no log line",
        b'10.0.0.2 - bob [01/Feb/2026:10:00:05 +0100] "POST /cart HTTP/1.1" 302 - "https://x.test/" "curl/8"',
        b'10.0.0.\xff - - [01/Feb/2026:10:00:06 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    ]
    (drop / "logs" / "access.log").write_bytes(b"\n".join(log_lines) + b"\n")
    spec = parse_spec(
        {
            "name": "web",
            "source": {"kind": "files", "url": "{home}/drop"},
            "load": {"max_rejected_share": 0.6},
            "tables": [
                {
                    "name": "currencies",
                    "primary_key": "code",
                    "read": {
                        "path": "currencies.json",
                        "records": "data",
                        "columns": {"code": "VARCHAR", "rate": "DOUBLE", "modified": "DATE"},
                    },
                },
                {
                    "name": "access_log",
                    "primary_key": ["_source_file", "_source_line"],
                    "read": {
                        "path": "logs/*.log",
                        "columns": {
                            "ip": "VARCHAR",
                            "time": "TIMESTAMPTZ",
                            "method": "VARCHAR",
                            "path": "VARCHAR",
                            "status": "INTEGER",
                            "bytes": "BIGINT",
                        },  # fmt: skip
                    },
                },
            ],
        }
    )
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(spec, settings, "run_1")

    assert sorted(raw(settings, "web", "currencies", ["code", "rate"])) == [("EUR", 1.1), ("GBP", 0.8)]
    logs = raw(settings, "web", "access_log", ["_source_line", "ip", "method", "path", "status", "bytes"])
    assert sorted(logs) == [
        (1, "10.0.0.1", "GET", "/p/1", 200, 512),
        (3, "10.0.0.2", "POST", "/cart", 302, None),
    ]
    times = raw(settings, "web", "access_log", ["time"])
    assert {t[0].astimezone().utcoffset() is not None for t in times} == {True}
    q = {(r[0], r[2]): r[4] for r in quarantine(settings, "web")}
    assert q[("currencies", 2)].startswith("column rate: one is not a valid DOUBLE")
    assert q[("access_log", 2)] == "line is not in the combined log format"
    assert q[("access_log", 4)] == "line is not valid UTF-8"
    per_table = dict(
        open_warehouse(settings.warehouse_url).query(
            "SELECT table_name, sum(rows_read) FROM wh.headwater.load_ledger GROUP BY 1"
        )
    )
    assert len(raw(settings, "web", "currencies", ["code"])) + 1 == len(records) == per_table["currencies"]
    assert len(logs) + 2 == len(log_lines) == per_table["access_log"]


# -- issue 12: every line of every file is loaded or quarantined ------------------------------
def test_csv_columns_are_matched_by_header_name_not_position(tmp_path, warehouse_url):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    (drop / "a.csv").write_text(HEADER + "\n" + "\n".join(good_line(i) for i in range(1, 4)) + "\n")
    # The second delivery has its columns in another order (and a header in other case).
    order = ["updated_at", "AMOUNT", "order_id", "ordered_on", "customer"]
    rows = {
        i: dict(zip(HEADER.split(","), good_line(i, f"{i}.75").split(","), strict=True)) for i in range(4, 7)
    }
    body = (
        ",".join(order) + "\n" + "".join(",".join(r[c.lower()] for c in order) + "\n" for r in rows.values())
    )
    (drop / "b.csv").write_text(body)
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(orders_spec(), settings, "run_1")

    loaded = {r[0]: r for r in raw(settings, "shop_files", "orders", list(ORDER_COLUMNS))}
    for i, r in rows.items():
        assert loaded[i] == (
            int(r["order_id"]), r["customer"], Decimal(r["amount"]),
            date.fromisoformat(r["ordered_on"]), datetime.fromisoformat(r["updated_at"]),
        )  # fmt: skip
    assert len(loaded) == 6 and quarantine(settings, "shop_files") == []
    assert ledger_rows_read(settings) == data_lines(drop / "a.csv", drop / "b.csv") == 6


def test_a_header_lacking_a_column_or_with_an_unknown_one_follows_the_drift_policy(
    tmp_path, warehouse_url, caplog
):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    (drop / "a.csv").write_text(HEADER + "\n" + good_line(1) + "\n")
    # "customer" renamed to "client": a missing declared column and an unknown one.
    (drop / "b.csv").write_text(HEADER.replace("customer", "client") + "\n" + good_line(2) + "\n")
    settings = settings_for(tmp_path, warehouse_url)
    failing = parse_spec(
        {**_orders_spec_data(), "load": {"schema_changes": "fail", "max_rejected_share": 0.5}}
    )
    with pytest.raises(Exception) as err:
        flow.run_el(failing, settings, "run_1")
    message = str(err.value)
    assert "b.csv" in message and "['customer']" in message and "['client']" in message
    assert "a.csv" not in message and "schema_changes: fail" in message
    wh = open_warehouse(settings.warehouse_url)
    assert wh.query("SELECT count(*) FROM wh.headwater.load_ledger") == [(0,)]

    with caplog.at_level(logging.WARNING):
        flow.run_el(orders_spec(), settings, "run_2")  # evolve (the default)
    assert any("b.csv" in r.getMessage() and "client" in r.getMessage() for r in caplog.records)
    got = {r[0]: r[1:] for r in raw(settings, "shop_files", "orders", ["order_id", "customer", "client"])}
    assert got == {1: ("customer 1", None), 2: (None, "customer 2")}, "nothing moved to another column"
    assert ledger_rows_read(settings) == data_lines(drop / "a.csv", drop / "b.csv")


def _orders_spec_data() -> dict:
    return {
        "name": "shop_files",
        "source": {"kind": "files", "url": "{home}/drop"},
        "load": {"max_rejected_share": 0.5},
        "tables": [
            {
                "name": "orders",
                "primary_key": "order_id",
                "mode": "full",
                "read": {"path": "orders/*.csv", "columns": dict(ORDER_COLUMNS)},
            }
        ],
    }


@pytest.mark.parametrize("all_text", [True, False])
def test_a_repeated_header_line_is_quarantined_not_loaded(tmp_path, warehouse_url, all_text):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    lines = [HEADER, *(good_line(i) for i in range(1, 4)), HEADER, *(good_line(i) for i in range(4, 7))]
    (drop / "a.csv").write_text("\n".join(lines) + "\n")
    data = _orders_spec_data()
    if all_text:
        data["tables"][0]["read"]["columns"] = dict.fromkeys(ORDER_COLUMNS, "VARCHAR")
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(parse_spec(data), settings, "run_1")

    keys = sorted(str(r[0]) for r in raw(settings, "shop_files", "orders", ["order_id"]))
    assert keys == [str(i) for i in range(1, 7)], "the header copy is not a row"
    q = quarantine(settings, "shop_files")
    assert [(r[2], r[4].split(":")[0], r[5]) for r in q] == [(5, "repeated header line", HEADER)]
    assert len(keys) + len(q) == data_lines(drop / "a.csv") == ledger_rows_read(settings)


def test_an_unterminated_quote_swallows_no_following_line(tmp_path, warehouse_url):
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    lines = [HEADER, good_line(1), '2,"customer 2,2.50,2026-01-02,2026-01-01 10:00:00']
    lines += [good_line(i) for i in range(3, 6)]
    lines += ['6,"customer, six",6.50,2026-01-06,2026-01-01 10:00:00']  # a closing quote, later
    lines += ['7,"customer 7,7.50,2026-01-07,2026-01-01 10:00:00', good_line(8)]  # a second one
    lines += ["9,customer 9,nine,2026-01-09,2026-01-01 10:00:00", good_line(10)]  # a bad value
    (drop / "a.csv").write_text("\n".join(lines) + "\n")
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(orders_spec(max_rejected_share=0.5), settings, "run_1")

    # Expected from the lines alone: an odd number of quotes on a line is unterminated.
    expected_bad = {
        n for n, text in enumerate(lines, start=1) if n > 1 and (text.count('"') % 2 or "nine" in text)
    }
    loaded = {r[0]: r[1] for r in raw(settings, "shop_files", "orders", ["order_id", "customer"])}
    assert sorted(loaded) == [1, 3, 4, 5, 6, 8, 10] and loaded[6] == "customer, six"
    q = quarantine(settings, "shop_files")
    assert {r[2] for r in q} == expected_bad == {3, 8, 10}
    for r in q:
        assert r[5] == lines[r[2] - 1], "the quarantined text is that line alone"
        assert ("unterminated quote" in r[4]) == (r[2] != 10)
    assert len(loaded) + len(q) == data_lines(drop / "a.csv") == ledger_rows_read(settings)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_long_quarantined_line_says_it_was_cut(tmp_path, suffix):
    import gzip

    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    long_line = f"1,{'x' * 25_000},one,2026-01-01,2026-01-01 10:00:00"
    body = (HEADER + "\n" + long_line + "\n" + good_line(2) + "\n").encode()
    (drop / f"a{suffix}").write_bytes(gzip.compress(body) if suffix.endswith(".gz") else body)
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    flow.run_el(orders_spec(path=f"orders/*{suffix}", max_rejected_share=0.6), settings, "run_1")
    rows = open_warehouse(settings.warehouse_url).query(
        "SELECT record, record_length, truncated FROM wh.headwater.quarantine"
    )
    assert rows == [(long_line[:10_000], len(long_line), True)]
    assert raw(settings, "shop_files", "orders", ["order_id"]) == [(2,)]


@pytest.mark.parametrize("date_style", ["builtin", "custom"])
def test_real_excel_date_cells_load_as_dates_and_uncached_formulas_are_quarantined(
    tmp_path, warehouse_url, date_style
):
    from tests.xlsx_writer import Formula, write_workbook

    drop = tmp_path / "drop"
    drop.mkdir()
    rows: list[list] = [
        [i, f"lead {i}", i + 0.25, date(2024, 3, i), datetime(2024, 3, i, 8, 30, 15)] for i in range(1, 13)
    ]
    rows[1][3] = "2024-03-02"  # a date typed as text: parsed by the ISO rule
    rows[2][4] = "2024-03-03 08:30:15"
    rows[3][2] = Formula("C2*2", 2.5)  # a formula with its cached value: the value loads
    rows[4][2] = Formula("C2*3")  # never computed: no value to load
    rows[5][3] = 45352  # a plain number in a date column is no date: nothing is guessed
    rows[6][3] = datetime(2024, 3, 7, 12, 0)  # a date-time in a DATE column: not a whole date
    write_workbook(drop / "leads.xlsx", list(ORDER_COLUMNS), rows, date_style=date_style)
    settings = settings_for(tmp_path, warehouse_url)
    flow.run_el(orders_spec(path="leads.xlsx", max_rejected_share=0.5), settings, "run_1")

    def expected_row(r: list) -> tuple:
        amount = r[2].cached if isinstance(r[2], Formula) else r[2]
        on = r[3] if isinstance(r[3], date) and not isinstance(r[3], datetime) else date.fromisoformat(r[3])
        at = r[4] if isinstance(r[4], datetime) else datetime.fromisoformat(r[4])
        return (r[0], r[1], Decimal(str(amount)).quantize(Decimal("0.01")), on, at)

    bad_rows = {5: "formula without a cached value in cell(s) C6", 6: "ordered_on", 7: "ordered_on"}
    expected = {r[0]: expected_row(r) for r in rows if r[0] not in bad_rows}
    loaded = {r[0]: tuple(r) for r in raw(settings, "shop_files", "orders", list(ORDER_COLUMNS))}
    assert loaded == expected
    q = quarantine(settings, "shop_files")
    assert {r[2] - 1: r[4] for r in q}.keys() == bad_rows.keys()  # sheet row = data row + 1
    for r in q:
        assert bad_rows[r[2] - 1] in (r[3] or "") + r[4]
    assert len(loaded) + len(q) == len(rows) == ledger_rows_read(settings)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.xlsx", b"", "it is empty"),
        (
            "renamed.xlsx",
            (HEADER + "\n1,a,1.00,2026-01-01,2026-01-01 10:00:00\n").encode(),
            "not a valid XLSX",
        ),
        ("truncated.xlsx", None, "not a valid XLSX"),
    ],
)
def test_a_file_that_is_no_workbook_is_one_clear_error_naming_it(tmp_path, name, content, problem):
    from tests.xlsx_writer import write_workbook

    drop = tmp_path / "drop"
    drop.mkdir()
    if content is None:
        write_workbook(drop / "whole.xlsx", list(ORDER_COLUMNS), [[1, "a", 1.0, date(2024, 1, 1), "x"]])
        content = (drop / "whole.xlsx").read_bytes()[:300]
        (drop / "whole.xlsx").unlink()
    (drop / name).write_bytes(content)
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(SourceError) as err:
        flow.run_el(orders_spec(path="*.xlsx"), settings, "run_1")
    message = str(err.value)
    assert f"workbook {drop / name}" in message and problem in message
    assert "Traceback" not in message and len(message.splitlines()) == 1


def test_an_unterminated_quote_that_swallows_more_than_duckdb_keeps_loses_no_line(tmp_path):
    """DuckDB keeps 10,000 characters of a rejected record: the swallowed lines are found
    again in the file itself, so every one of them is still loaded or quarantined."""
    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    lines = [HEADER, good_line(1), '2,"customer 2,2.50,2026-01-02,2026-01-01 10:00:00']
    lines += [good_line(i) for i in range(3, 600)]  # ~30,000 characters swallowed
    lines += ["600,customer 600,six hundred,2026-01-02,2026-01-01 10:00:00"]
    lines += ['601,"customer, 601",6.01,2026-01-02,2026-01-01 10:00:00', good_line(602)]
    (drop / "a.csv").write_text("\n".join(lines) + "\n")
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    flow.run_el(orders_spec(), settings, "run_1")

    expected_bad = {
        n for n, text in enumerate(lines, start=1) if n > 1 and (text.count('"') % 2 or "six" in text)
    }
    loaded = raw(settings, "shop_files", "orders", ["order_id"])
    q = quarantine(settings, "shop_files")
    assert {r[2] for r in q} == expected_bad == {3, 601}
    assert len(loaded) == len(lines) - 1 - len(expected_bad) == 600
    assert len(loaded) + len(q) == data_lines(drop / "a.csv") == ledger_rows_read(settings)

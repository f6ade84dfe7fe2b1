"""JSON HTTP API sources against a real HTTP server on 127.0.0.1.

The server holds the records, paginates, throttles (429) and fails (503) on purpose; the
expected warehouse contents are computed from the server's own records and the stated
parsing rules, and the server's request log shows the retries and the watermark push-down.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from headwater import flow
from headwater.errors import SourceError, TransientError
from headwater.settings import Settings
from headwater.sources import http_api
from headwater.spec import parse_spec
from headwater.warehouse import open_warehouse

TOKEN = "tok-Zq81-secret"


class CurrencyApi:
    """``/currencies``: page/page_size pagination; ``/v2/rates``: a ``next`` link in the body."""

    def __init__(self) -> None:
        self.records = [
            {"code": f"C{i:02d}", "name": f"currency {i}", "rate": round(1 + i / 10, 2),
             "modified": f"2026-01-{1 + i % 20:02d}T08:00:00"}
            for i in range(23)
        ]  # fmt: skip
        self.records[7]["rate"] = "n/a"  # not a number: quarantined
        self.requests: list[tuple[str, dict]] = []
        self.failures: list[int] = []  # statuses to answer before serving normally
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                api.requests.append((url.path, query))
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.reply(401, {"error": "unauthorized"})
                if api.failures:
                    status = api.failures.pop(0)
                    return self.reply(status, {"error": "busy"}, {"Retry-After": "0"})
                since = query.get("modified_since")
                rows = [r for r in api.records if since is None or r["modified"] >= since]
                if url.path == "/currencies":
                    page, size = int(query.get("page", 1)), int(query.get("page_size", 10))
                    return self.reply(200, {"data": rows[(page - 1) * size : page * size]})
                if url.path == "/v2/rates":
                    start = int(query.get("cursor", 0))
                    nxt = f"/v2/rates?cursor={start + 5}" if start + 5 < len(rows) else None
                    return self.reply(200, {"items": rows[start : start + 5], "next": nxt})
                return self.reply(404, {"error": "no such endpoint"})

            def reply(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CurrencyApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expected(self) -> dict[str, tuple]:
        """Records whose rate is a number, as (name, rate, modified)."""
        return {
            r["code"]: (r["name"], float(r["rate"]), datetime.fromisoformat(r["modified"]))
            for r in self.records
            if isinstance(r["rate"], int | float)
        }


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    monkeypatch.setattr(http_api, "BACKOFF_SECONDS", 0.01)
    with CurrencyApi() as server:
        yield server


def spec_for(url: str, endpoint: str = "currencies", records: str = "data"):
    return parse_spec(
        {
            "name": "fx",
            "source": {"kind": "http", "url": url},
            "load": {"lookback_seconds": 0},
            "tables": [
                {
                    "name": "currencies",
                    "primary_key": "code",
                    "cursor": "modified",
                    "read": {
                        "endpoint": endpoint,
                        "records": records,
                        "since_param": "modified_since",
                        "page_size": 10,
                        "columns": {
                            "code": "VARCHAR",
                            "name": "VARCHAR",
                            "rate": "DOUBLE",
                            "modified": "TIMESTAMP",
                        },  # fmt: skip
                    },
                }
            ],
        }
    )


def settings_for(tmp_path: Path, warehouse_url: str) -> Settings:
    return Settings(tmp_path, warehouse_url, str(tmp_path / "lake"), None, tmp_path)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return request.getfixturevalue("pg_database")


def loaded(settings: Settings) -> dict[str, tuple]:
    rows = open_warehouse(settings.warehouse_url).query(
        'SELECT code, name, rate, modified FROM wh.raw_fx."currencies"'
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def test_pages_retries_quarantine_and_the_watermark_pushed_to_the_server(tmp_path, api, warehouse_url):
    settings = settings_for(tmp_path, warehouse_url)
    api.failures = [429, 503]  # the first two calls are throttled, then fail: both retried
    flow.run_el(spec_for(api.url), settings, "run_1")

    assert loaded(settings) == api.expected()
    served = [q for p, q in api.requests if p == "/currencies"]
    assert [q.get("page") for q in served] == ["1", "1", "1", "2", "3"]  # 2 retries, 3 pages
    assert all("modified_since" not in q for q in served), "a first run reads everything"
    q = open_warehouse(settings.warehouse_url).query(
        "SELECT source_file, source_line, column_name, reason FROM wh.headwater.quarantine"
    )
    assert q == [(f"{api.url}/currencies page 1", 8, "rate", "column rate: n/a is not a valid DOUBLE")]

    # The server changes two records; the next run asks only for what changed since.
    api.records[3].update(rate=9.99, modified="2026-02-01T00:00:00")
    api.records.append({"code": "NEW", "name": "new", "rate": 0.5, "modified": "2026-02-02T00:00:00"})
    api.requests.clear()
    flow.run_el(spec_for(api.url), settings, "run_2")
    assert loaded(settings) == api.expected()
    watermark = max(r["modified"] for r in api.records if r["code"] != "NEW" and r is not api.records[3])
    assert api.requests[0][1]["modified_since"].replace(" ", "T") == watermark
    assert len(open_warehouse(settings.warehouse_url).query("SELECT * FROM wh.headwater.quarantine")) == 1


def test_next_links_are_followed(tmp_path, api):
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    flow.run_el(spec_for(api.url, "v2/rates", "items"), settings, "run_1")
    assert loaded(settings) == api.expected()
    assert [q.get("cursor") for p, q in api.requests] == [None, "5", "10", "15", "20"]


def test_a_rejected_token_fails_at_once_without_showing_it(tmp_path, api, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", "wrong-" + TOKEN)
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(SourceError) as err:
        flow.run_el(spec_for(api.url), settings, "run_1")
    assert "HTTP 401" in str(err.value) and TOKEN not in str(err.value)
    assert len(api.requests) == 1, "a 401 is not retried"


def test_a_server_that_keeps_failing_is_a_transient_error_after_the_retries(tmp_path, api, monkeypatch):
    monkeypatch.setattr(http_api, "MAX_ATTEMPTS", 3)
    api.failures = [503] * 10
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with pytest.raises(TransientError, match="HTTP 503 after 3 attempts"):
        flow.run_el(spec_for(api.url), settings, "run_1")
    assert len(api.requests) == 3


# -- issue 12: API shape drift and answers that are not JSON ----------------------------------
class ShapeApi:
    """Serves fixed bodies per page (page/page_size pagination): whatever shape a test needs."""

    def __init__(self, pages: list[bytes], content_type: str = "application/json") -> None:
        self.pages = pages
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                page = int(query.get("page", 1))
                data = api.pages[page - 1] if page <= len(api.pages) else b'{"data": []}'
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ShapeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def records(start: int, n: int, **rename: str) -> list[dict]:
    out = []
    for i in range(start, start + n):
        r = {
            "code": f"C{i:02d}",
            "name": f"currency {i}",
            "rate": 1 + i / 10,
            "modified": f"2026-01-{1 + i:02d}T08:00:00",
        }
        out.append({rename.get(k, k): v for k, v in r.items()})
    return out


def page(rows: list, key: str = "data") -> bytes:
    return json.dumps({key: rows}).encode()


def ledger_count(settings: Settings) -> int:
    wh = open_warehouse(settings.warehouse_url)
    return wh.query("SELECT count(*) FROM wh.headwater.load_ledger")[0][0]


def test_a_page_without_its_records_field_is_an_error_not_an_empty_page(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    pages = [page(records(0, 10)), json.dumps({"error": "maintenance", "items": []}).encode()]
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with ShapeApi(pages) as api, pytest.raises(SourceError) as err:
        flow.run_el(spec_for(api.url), settings, "run_1")
    message = str(err.value)
    assert f"{api.url}/currencies page 2" in message and "no 'data' field" in message
    assert "['error', 'items']" in message
    assert ledger_count(settings) == 0


@pytest.mark.parametrize("policy", ["fail", "evolve"])
def test_a_renamed_field_follows_the_drift_policy(tmp_path, warehouse_url, monkeypatch, caplog, policy):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    renamed = records(10, 3, rate="fx_rate")
    pages = [page(records(0, 10)), page(renamed)]
    settings = settings_for(tmp_path, warehouse_url)
    spec = spec_for("http://127.0.0.1:1")
    with ShapeApi(pages) as api:
        data = {
            "name": "fx",
            "source": {"kind": "http", "url": api.url},
            "load": {"schema_changes": policy},
            "tables": [{**_table_of(spec), "read": {**_read_of(spec)}}],
        }
        if policy == "fail":
            with pytest.raises(Exception) as err:
                flow.run_el(parse_spec(data), settings, "run_1")
            message = str(err.value)
            assert "page 2" in message and "['rate']" in message and "['fx_rate']" in message
            assert ledger_count(settings) == 0
            return
        with caplog.at_level("WARNING"):
            flow.run_el(parse_spec(data), settings, "run_1")
    assert any("page 2" in r.getMessage() and "fx_rate" in r.getMessage() for r in caplog.records)
    rows = open_warehouse(settings.warehouse_url).query(
        'SELECT code, rate, fx_rate FROM wh.raw_fx."currencies"'
    )
    got = {r[0]: (r[1], r[2]) for r in rows}
    expected = {r["code"]: (r["rate"], None) for r in records(0, 10)}
    expected |= {r["code"]: (None, str(r["fx_rate"])) for r in renamed}
    assert got == expected, "nothing loaded as a silent NULL: the renamed field's values are kept"


def _table_of(spec) -> dict:
    t = spec.tables[0]
    return {"name": t.name, "primary_key": list(t.primary_key), "cursor": t.cursor}


def _read_of(spec) -> dict:
    r = spec.tables[0].read
    return {"endpoint": r.path, "records": r.records, "page_size": r.page_size, "columns": dict(r.columns)}


def test_a_renamed_cursor_field_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with ShapeApi([page(records(0, 4, modified="modified_at"))]) as api, pytest.raises(SourceError) as err:
        flow.run_el(spec_for(api.url), settings, "run_1")
    assert "page 1" in str(err.value) and "cursor column(s) ['modified'] are missing" in str(err.value)


def test_records_that_are_not_objects_are_quarantined_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    rows: list = records(0, 8)
    rows[3] = "C03"
    rows[5] = [1, 2]
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with ShapeApi([page(rows)]) as api:
        base = spec_for(api.url)
        data = {
            "name": "fx",
            "source": {"kind": "http", "url": api.url},
            "load": {"max_rejected_share": 0.5},
            "tables": [{**_table_of(base), "read": _read_of(base)}],
        }
        flow.run_el(parse_spec(data), settings, "run_1")
        wh = open_warehouse(settings.warehouse_url)
        q = wh.query(
            "SELECT source_file, source_line, reason, record FROM wh.headwater.quarantine ORDER BY 2"
        )
        assert q == [
            (f"{api.url}/currencies page 1", 4, "record is not a JSON object but varchar", '"C03"'),
            (f"{api.url}/currencies page 1", 6, "record is not a JSON object but array", "[1,2]"),
        ]
    loaded = {r[0] for r in wh.query('SELECT code FROM wh.raw_fx."currencies"')}
    assert loaded == {r["code"] for r in rows if isinstance(r, dict)}
    assert len(loaded) + len(q) == len(rows)


@pytest.mark.parametrize(
    ("body", "content_type", "cause"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html", "text/html, 41 bytes) is not JSON"),
        (page(records(0, 10))[:-40], "application/json", "is not valid JSON (truncated?)"),
        (b"", "application/json", "is empty"),
    ],
)
def test_an_answer_that_is_not_json_is_one_clear_error_naming_the_page(
    tmp_path, monkeypatch, body, content_type, cause
):
    monkeypatch.setenv("HEADWATER_SOURCE_MAIN_TOKEN", TOKEN)
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    with ShapeApi([page(records(0, 10)), body], content_type) as api, pytest.raises(SourceError) as err:
        flow.run_el(spec_for(api.url), settings, "run_1")
    message = str(err.value)
    assert message.startswith(f"{api.url}/currencies page 2: the answer (HTTP 200, ") and cause in message
    assert "502 Bad Gateway" not in message, "the body is not quoted"


def test_json_files_that_are_not_json_or_lack_the_records_field(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    spec = parse_spec(
        {
            "name": "web",
            "source": {"kind": "files", "url": "{home}/drop"},
            "tables": [
                {
                    "name": "currencies",
                    "primary_key": "code",
                    "read": {
                        "path": "*.json",
                        "records": "data",
                        "columns": {"code": "VARCHAR", "rate": "DOUBLE"},
                    },
                }
            ],
        }
    )
    settings = settings_for(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}")
    (drop / "a.json").write_text(json.dumps({"data": [{"code": "EUR", "rate": 1.1}]}))
    (drop / "b.json").write_text("code,rate\nUSD,1.0\n")
    with pytest.raises(SourceError, match=r"file .*b\.json: not valid JSON"):
        flow.run_el(spec, settings, "run_1")
    (drop / "b.json").write_text(json.dumps({"rows": [{"code": "USD", "rate": 1.0}]}))
    with pytest.raises(
        SourceError,
        match=r"file .*b\.json: no 'data' field holding the records \(its fields are \['rows'\]\)",
    ):
        flow.run_el(spec, settings, "run_2")
    (drop / "b.json").write_text(json.dumps({"data": [{"code": "USD", "rate": 1.0}]}))
    flow.run_el(spec, settings, "run_3")
    rows = open_warehouse(settings.warehouse_url).query('SELECT code, rate FROM wh.raw_web."currencies"')
    assert sorted(rows) == [("EUR", 1.1), ("USD", 1.0)]

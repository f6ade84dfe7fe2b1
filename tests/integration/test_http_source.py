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

"""A small JSON API over generated files, on 127.0.0.1, for API sources in the demo and tests.

Each ``<resource>.json`` file (a JSON array of objects, e.g. from
:func:`headwater.synthetic.files.write_json`) in a folder is served at ``GET /<resource>``:

- pages: ``?page=N&page_size=M`` (1-based; default page size 100, at most 1,000); every page
  but the last carries ``Link: <...>; rel="next"`` and the body's ``next`` field, so a client
  may follow either;
- ``?modified_since=<ISO timestamp>`` keeps the records whose ``modified_field`` is later
  (compared as timestamps: an ISO ``T`` and a space are the same);
- an optional bearer token (``Authorization: Bearer <token>``): 401 without it, and the token
  never appears in a response or a log line;
- deliberate failures: a request is answered 429 (with ``Retry-After: 0``) or 503 at
  ``failure_rate``, chosen by a hash of (seed, request path, attempt number for that path), so
  the same sequence of requests meets the same failures; a retry of a failed request is
  answered (at most ``max_failures_in_a_row`` failures in a row per URL); ``failure_status``
  fixes the status of every failure (a test of "429 twice, then the page").

Start it with :func:`serve` (a context manager: tests, the demo) or ``python -m
headwater.synthetic.api_server DIR --port N``; it stops cleanly on exit, SIGINT or SIGTERM.
Files are re-read when they change, so an ``advance`` shows up without a restart.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

HOST = "127.0.0.1"
MAX_PAGE_SIZE = 1_000


@dataclass
class ApiConfig:
    folder: Path
    token: str | None = None
    modified_field: str = "updated_at"
    default_page_size: int = 100
    failure_rate: float = 0.0
    max_failures_in_a_row: int = 2
    failure_status: int | None = None
    """Always answer failures with this status (e.g. 429); None: 429 or 503 by the draw."""
    seed: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    served: Counter[int] = field(default_factory=Counter)
    """Responses by status code (tests read it)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[str, tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)

    def records(self, resource: str) -> list[dict[str, Any]] | None:
        path = self.folder / f"{resource}.json"
        if not resource.isidentifier() or not path.is_file():
            return None
        mtime = path.stat().st_mtime
        with self.lock:
            cached = self.cache.get(resource)
            if cached is None or cached[0] != mtime:
                cached = (mtime, json.loads(path.read_text(encoding="utf-8")))
                self.cache[resource] = cached
        return cached[1]

    def should_fail(self, key: str) -> int | None:
        """429 or 503 for this attempt at ``key``, or None; deterministic by seed."""
        if self.failure_rate <= 0:
            return None
        with self.lock:
            self.attempts[key] += 1
            attempt = self.attempts[key]
        if attempt > self.max_failures_in_a_row:
            with self.lock:
                self.attempts[key] = 0
            return None
        digest = hashlib.sha256(f"{self.seed}|{key}|{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= self.failure_rate:
            with self.lock:
                self.attempts[key] = 0
            return None
        if self.failure_status is not None:
            return self.failure_status
        return 429 if digest[8] % 2 == 0 else 503


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T")).replace(tzinfo=None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass  # quiet: tests and the demo print their own progress; a token never reaches a log

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        config = self.server.config
        url = urlsplit(self.path)
        if config.token is not None and self.headers.get("Authorization") != f"Bearer {config.token}":
            return self._send(401, {"error": "missing or wrong bearer token"})
        failure = config.should_fail(self.path)
        if failure is not None:
            return self._send(failure, {"error": "try again"}, {"Retry-After": "0"} if failure == 429 else {})
        records = config.records(url.path.strip("/"))
        if records is None:
            return self._send(404, {"error": f"no resource {url.path}"})
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            page = int(query.get("page", "1"))
            size = int(query.get("page_size", str(config.default_page_size)))
            since = _moment(query["modified_since"]) if "modified_since" in query else None
        except ValueError as exc:
            return self._send(400, {"error": f"bad query parameter: {exc}"})
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return self._send(400, {"error": f"page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}"})
        if since is not None:
            field_name = config.modified_field
            records = [r for r in records if r.get(field_name) and _moment(str(r[field_name])) > since]
        chunk = records[(page - 1) * size : page * size]
        headers = {}
        body: dict[str, Any] = {"data": chunk, "page": page, "page_size": size, "total": len(records)}
        if page * size < len(records):
            nxt = f"{url.path}?{urlencode({**query, 'page': page + 1, 'page_size': size})}"
            headers["Link"] = f'<http://{HOST}:{self.server.server_port}{nxt}>; rel="next"'
            body["next"] = nxt
        return self._send(200, body, headers)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.server.config.served[status] += 1
        payload = json.dumps(body, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, config: ApiConfig, port: int) -> None:
        self.config = config
        super().__init__((HOST, port), _Handler)


@dataclass(frozen=True)
class RunningApi:
    url: str
    config: ApiConfig


@contextmanager
def serve(folder: str | Path, *, port: int = 0, **options: Any) -> Iterator[RunningApi]:
    """Serve ``folder`` on 127.0.0.1 (``port`` 0: a free one) until the block ends."""
    config = ApiConfig(Path(folder), **options)
    server = _Server(config, port)
    thread = threading.Thread(target=server.serve_forever, name="headwater-api-fixture", daemon=True)
    thread.start()
    try:
        yield RunningApi(f"http://{HOST}:{server.server_port}", config)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve generated JSON files as an API on 127.0.0.1.")
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modified-field", default="updated_at")
    parser.add_argument("--token-file", help="require the bearer token this file holds")
    args = parser.parse_args(argv)
    # The token comes from a file, never from the command line (ps would show it).
    token = Path(args.token_file).read_text(encoding="utf-8").strip() if args.token_file else None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with serve(
        args.folder,
        port=args.port,
        token=token,
        failure_rate=args.failure_rate,
        seed=args.seed,
        modified_field=args.modified_field,
    ) as api:
        print(f"serving {args.folder} at {api.url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

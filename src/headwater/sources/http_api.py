"""JSON HTTP APIs: paginated, retried with backoff, the watermark passed to the server.

Each page's body is saved as it came (no Python loop over records) in a scratch folder, and
DuckDB splits the pages into records and typed columns like any JSON file (the typed split
of ``sources.base``): a field that does not parse as its declared type is quarantined.

Pagination follows what the server says: a ``Link: <...>; rel="next"`` header or a ``next``
URL in the body; without either, ``page``/``page_size`` query parameters until a short page.
429 and 5xx answers (and dropped connections) are retried with exponential backoff, honouring
``Retry-After``; other 4xx answers fail at once with the status (never the token).
A bearer token, if the API needs one, comes from ``HEADWATER_SOURCE_<NAME>_TOKEN`` or else the
password of the Airflow connection ``headwater_source_<name>``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin

import duckdb
import httpx

from headwater import duck
from headwater.errors import SourceError, TransientError
from headwater.settings import Settings
from headwater.sources.base import cursor_filter, typed_split
from headwater.sources.json_records import load_records
from headwater.spec import ReadSpec, TableSpec
from headwater.watermark import Bound

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
# Read when a source is made, not at import: a process may serve many runs (the warm runner),
# each with its own environment. A number here overrides the settings (tests do).
MAX_ATTEMPTS: int | None = None
"""Tries per page; None: HEADWATER_HTTP_ATTEMPTS."""
BACKOFF_SECONDS: float | None = None
"""First wait between tries (doubling); None: HEADWATER_HTTP_BACKOFF."""
MAX_WAIT_SECONDS = 60.0
MAX_PAGES = 10_000


class HttpApiSource:
    def __init__(self, url: str, name: str = "main") -> None:
        self.url = url.rstrip("/") + "/"
        self.name = name
        settings = Settings.from_env()
        self.attempts = MAX_ATTEMPTS or settings.http_attempts
        self.backoff = BACKOFF_SECONDS if BACKOFF_SECONDS is not None else settings.http_backoff
        self._scratch: Path | None = None
        self._rejects: str | None = None

    def __repr__(self) -> str:
        return f"HttpApiSource({duck.mask_url(self.url)})"

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """Nothing to attach: pages are fetched when the table is read."""

    def check_table(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> None:
        if table.read is None:
            raise SourceError(f"table {table.name!r} of an HTTP source has no read: section in its spec")

    def _headers(self) -> dict[str, str]:
        token = Settings.from_env().source_token(self.name) or connection_token(self.name)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def relation(
        self, con: duckdb.DuckDBPyConnection, table: TableSpec, since: Bound | None, until: Bound | None
    ) -> str:
        read = table.read
        assert read is not None and read.path is not None
        self._scratch = Path(tempfile.mkdtemp(prefix=f"headwater-{table.name}-"))
        pages = self.fetch(read, since)
        raw = f"__hw_raw_{table.name}"
        endpoint = duck.mask_url(self.url + read.path)

        def label(file: str) -> str:
            return f"{endpoint} page {int(Path(file).stem.removeprefix('page-'))}"

        pages_sql = duck.string_list(pages)
        objects = f"read_json_objects({pages_sql}, filename = true, format = 'unstructured')"
        extras = load_records(con, raw, objects, read, label, whole_body=True)
        read = replace(read, columns=(*read.columns, *((e, "VARCHAR") for e in extras)))
        # The page file names are scratch paths; the quarantine should name the API call.
        page = "regexp_extract(_source_file, 'page-0*(\\d+)', 1)"
        con.execute(
            f"UPDATE {duck.quote(raw)} SET _source_file = {duck.literal(endpoint)} || ' page ' || {page}"
        )
        good, self._rejects = typed_split(
            duck.quote(raw), read, ("_source_file", "_source_line"), "_record", "_problem"
        )
        return f"SELECT * FROM ({good}){cursor_filter(table, since, until)}"

    def rejects(self, con: duckdb.DuckDBPyConnection, table: TableSpec) -> str | None:
        return self._rejects

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __del__(self) -> None:
        self.close()

    # -- fetching -----------------------------------------------------------------------------
    def fetch(self, read: ReadSpec, since: Bound | None) -> list[str]:
        """Save every page of the endpoint; return the page files in order."""
        assert self._scratch is not None and read.path is not None
        params: dict[str, str | int] = {}
        if since is not None and read.since_param:
            params[read.since_param] = since.value  # the server filters; we filter again
        url: str | None = urljoin(self.url, read.path)
        page_number = 1
        by_number = True
        files: list[str] = []
        seen: set[str] = set()
        with httpx.Client(headers=self._headers(), timeout=30.0, follow_redirects=True) as client:
            while url is not None and len(files) < MAX_PAGES:
                query = dict(params)
                if by_number:
                    query.update(page=page_number, page_size=read.page_size)
                response = self._get(client, url, query)
                path = self._scratch / f"page-{len(files) + 1:06d}.json"
                path.write_bytes(response.content)
                files.append(str(path))
                body = _json_body(response)
                _check_page(body, response, read, f"{duck.mask_url(self.url + read.path)} page {len(files)}")
                next_url = _next_link(response, body)
                if next_url is not None:  # the server paginates: follow its link as given
                    next_url = urljoin(url, next_url)
                    if next_url in seen:
                        raise SourceError(f"{duck.mask_url(next_url)}: the API's next link repeats itself")
                    seen.add(next_url)
                    url, by_number, params = next_url, False, {}
                    continue
                if not by_number or _record_count(body, read) < read.page_size:
                    break
                page_number += 1
        if len(files) >= MAX_PAGES:
            raise SourceError(f"{duck.mask_url(self.url + read.path)}: more than {MAX_PAGES} pages; stopped")
        log.info("%s: fetched %d page(s)", duck.mask_url(self.url + read.path), len(files))
        return files

    def _get(self, client: httpx.Client, url: str, params: dict[str, str | int]) -> httpx.Response:
        where = duck.mask_url(url)
        for attempt in range(1, self.attempts + 1):
            try:
                # No params at all when following a link: an empty mapping would drop its query.
                response = client.get(url, params=params or None)
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}"
                wait = _backoff(attempt, None, self.backoff)
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES:
                    raise SourceError(
                        f"{where} answered HTTP {response.status_code} {response.reason_phrase}: "
                        "check the endpoint and the token (HEADWATER_SOURCE_<NAME>_TOKEN)"
                    )
                problem = f"HTTP {response.status_code}"
                wait = _backoff(attempt, response.headers.get("Retry-After"), self.backoff)
            if attempt < self.attempts:
                log.warning("%s: %s; retry %d in %.1fs", where, problem, attempt, wait)
                time.sleep(wait)
        raise TransientError(f"{where}: {problem} after {self.attempts} attempts")


def connection_token(source: str) -> str | None:
    """The password of the Airflow connection ``headwater_source_<source>``, if Airflow has one
    (a connection from the metadata DB, a secrets backend or ``AIRFLOW_CONN_...``)."""
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(f"headwater_source_{source}").password or None
    except Exception:  # no Airflow here, or no such connection: no token
        return None


def _backoff(attempt: int, retry_after: str | None, base: float) -> float:
    if retry_after:
        try:
            return min(float(retry_after), MAX_WAIT_SECONDS)
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    return min(base * 2 ** (attempt - 1), MAX_WAIT_SECONDS)


def _json_body(response: httpx.Response) -> object:
    """The page's body parsed once (for its next link and record count), or None."""
    try:
        return response.json()
    except ValueError:
        return None


def _check_page(body: object, response: httpx.Response, read: ReadSpec, where: str) -> None:
    """Fail on a page that is not JSON (an HTML error page, a body cut short): such a page
    has no records to count or split, and treating it as empty would lose them silently.
    The body is not quoted: it reaches logs and alerts."""
    if body is not None:
        return
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    size = len(response.content)
    cause = "empty" if size == 0 else "not valid JSON (truncated?)" if "json" in kind else "not JSON"
    raise SourceError(
        f"{where}: the answer (HTTP {response.status_code}, {kind}, {size} bytes) is {cause}; "
        "check the endpoint (read.endpoint) and the API"
    )


def _next_link(response: httpx.Response, body: object) -> str | None:
    link = response.links.get("next")
    if link and link.get("url"):
        return str(link["url"])
    if isinstance(body, dict) and isinstance(body.get("next"), str) and body["next"]:
        return str(body["next"])
    return None


def _record_count(body: object, read: ReadSpec) -> int:
    if read.records:
        for part in read.records.split("."):
            body = body.get(part) if isinstance(body, dict) else None
    return len(body) if isinstance(body, list) else 0

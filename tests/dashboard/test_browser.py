"""`headwater dashboard` in a real browser: Debian's Chromium driven by Playwright.

The command is started as a user would, on a free port; each page is opened, its charts are
waited for, visible numbers are checked against the source and no Streamlit exception may show.
Screenshots go to test-artifacts/dashboard/ (gitignored) for people to look at.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.dashboard import fmt
from headwater.settings import REPO_ROOT

from .conftest import TravelWarehouse

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser]

CHROMIUM = os.environ.get("HEADWATER_CHROMIUM", "/usr/bin/chromium")
# How Chromium runs headless on these machines: no sandbox as root, no GPU, and none of the
# background connections a closed network refuses.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"
EXCEPTION = '[data-testid="stException"]'


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    problem = _browser_missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def dashboard(home: Path, log: Path) -> Iterator[str]:
    """`headwater dashboard` on a free port for ``home``; yields the URL it printed."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "AIRFLOW_HOME"))}
    env["HEADWATER_HOME"] = str(home)
    cli = Path(sys.executable).parent / "headwater"
    proc = subprocess.Popen(
        [str(cli), "dashboard", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"Headwater dashboards on (http://\S+)", log.read_text(errors="replace"))
            if m:
                url = m.group(1)
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.read() == b"ok":
                            break
                except OSError:
                    pass
            time.sleep(0.3)
        else:
            pytest.fail(f"the dashboard did not start:\n{log.read_text(errors='replace')[-3000:]}")
        assert url == f"http://127.0.0.1:{port}"
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with socket.socket() as s:  # stopped: nothing listens on the port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # closed connections may linger
        s.bind(("127.0.0.1", port))


@contextmanager
def chromium(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    profile = tmp_path / "chromium-profile"  # a new, empty profile every time
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 2200},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


def settle(page, charts: int = 0, text: str | None = None) -> None:
    """Wait until the page shows ``text`` and at least ``charts`` drawn charts, and Streamlit has
    finished the script run (its running indicator can appear a moment after the first output,
    so the expected content is what is waited for)."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
    if text:
        page.get_by_text(text).first.wait_for()
    page.wait_for_function(
        """n => {
            const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                .filter(c => c.checkVisibility());  // not the ones in a closed expander
            return charts.length >= n && charts.every(c => c.querySelector('canvas, svg'))
                && !document.querySelector('[data-testid="stStatusWidget"]')
                && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        arg=charts,
    )
    page.wait_for_timeout(800)  # chart transitions, late elements


def shoot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def metric(page, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(f"^{re.escape(label)}$"))
    )
    return tile.locator('[data-testid="stMetricValue"]').inner_text().strip()


def no_exception(page) -> None:
    shown = page.locator(EXCEPTION)
    assert shown.count() == 0, shown.first.inner_text()


def test_every_page_in_chromium(browser_ready, travel_warehouse: TravelWarehouse, tmp_path: Path):
    src = travel_warehouse.source
    bookings = src.rows("SELECT count(*) FROM booking")[0][0]
    tickets = src.rows("SELECT count(*) FROM ticket")[0][0]
    tables = ["booking", "ticket", "segment", "passenger", "ticket_passenger", "ticket_segment"]
    moved = sum(src.rows(f'SELECT count(*) FROM "{t}"')[0][0] for t in tables)

    with dashboard(travel_warehouse.home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        page.goto(url)
        settle(page, text="Rows moved")
        no_exception(page)
        assert metric(page, "Rows moved") == fmt.count(moved)
        page.get_by_text("Run details").first.click()
        settle(page, charts=1, text="Rows moved per run")
        no_exception(page)
        shoot(page, "overview")

        page.goto(f"{url}/travel_bookings")
        settle(page, charts=5, text="Top carriers by revenue")
        no_exception(page)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 5
        assert metric(page, "Bookings") == fmt.count(bookings)
        assert metric(page, "Tickets") == fmt.count(tickets)
        assert metric(page, "Revenue").startswith("€")
        shoot(page, "travel_bookings")
        train = page.get_by_role("radio", name="train", exact=True)  # carriers of one mode
        train.click()
        settle(page, charts=5)
        assert train.get_attribute("aria-checked") == "true"
        no_exception(page)

        page.goto(f"{url}/flights")
        settle(page, text="Flights has not run yet")
        no_exception(page)
        assert page.get_by_text("Flights has not run yet").is_visible()
        shoot(page, "flights_not_run")

        page.goto(f"{url}/dbt_docs")
        settle(page, text="Download as one HTML file")
        no_exception(page)
        frame = page.frame_locator("iframe").first
        frame.locator("text=travel_bookings >> visible=true").first.wait_for()  # the project tree
        shoot(page, "dbt_docs")


def test_pages_without_a_warehouse_in_chromium(browser_ready, tmp_path: Path):
    home = tmp_path / "hw"
    home.mkdir()
    with dashboard(home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        for path in ("", "travel_bookings", "flights", "b2b_commerce"):
            page.goto(f"{url}/{path}")
            settle(page, text="Nothing to show yet")
            no_exception(page)
            assert page.get_by_text("Nothing to show yet").is_visible()
        shoot(page, "no_warehouse")
    assert not (home / "warehouse.duckdb").exists()


def test_flights_in_chromium(browser_ready, flights_warehouse, tmp_path: Path):
    from .test_flights_queries import Expected

    want = Expected(flights_warehouse)
    dates = [f["date"] for f in want.flights]
    flown = [f["date"] for f in want.flights if f["arr_delay"] is not None]
    summary = want.summary(want.between(min(dates), max(flown)))
    with dashboard(flights_warehouse.home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        page.goto(f"{url}/flights")  # a page URL as the very first request
        settle(page, charts=4, text="Busiest airports")
        no_exception(page)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 4
        assert metric(page, "Flights") == fmt.count(summary["flights"])
        assert metric(page, "On time") == fmt.percent(summary["on_time_share"])
        # the app's own navigation (not Streamlit's folder-of-pages fallback) is in the sidebar
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Travel bookings" in nav and "Overview" in nav and "app" not in nav.split()
        shoot(page, "flights")

        page.goto(url)
        settle(page, text="Rows moved")
        no_exception(page)
        assert page.get_by_text("Success", exact=False).first.is_visible()
        shoot(page, "overview_flights")


def test_forex_in_chromium(browser_ready, forex_warehouse, tmp_path: Path):
    from headwater import discovery

    expect = discovery.pipeline_module(discovery.load_spec("forex"), "expectations")
    truth = expect.Truth(forex_warehouse.source)  # the generator's true values
    try:
        ((transactions, revenue),) = truth.rows("SELECT count(*), sum(revenue) FROM usable")
        outcomes = expect.outcomes(truth)  # usable, each quarantine reason, unkeyed lines
    finally:
        truth.close()
    with dashboard(forex_warehouse.home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        page.goto(f"{url}/forex")
        settle(page, charts=2, text="Where the delivered rows went")
        no_exception(page)
        assert metric(page, "Transactions") == fmt.count(transactions)
        assert metric(page, "Revenue") == fmt.money(revenue)
        assert metric(page, "Usable rows") == fmt.percent(outcomes["usable"] / sum(outcomes.values()))
        shoot(page, "forex")


def test_b2b_commerce_in_chromium(browser_ready, b2b_warehouse, tmp_path: Path):
    import sqlite3

    con = sqlite3.connect(f"file:{b2b_warehouse.source}?mode=ro", uri=True)
    try:
        orders, paying = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE payment_status = 'APPROVED') FROM orders"
        ).fetchone()
    finally:
        con.close()
    with dashboard(b2b_warehouse.home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        page.goto(f"{url}/b2b_commerce")
        settle(page, charts=4, text="Top 10 countries users log in from")
        no_exception(page)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 4
        assert metric(page, "Orders") == fmt.count(orders)
        assert metric(page, "Paying orders") == fmt.count(paying)
        for title in ("Paying orders and revenue by campaign channel", "Revenue by month, last 12 months",
                      "Top 10 products by revenue"):  # fmt: skip
            assert page.get_by_text(title).first.is_visible()
        shoot(page, "b2b_commerce")


def test_pacbikes_in_chromium(browser_ready, pacbikes_warehouse, tmp_path: Path):
    src = pacbikes_warehouse
    by_month: dict[str, Decimal] = {}
    for ordered, total in src.rows(
        "SELECT h.orderdate, d.linetotal FROM salesorderdetail d JOIN salesorderheader h USING (salesorderid)"
    ):
        by_month[ordered[:7]] = by_month.get(ordered[:7], Decimal(0)) + Decimal(str(total))
    *_, before, last = sorted(by_month)
    with dashboard(src.home, tmp_path / "dashboard.log") as url, chromium(tmp_path) as page:
        page.goto(f"{url}/pacbikes")
        settle(page, charts=1, text="Top 10 salespeople")
        no_exception(page)
        assert metric(page, "Revenue") == fmt.money(sum(by_month.values()), "$")
        assert metric(page, "Latest month") == fmt.money(by_month[last], "$")
        assert metric(page, "Month-over-month") == fmt.percent(float(by_month[last] / by_month[before]) - 1)
        shoot(page, "pacbikes")

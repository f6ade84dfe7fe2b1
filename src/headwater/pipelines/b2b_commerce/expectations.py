"""Figures the b2b_commerce marts must show, computed independently from the sources.

The app database is read with its own driver (``src.rows(sql, params)``: sqlite3 or psycopg);
the leads workbooks with openpyxl and the access logs with Python's own parsing of the bytes
the generator wrote, never with the pipeline's readers. ``from_marts`` asks the dashboard's own
queries (on a read-only DuckDB connection to the warehouse), so the page is what is checked.
This pipeline has three sources and two DAGs, so it brings its own end-to-end module
(``tests/e2e/test_b2b_commerce.py``, ``OWN_E2E``).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

OWN_E2E = True
GENERATE: dict[str, Any] = {"scale": 0.1}
"""Arguments to the generator for the end-to-end runs (small: CI time matters)."""
ADVANCE: dict[str, Any] = {"new_fraction": 0.05, "update_fraction": 0.1}
AS_OF_LAG = timedelta(hours=3)
ADVANCE_BY = timedelta(hours=2)

CHANNELS = ("Facebook", "Instagram", "Organic", "Paid Search", "Google Ads", "Offline")
# The combined log format, written here from its definition (not the engine's pattern):
# ip ident user [dd/Mon/yyyy:HH:MM:SS zone] "METHOD path PROTOCOL" status bytes "ref" "agent"
_LINE = re.compile(
    rb"^(?P<ip>\d{1,3}(?:\.\d{1,3}){3}) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    rb'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) (?:\d+|-) '
    rb'"[^"]*" "[^"]*"$'
)
_PRODUCT_PATH = re.compile(r"^/products/(\d{1,18})$")


# -- the sources, read independently -----------------------------------------------------------


def ip_number(ip: str) -> int | None:
    parts = ip.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d


def _ip(ip: str) -> int:
    n = ip_number(ip)
    if n is None:
        raise ValueError(f"country_codes holds {ip!r}, which is no IPv4 address")
    return n


class CountryRanges:
    """The source's country_codes, searched by bisection (never the warehouse's join)."""

    def __init__(self, src) -> None:
        rows = sorted(
            (_ip(s), _ip(e), code, name)
            for s, e, code, name in src.rows("SELECT start_ip, end_ip, code, country_name FROM country_codes")
        )
        self.starts = [r[0] for r in rows]
        self.rows = rows

    def country(self, ip: str) -> tuple[str, str] | None:
        n = ip_number(ip)
        if n is None:
            return None
        i = bisect.bisect_right(self.starts, n) - 1
        if i >= 0 and self.rows[i][0] <= n <= self.rows[i][1]:
            return self.rows[i][2], self.rows[i][3]
        return None


def read_log_events(folder: str | Path) -> dict[tuple[str, int], dict[str, Any]]:
    """Every well-formed IPv4 line of every access log: (file, line) -> its fields."""
    events = {}
    for path in sorted(Path(folder).glob("access_*.log")):
        for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
            m = _LINE.match(raw)
            if not m or ip_number(m["ip"].decode()) is None:
                continue
            user = m["user"].decode()
            events[(str(path), number)] = {
                "ip": m["ip"].decode(),
                "user": None if user == "-" else user,
                "time": datetime.strptime(m["time"].decode(), "%d/%b/%Y:%H:%M:%S %z"),
                "method": m["method"].decode(),
                "path": m["path"].decode(),
            }
    return events


def read_leads(folder: str | Path) -> dict[int, dict[str, Any]]:
    """lead_id -> the lead, from every workbook in the folder (openpyxl, cell by cell)."""
    from openpyxl import load_workbook

    leads = {}
    for path in sorted(Path(folder).glob("leads_*.xlsx")):
        book = load_workbook(path, read_only=True)
        rows = book["leads"].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        for values in rows:
            # a row ends at its last non-empty cell (a lead without order or product)
            lead = dict(zip(header, [*values, *[None] * (len(header) - len(values))], strict=True))
            leads[int(lead["lead_id"])] = lead
        book.close()
    return leads


def journey(src, logs_folder: str | Path) -> dict[tuple[str, int], tuple]:
    """(file, line) -> (username, customer_id, event type, product_id, country code)."""
    ranges = CountryRanges(src)
    customers = dict(src.rows("SELECT username, customer_id FROM customers"))
    products = {r[0] for r in src.rows("SELECT product_id FROM products")}
    out = {}
    for key, e in read_log_events(logs_folder).items():
        match = _PRODUCT_PATH.match(e["path"])
        product = int(match[1]) if match else None
        kind = (
            "login" if e["path"] == "/login"
            else "product_view" if product is not None
            else "cart" if e["path"] == "/cart"
            else "checkout" if e["path"] == "/checkout"
            else "other"
        )  # fmt: skip
        country = ranges.country(e["ip"])
        out[key] = (
            e["user"],
            customers.get(e["user"]),
            kind,
            product if product in products else None,
            country[0] if country else None,
        )
    return out


def _approved_lines(src) -> list[tuple[int, int, Decimal, date]]:
    """(order_id, product_id, final_amount, order day) of every line of an APPROVED order."""
    return [
        (o, p, Decimal(str(amount)), date.fromisoformat(str(created)[:10]))
        for o, p, amount, created in src.rows(
            "SELECT li.order_id, li.product_id, li.final_amount, o.created_at "
            "FROM order_line_item AS li JOIN orders AS o ON o.order_id = li.order_id "
            "WHERE o.payment_status = 'APPROVED'"
        )
    ]


def from_source(src, leads_folder: str | Path, logs_folder: str | Path) -> dict[str, Any]:
    lines = _approved_lines(src)
    order_revenue: dict[int, Decimal] = defaultdict(Decimal)
    product_revenue: dict[int, Decimal] = defaultdict(Decimal)
    month_revenue: dict[str, Decimal] = defaultdict(Decimal)
    for order, product, amount, day in lines:
        order_revenue[order] += amount
        product_revenue[product] += amount
        month_revenue[f"{day:%Y-%m}"] += amount

    by_channel: dict[str, list] = {}
    for lead in read_leads(leads_folder).values():
        entry = by_channel.setdefault(lead["campaign_channel"], [set(), Decimal(0)])
        if lead["order_id"] is not None and int(lead["order_id"]) in order_revenue:
            entry[0].add(int(lead["order_id"]))
            entry[1] += order_revenue[int(lead["order_id"])]
    top_products = sorted(product_revenue.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    events = journey(src, logs_folder)
    logins = Counter(e[4] for e in events.values() if e[2] == "login" and e[4] is not None)
    top_countries = sorted(logins.items(), key=lambda kv: (-kv[1], kv[0]))[:10]

    (latest,) = src.rows("SELECT max(created_at) FROM orders")[0]
    last = date.fromisoformat(str(latest)[:10]).replace(day=1)
    months = [_month_back(last, i) for i in range(11, -1, -1)]
    return {
        "paying orders and revenue by channel": {c: (len(v[0]), v[1]) for c, v in by_channel.items()},
        "top 10 products by revenue": top_products,
        "top 10 login countries": top_countries,
        "revenue by month, last 12 months": [(m, month_revenue.get(m, Decimal(0))) for m in months],
        "journey": events,
    }


def _month_back(first_of_month: date, n: int) -> str:
    year, month = divmod(first_of_month.year * 12 + first_of_month.month - 1 - n, 12)
    return f"{year:04d}-{month + 1:02d}"


# -- the marts, through the dashboard's queries ----------------------------------------------


def from_marts(con, mart) -> dict[str, Any]:
    """The same figures from the dashboard's queries (``con``: read-only DuckDB on the
    warehouse) and, for the journey, from fct_user_journey (``mart(model)``: its relation)."""
    from headwater.pipelines.b2b_commerce import dashboard

    channels = dashboard.channel_attribution(con)
    products = dashboard.top_products(con, 10)
    countries = dashboard.top_login_countries(con, 10)
    months = dashboard.monthly_revenue(con, 12)
    rows = con.execute(
        "SELECT source_file, source_line, username, customer_id, event_type, product_id, country_code "
        f"FROM {mart('fct_user_journey')}"
    ).fetchall()
    return {
        "paying orders and revenue by channel": {
            r.campaign_channel: (int(r.paying_orders), Decimal(str(r.revenue))) for r in channels.itertuples()
        },
        "top 10 products by revenue": [
            (int(r.product_id), Decimal(str(r.revenue))) for r in products.itertuples()
        ],
        "top 10 login countries": [(r.country_code, int(r.logins)) for r in countries.itertuples()],
        "revenue by month, last 12 months": [
            (f"{r.month:%Y-%m}", Decimal(str(r.revenue))) for r in months.itertuples()
        ],
        "journey": {(f, int(n)): (u, c, e, p, cc) for f, n, u, c, e, p, cc in rows},
    }

"""b2b_commerce's synthetic sources: the app database's rules (as SQL over the generated file)
and the two drops written beside it (leads workbooks, access logs), read back independently.

``CASE`` hands the database rules to the shared checks in test_generators.py.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

from headwater.pipelines.b2b_commerce import expectations, generator
from tests.unit import generator_support as gs


def zero_checks(as_of: dt.datetime, generated_as_of: dt.datetime) -> dict[str, list[str]]:
    as_of_s = gs.ts(as_of)
    return {
        "updated_at < created_at": [
            f"SELECT count(*) FROM {t} WHERE updated_at < created_at"
            for t in generator.TABLES
            if t != "country_codes"
        ],
        "timestamp after as_of": [
            f"SELECT count(*) FROM {t} WHERE updated_at > '{as_of_s}'" for t in generator.TABLES
        ],
        "order of a missing customer or supplier": [
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id)",
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM suppliers s WHERE s.supplier_id = o.supplier_id)",
        ],
        "order without lines or one invoice": [
            "SELECT count(*) FROM orders o WHERE NOT EXISTS "
            "(SELECT 1 FROM order_line_item l WHERE l.order_id = o.order_id)",
            "SELECT count(*) FROM orders o "
            "WHERE (SELECT count(*) FROM invoice i WHERE i.order_id = o.order_id) <> 1",
        ],
        "invoice amount is not the sum of its lines": [
            "SELECT count(*) FROM invoice i WHERE abs(i.amount - "
            "(SELECT sum(final_amount) FROM order_line_item l WHERE l.order_id = i.order_id)) > 0.005"
        ],
        "line amount not positive or above list": [
            "SELECT count(*) FROM order_line_item WHERE final_amount <= 0 "
            "OR final_amount > no_of_items * unit_price + 0.005"
        ],
        "status out of its values or inconsistent": [
            "SELECT count(*) FROM orders WHERE payment_status NOT IN ('PENDING', 'APPROVED', 'CANCELLED') "
            "OR delivery_status NOT IN ('PENDING', 'COMPLETED', 'CANCELLED') "
            "OR (payment_status <> 'APPROVED' AND delivery_status = 'COMPLETED') "
            "OR (payment_status = 'CANCELLED' AND delivery_status <> 'CANCELLED')"
        ],
        "supplier that is not a supplier company": [
            "SELECT count(*) FROM suppliers s JOIN company c USING (company_id) WHERE NOT c.is_supplier"
        ],
        "username repeated": ["SELECT count(*) - count(DISTINCT username) FROM customers"],
    }


def ranges_do_not_overlap(con: sqlite3.Connection) -> None:
    ranges = sorted(
        (expectations.ip_number(s), expectations.ip_number(e))
        for s, e in con.execute("SELECT start_ip, end_ip FROM country_codes")
    )
    assert all(lo <= hi for lo, hi in ranges)
    assert all(prev[1] < nxt[0] for prev, nxt in zip(ranges, ranges[1:], strict=False)), "ranges overlap"


CASE = gs.Case(
    module=generator,
    zero_checks=zero_checks,
    extra_checks=ranges_do_not_overlap,
    scale=0.1,
    small_scale=0.02,
    advance_by=dt.timedelta(hours=6),
    seed_independent=frozenset({"country_codes"}),
    corruptions=[
        (
            "UPDATE orders SET updated_at = '2020-01-01 00:00:00' WHERE order_id = 5",
            "updated_at < created_at",
        ),
        ("UPDATE invoice SET amount = amount + 1 WHERE invoice_id = 3", "invoice amount"),
        (
            "UPDATE orders SET delivery_status = 'COMPLETED', payment_status = 'CANCELLED' "
            "WHERE order_id = 7",
            "status out of",
        ),
        ("DELETE FROM order_line_item WHERE order_id = 9", "order without lines"),
    ],
)


def test_the_drops_name_real_orders_users_products_and_country_ranges(tmp_path: Path):
    db = tmp_path / "app.sqlite"
    others = {"leads": str(tmp_path / "leads"), "weblogs": str(tmp_path / "logs")}
    counts = generator.generate(gs.sqlite_url(db), scale=0.05, seed=3, as_of=gs.AS_OF, other_sources=others)
    later = generator.advance(
        gs.sqlite_url(db), seed=3, as_of=gs.AS_OF + dt.timedelta(hours=6), other_sources=others
    )
    leads = expectations.read_leads(others["leads"])
    assert len(leads) == counts["leads"] + later["leads"] and sorted(leads) == list(range(1, len(leads) + 1))
    with sqlite3.connect(db) as con:
        orders = {r[0] for r in con.execute("SELECT order_id FROM orders")}
        users = {r[0] for r in con.execute("SELECT username FROM customers")}
        products = {r[0] for r in con.execute("SELECT product_id FROM products")}
    assert {int(v["order_id"]) for v in leads.values() if v["order_id"]} <= orders
    assert any(v["order_id"] is None for v in leads.values()), "some leads never ordered"
    assert {v["campaign_channel"] for v in leads.values()} <= set(expectations.CHANNELS)
    assert all(isinstance(v["first_contact_date"], dt.datetime) for v in leads.values()), "real date cells"

    logs = sorted(Path(others["weblogs"]).glob("access_*.log"))
    assert len(logs) == 2, "one log file per delivery"
    events = expectations.read_log_events(others["weblogs"])
    lines = sum(len(f.read_bytes().splitlines()) for f in logs)
    assert 0 < lines - len(events) < 0.05 * lines, "a realistic few lines are malformed or IPv6"
    assert {e["user"] for e in events.values()} - {None} <= users
    viewed = {int(m[1]) for e in events.values() if (m := re.match(r"^/products/(\d+)$", e["path"]))}
    assert viewed <= products
    first_end = max(e["time"] for (f, _), e in events.items() if f == str(logs[0]))
    assert all(e["time"] > first_end for (f, _), e in events.items() if f == str(logs[1])), (
        "logs follow in time"
    )

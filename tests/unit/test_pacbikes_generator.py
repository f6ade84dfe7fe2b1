"""pacbikes' synthetic shop in detail: the sales rules (as SQL over the generated file), what an
advance changes (new orders at the prices of their moment, product cost changes, quotas), and
the currency API stand-in (pages, token, deliberate 429s, new currencies as time passes).

``CASE`` hands these rules to the shared checks in test_generators.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import httpx

from headwater.pipelines.pacbikes import generator
from tests.unit import generator_support as gs


def zero_checks(as_of: dt.datetime, generated_as_of: dt.datetime) -> dict[str, list[str]]:
    a = gs.ts(as_of)
    return {
        "modifieddate after as_of": [
            f"SELECT count(*) FROM {t} WHERE modifieddate > '{a}'" for t in generator.TABLES
        ],
        "order line of a missing order": [
            "SELECT count(*) FROM salesorderdetail d WHERE NOT EXISTS "
            "(SELECT 1 FROM salesorderheader h WHERE h.salesorderid = d.salesorderid)"
        ],
        "order without lines": [
            "SELECT count(*) FROM salesorderheader h WHERE NOT EXISTS "
            "(SELECT 1 FROM salesorderdetail d WHERE h.salesorderid = d.salesorderid)"
        ],
        "line total wrong": [
            "SELECT count(*) FROM salesorderdetail "
            "WHERE abs(linetotal - round(orderqty * unitprice * (1 - unitpricediscount), 2)) > 0.005"
        ],
        "subtotal is not the sum of the lines": [
            "SELECT count(*) FROM salesorderheader h JOIN (SELECT salesorderid, sum(linetotal) AS s "
            "FROM salesorderdetail GROUP BY 1) d USING (salesorderid) WHERE abs(h.subtotal - d.s) > 0.005",
            "SELECT count(*) FROM salesorderheader WHERE abs(totaldue - subtotal - taxamt - freight) > 0.005",
        ],
        "offer not offered for the product": [
            "SELECT count(*) FROM salesorderdetail d WHERE NOT EXISTS (SELECT 1 FROM specialofferproduct o "
            "WHERE o.specialofferid = d.specialofferid AND o.productid = d.productid)"
        ],
        "currency rate and territory disagree": [
            # US orders are in dollars (no rate); others carry the rate of their day
            "SELECT count(*) FROM salesorderheader h JOIN salesterritory t USING (territoryid) "
            "WHERE (t.countryregioncode = 'US') <> (h.currencyrateid IS NULL)",
            "SELECT count(*) FROM salesorderheader h JOIN currencyrate r USING (currencyrateid) "
            "WHERE date(r.currencyratedate) <> date(h.orderdate)",
        ],
        "customer is both or neither store and person": [
            "SELECT count(*) FROM customer WHERE (personid IS NULL) = (storeid IS NULL)"
        ],
        "online order with a salesperson": [
            "SELECT count(*) FROM salesorderheader WHERE onlineorderflag AND salespersonid IS NOT NULL"
        ],
        "shipped before ordered": ["SELECT count(*) FROM salesorderheader WHERE shipdate < orderdate"],
        "quota of a salesperson without territory": [
            "SELECT count(*) FROM salespersonquotahistory q JOIN salesperson s USING (businessentityid) "
            "WHERE s.territoryid IS NULL"
        ],
        "price not positive": [
            "SELECT count(*) FROM product WHERE standardcost <= 0 OR listprice <= standardcost"
        ],
    }


CASE = gs.Case(
    module=generator,
    zero_checks=zero_checks,
    scale=0.2,
    small_scale=0.02,
    advance_by=dt.timedelta(days=1),
    seed_independent=frozenset(
        {"salesterritory", "shipmethod", "salesreason", "specialoffer", "salesterritoryhistory"}
    ),
    max_scale=generator.GENERATOR.max_scale,
    corruptions=[
        ("UPDATE salesorderdetail SET linetotal = linetotal + 1 WHERE rowid = 1", "line total wrong"),
        ("UPDATE customer SET personid = 20001 WHERE rowid = 1", "customer is both"),
        ("DELETE FROM specialofferproduct WHERE specialofferid = 1", "offer not offered"),
        (
            "UPDATE salesorderheader SET currencyrateid = NULL WHERE territoryid = 6",
            "currency rate and territory",
        ),
    ],
)


def test_advance_changes_prices_and_later_orders_pay_the_new_price(tmp_path):
    url = gs.sqlite_url(tmp_path / "shop.sqlite")
    generator.generate(url, scale=0.05, seed=4, as_of=gs.AS_OF)
    with sqlite3.connect(tmp_path / "shop.sqlite") as con:
        before = dict(con.execute("SELECT productid, listprice FROM product"))
        last_order = con.execute("SELECT max(salesorderid) FROM salesorderheader").fetchone()[0]
    result = generator.advance(url, seed=4, as_of=gs.AS_OF + dt.timedelta(days=3), new_fraction=1.0)
    with sqlite3.connect(tmp_path / "shop.sqlite") as con:
        after = {
            p: (price, when)
            for p, price, when in con.execute("SELECT productid, listprice, modifieddate FROM product")
        }
        changed = {p for p in after if after[p][0] != before[p]}
        assert len(changed) == result["changed_products"] >= 1
        new_lines = con.execute(
            "SELECT d.productid, d.unitprice, h.orderdate FROM salesorderdetail d JOIN salesorderheader h "
            "USING (salesorderid) WHERE h.salesorderid > ?",
            (last_order,),
        ).fetchall()
        assert len(new_lines) == result["new_order_lines"] > 0
        for product, price, ordered in new_lines:
            later = product in changed and ordered >= after[product][1]
            assert price == (after[product][0] if later else before[product]), (product, ordered)
        quotas = con.execute(
            "SELECT count(*) FROM salespersonquotahistory WHERE quotadate = ?",
            (gs.ts(gs.AS_OF + dt.timedelta(days=3)),),
        ).fetchone()[0]
        assert quotas == result["new_quotas"] == 14


def test_the_currency_api_pages_needs_its_token_throttles_and_lists_more_as_time_passes(tmp_path):
    url = gs.sqlite_url(tmp_path / "shop.sqlite")
    generator.generate(url, scale=0.02, seed=4, as_of=gs.AS_OF)
    listed = generator.currency_records(url)
    assert {"USD", "EUR", "GBP", "CAD", "AUD"} <= {r["currencycode"] for r in listed}
    with generator.serve(url, failure_rate=1.0, max_failures_in_a_row=2, failure_status=429) as services:
        api = services["currency"]
        assert httpx.get(f"{api.url}currency").status_code == 401  # no token
        headers = {"Authorization": f"Bearer {api.token}"}
        statuses = [
            httpx.get(f"{api.url}currency?page_size=3", headers=headers).status_code for _ in range(3)
        ]
        assert statuses == [429, 429, 200]
        body = httpx.get(f"{api.url}currency?page_size=3", headers=headers)
        assert body.status_code == 429  # the next request meets its own two 429s
    generator.advance(url, seed=4, as_of=gs.AS_OF + dt.timedelta(days=2))
    more = generator.currency_records(url)
    assert len(more) > len(listed) and listed == more[: len(listed)]

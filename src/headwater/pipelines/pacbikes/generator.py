"""Synthetic source data for the ``pacbikes`` pipeline (seed 002).

PacBikes is an AdventureWorks-style bike shop: its sales database (people, employees and
salespeople, stores and customers, products whose standard cost and list price change over
time, sales territories, ship methods, currency rates, special offers, shopping carts, orders
with their lines and sales reasons, quota and territory history) and a currency REST API.

- The 18 tables are declared once (``SOURCE``) with AdventureWorks' keys, composite where the
  original has them, and ``modifieddate`` as every table's cursor. Several foreign keys are
  nullable as in the original (a store customer has no person, an individual no store, an
  online order no salesperson, a US order no currency rate, a sales manager no territory).
- ``generate`` writes ``HISTORY_DAYS`` of orders ending at ``as_of``; ``advance`` adds the orders
  placed since the newest moment in the source, changes the standard cost and list price of
  some products (orders after the change pay the new price), adds the days' currency rates
  and a revised quota for every salesperson with a territory.
- The currency API (``serve``) is a real JSON API on 127.0.0.1 (the toolkit's
  :mod:`headwater.synthetic.api_server`): pages, ``modified_since``, a bearer token and
  deliberate 429/503 answers on request. Its records are a function of the source's timeline
  (:func:`currency_records`): the currencies in use exist from the reference moment on, more
  are listed as time passes, so an advance gives the API new records too.

Rows are computed set-based in an in-memory DuckDB; draws are ``hash(key, seed, salt)``. Money
has two decimals and line totals are rounded per line, so sums are exact in any engine.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from headwater import duck
from headwater.synthetic import Run, SqlSourceGenerator, Target, as_datetime, declare, stream_of
from headwater.synthetic import count as _count
from headwater.synthetic import lit as _lit
from headwater.synthetic import ts as _ts
from headwater.synthetic.sqltext import create_uniform

SOURCE = declare(
    """
    person key(businessentityid) cursor(modifieddate)
        businessentityid bigint, persontype varchar(2), firstname varchar(50),
        middlename varchar(50) null, lastname varchar(50), modifieddate timestamp
    employee key(businessentityid) cursor(modifieddate)
        businessentityid bigint, jobtitle varchar(50), hiredate date, modifieddate timestamp
    salesterritory key(territoryid) cursor(modifieddate)
        territoryid integer, name varchar(50), countryregioncode varchar(3),
        territorygroup varchar(50), modifieddate timestamp
    salesperson key(businessentityid) cursor(modifieddate)
        businessentityid bigint, territoryid integer null, salesquota numeric(14,2) null,
        bonus numeric(14,2), commissionpct numeric(6,4), modifieddate timestamp
    store key(businessentityid) cursor(modifieddate) index(salespersonid)
        businessentityid bigint, name varchar(80), salespersonid bigint null, modifieddate timestamp
    customer key(customerid) cursor(modifieddate)
        customerid bigint, personid bigint null, storeid bigint null, territoryid integer,
        accountnumber varchar(10), modifieddate timestamp
    product key(productid) cursor(modifieddate)
        productid bigint, name varchar(80), productnumber varchar(25), productline varchar(2) null,
        color varchar(15) null, standardcost numeric(12,2), listprice numeric(12,2),
        sellstartdate timestamp, modifieddate timestamp
    shipmethod key(shipmethodid) cursor(modifieddate)
        shipmethodid integer, name varchar(50), shipbase numeric(10,2), shiprate numeric(10,2),
        modifieddate timestamp
    currencyrate key(currencyrateid) cursor(modifieddate)
        currencyrateid bigint, currencyratedate timestamp, fromcurrencycode varchar(3),
        tocurrencycode varchar(3), averagerate numeric(12,4), endofdayrate numeric(12,4),
        modifieddate timestamp
    salesreason key(salesreasonid) cursor(modifieddate)
        salesreasonid integer, name varchar(50), reasontype varchar(50), modifieddate timestamp
    specialoffer key(specialofferid) cursor(modifieddate)
        specialofferid integer, description varchar(255), discountpct numeric(6,4),
        type varchar(50), category varchar(50), startdate timestamp, enddate timestamp,
        minqty integer, maxqty integer null, modifieddate timestamp
    specialofferproduct key(specialofferid, productid) cursor(modifieddate)
        specialofferid integer, productid bigint, modifieddate timestamp
    shoppingcartitem key(shoppingcartitemid) cursor(modifieddate)
        shoppingcartitemid bigint, shoppingcartid varchar(50), quantity integer, productid bigint,
        datecreated timestamp, modifieddate timestamp
    salesorderheader key(salesorderid) cursor(modifieddate) index(customerid)
        salesorderid bigint, revisionnumber integer, orderdate timestamp, duedate timestamp,
        shipdate timestamp null, status integer, onlineorderflag boolean, customerid bigint,
        salespersonid bigint null, territoryid integer, shipmethodid integer,
        currencyrateid bigint null, subtotal numeric(14,2), taxamt numeric(14,2),
        freight numeric(14,2), totaldue numeric(14,2), modifieddate timestamp
    salesorderdetail key(salesorderid, salesorderdetailid) cursor(modifieddate) index(productid)
        salesorderid bigint, salesorderdetailid bigint, carriertrackingnumber varchar(25) null,
        orderqty integer, productid bigint, specialofferid integer, unitprice numeric(12,2),
        unitpricediscount numeric(6,4), linetotal numeric(14,2), modifieddate timestamp
    salesorderheadersalesreason key(salesorderid, salesreasonid) cursor(modifieddate)
        salesorderid bigint, salesreasonid integer, modifieddate timestamp
    salespersonquotahistory key(businessentityid, quotadate) cursor(modifieddate)
        businessentityid bigint, quotadate timestamp, salesquota numeric(14,2), modifieddate timestamp
    salesterritoryhistory key(businessentityid, startdate, territoryid) cursor(modifieddate)
        businessentityid bigint, territoryid integer, startdate timestamp, enddate timestamp null,
        modifieddate timestamp
    """
)
TABLES: tuple[str, ...] = SOURCE.names
CURSOR = "modifieddate"

HISTORY_DAYS = 180
"""Orders are placed from midnight this many days before as_of up to as_of."""
REFERENCE_DAYS = 30
"""Reference rows (territories, products, people, ...) date from this many days before the history."""
ORDERS_PER_SCALE = 3_000
SHIP_DAYS = 7
"""An order ships this many days after it is placed (status 5); younger ones are in process (1)."""
TAX_RATE = 0.08
FREIGHT_RATE = 0.025

# id, name, country, group, currency (USD orders carry no currency rate, as in AdventureWorks)
_TERRITORIES = (
    (1, "Northwest", "US", "North America", "USD"),
    (2, "Northeast", "US", "North America", "USD"),
    (3, "Central", "US", "North America", "USD"),
    (4, "Southwest", "US", "North America", "USD"),
    (5, "Southeast", "US", "North America", "USD"),
    (6, "Canada", "CA", "North America", "CAD"),
    (7, "France", "FR", "Europe", "EUR"),
    (8, "Germany", "DE", "Europe", "EUR"),
    (9, "Australia", "AU", "Pacific", "AUD"),
    (10, "United Kingdom", "GB", "Europe", "GBP"),
)
# USD -> currency, the mean rate the daily rates move around
_RATES = {"CAD": 1.36, "EUR": 0.92, "GBP": 0.79, "AUD": 1.52}
_SHIP_METHODS = (
    (1, "XRQ - TRUCK GROUND", 3.95, 0.99),
    (2, "ZY - EXPRESS", 9.95, 1.99),
    (3, "OVERSEAS - DELUXE", 29.95, 2.99),
    (4, "OVERNIGHT J-FAST", 21.95, 1.29),
    (5, "CARGO TRANSPORT 5", 8.99, 1.49),
)
_REASONS = (
    (1, "Price", "Other"), (2, "On Promotion", "Promotion"), (3, "Magazine Advertisement", "Marketing"),
    (4, "Television  Advertisement", "Marketing"), (5, "Manufacturer", "Other"), (6, "Review", "Other"),
    (7, "Demo Event", "Marketing"), (8, "Sponsorship", "Marketing"), (9, "Quality", "Other"),
    (10, "Other", "Other"),
)  # fmt: skip
# id, description, discount, type, category, min qty, max qty
_OFFERS = (
    (1, "No Discount", 0.0, "No Discount", "No Discount", 0, None),
    (2, "Volume Discount 11 to 14", 0.02, "Volume Discount", "Reseller", 11, 14),
    (3, "Volume Discount 15 to 24", 0.05, "Volume Discount", "Reseller", 15, 24),
    (4, "Mountain-100 Clearance Sale", 0.35, "Discontinued Product", "Reseller", 0, None),
    (5, "Sport Helmet Discount", 0.10, "Seasonal Discount", "Reseller", 0, None),
    (6, "Touring-3000 Promotion", 0.15, "New Product", "Customer", 0, None),
)
# product family, product line, number prefix, base standard cost
_FAMILIES = (
    ("Road", "R", "BK-R", 420.0), ("Mountain", "M", "BK-M", 510.0), ("Touring", "T", "BK-T", 460.0),
    ("Sport-100 Helmet", None, "HL-U", 13.0), ("Long-Sleeve Logo Jersey", "S", "LJ-0", 38.0),
    ("Water Bottle", "S", "WB-H", 1.9), ("Mountain Bike Socks", "M", "SO-B", 3.4),
    ("HL Road Tire", "R", "TI-R", 12.2), ("Hydration Pack", "S", "HY-1", 21.0),
)  # fmt: skip
_COLORS = ("Black", "Red", "Silver", "Blue", "Yellow")
_FIRST = (
    "Ana", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Ines", "Jon", "Kim",
    "Linda", "Marco", "Nora", "Omar", "Paula", "Quinn", "Rosa", "Sam", "Tara",
)  # fmt: skip
_LAST = (
    "Abel", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Khan", "Lopez", "Martin", "Nguyen", "Olsen", "Patel", "Rossi", "Smith", "Tanaka", "Weber",
)  # fmt: skip
_STORE_WORDS = ("Bike", "Cycle", "Wheel", "Pedal", "Sport", "Trail", "Road", "Mountain", "City", "Spoke")
_STORE_KINDS = ("Shop", "Store", "Outlet", "Supply", "Emporium", "Works", "Depot", "Center")
N_EMPLOYEES = 25
"""Ids 1-8 are office staff, 9-11 sales managers (no territory), 12-25 salespeople."""
_MANAGERS = (9, 10, 11)
_SALES_TITLES = {9: "North American Sales Manager", 10: "European Sales Manager", 11: "Pacific Sales Manager"}
STORE_BASE = 1_000
PERSON_BASE = 20_000
PRODUCT_BASE = 700
ORDER_BASE = 43_658
"""salesorderid = ORDER_BASE + n, as AdventureWorks' first order is 43659."""

# The currency API: code and name. The ones rates use exist from the reference moment on; the
# others are listed one every LISTING_HOURS from the end of the generated history on.
CURRENCIES = (
    ("USD", "US Dollar"), ("CAD", "Canadian Dollar"), ("EUR", "Euro"), ("GBP", "United Kingdom Pound"),
    ("AUD", "Australian Dollar"), ("JPY", "Yen"), ("CHF", "Swiss Franc"), ("CNY", "Yuan Renminbi"),
    ("MXN", "Mexican Peso"), ("BRL", "Brazilian Real"), ("SEK", "Swedish Krona"), ("NOK", "Norwegian Krone"),
    ("DKK", "Danish Krone"), ("INR", "Indian Rupee"), ("ZAR", "Rand"), ("NZD", "New Zealand Dollar"),
    ("SGD", "Singapore Dollar"), ("HKD", "Hong Kong Dollar"), ("KRW", "Won"), ("PLN", "Zloty"),
    ("CZK", "Czech Koruna"), ("HUF", "Forint"), ("TRY", "New Turkish Lira"), ("ILS", "New Israeli Shekel"),
    ("THB", "Baht"), ("ARS", "Argentine Peso"), ("CLP", "Chilean Peso"), ("SAR", "Saudi Riyal"),
    ("AED", "Emirati Dirham"), ("RUB", "Russian Ruble"),
)  # fmt: skip
_IN_USE = ("USD", *_RATES)
LISTING_HOURS = 12
API_RESOURCE = "currency"


@dataclass(frozen=True)
class _State:
    orders: int
    max_order: int
    max_detail: int
    max_rate: int
    products: int
    newest: datetime


class PacBikesGenerator(SqlSourceGenerator):
    """``generate``: ``scale`` 1 is 3,000 orders (about 7,500 lines) over 180 days, 100
    products, 60 stores and 1,500 individual customers. ``advance``: ``new_fraction`` x the
    existing orders are placed after the newest moment in the source; ``update_fraction`` x the
    products (at least one) get a new standard cost and list price one third into the period,
    which the later new orders pay; the period's daily currency rates and one revised quota per
    salesperson with a territory (dated ``as_of``) are added."""

    pipeline = "pacbikes"
    source = SOURCE
    updates = declare(
        """
        product key(productid)
            productid bigint, standardcost numeric(12,2), listprice numeric(12,2), modifieddate timestamp
        """
    )
    inserts = (
        "currencyrate",
        "salesorderheader",
        "salesorderdetail",
        "salesorderheadersalesreason",
        "salespersonquotahistory",
    )
    new_fraction = 0.03
    update_fraction = 0.1
    max_scale = 1_000.0

    def build(self, con: Any, run: Run) -> None:
        start = _midnight(run.as_of - timedelta(days=HISTORY_DAYS))
        ref = start - timedelta(days=REFERENCE_DAYS)
        create_uniform(con, "u", run.seed)  # reference data does not depend on as_of
        _reference(con, ref)
        _people(con, run.scale, ref)
        _products(con, run.scale, ref)
        _rates(con, start.date(), run.as_of, first_id=1)
        con.execute(
            """CREATE OR REPLACE TEMP TABLE prod AS
            SELECT productid, listprice AS price_before, listprice AS price_after,
                NULL::TIMESTAMP AS change_at FROM out_product"""
        )
        _customers_for_orders(con, "out_customer", "out_store")
        create_uniform(con, "u2", run.seed, stream_of(run.as_of))
        n_orders = max(50, round(ORDERS_PER_SCALE * run.scale))
        _orders(
            con, n_orders, start, run.as_of, order_base=ORDER_BASE, detail_base=0, rates="out_currencyrate"
        )
        _quota_history(con, start, run.as_of)
        _carts(con, run.scale, run.as_of)

    def read_state(self, target: Target) -> _State:
        row, newest = target.newest_and(
            SOURCE,
            [
                f"(SELECT count(*) FROM {target.table('salesorderheader')})",
                f"(SELECT max(salesorderid) FROM {target.table('salesorderheader')})",
                f"(SELECT max(salesorderdetailid) FROM {target.table('salesorderdetail')})",
                f"(SELECT max(currencyrateid) FROM {target.table('currencyrate')})",
                f"(SELECT count(*) FROM {target.table('product')})",
            ],
        )
        if not row[0] or newest is None:
            raise target.empty_error("salesorderheader")
        orders, max_order, max_detail, max_rate, products = (int(v or 0) for v in row)
        return _State(orders, max_order, max_detail, max_rate, products, newest)

    def build_changes(self, con: Any, run: Run, state: _State) -> dict[str, int]:
        lo, hi = state.newest, run.as_of
        create_uniform(con, "u", run.seed)
        create_uniform(con, "u2", run.seed, stream_of(hi))
        change_at = lo + max(timedelta(seconds=1), (hi - lo) / 3)
        change_at = change_at.replace(microsecond=0)
        n_changed = max(1, round(run.update_fraction * state.products))
        src = lambda t: run.target.duck_table("src", t)  # noqa: E731
        # The products whose price changes: the first n by a draw, new cost 3-12% higher, the
        # list price keeping the product's markup.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE upd_product AS
            WITH ranked AS (
                SELECT productid, standardcost, listprice,
                    row_number() OVER (ORDER BY u2(productid, 0, 'chg'), productid) AS r
                FROM {src("product")}
            ),
            chosen AS (
                SELECT productid, standardcost, listprice,
                    round(standardcost * (1.03 + 0.09 * u2(productid, 0, 'pct')), 2) AS new_cost
                FROM ranked WHERE r <= {n_changed}
            )
            SELECT productid, new_cost::DECIMAL(12,2) AS standardcost,
                round(new_cost * listprice / standardcost, 2)::DECIMAL(12,2) AS listprice,
                {_ts(change_at)} AS modifieddate
            FROM chosen
            """
        )
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE prod AS
            SELECT p.productid, p.listprice AS price_before,
                coalesce(c.listprice, p.listprice) AS price_after,
                c.modifieddate AS change_at
            FROM {src("product")} AS p LEFT JOIN upd_product AS c USING (productid)"""
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE out_specialofferproduct AS "
            f"SELECT * FROM {src('specialofferproduct')}"
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE out_specialoffer AS SELECT * FROM {src('specialoffer')}")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE out_salesterritory AS SELECT * FROM {src('salesterritory')}"
        )
        _customers_for_orders(con, src("customer"), src("store"))
        last_rate_day = as_datetime(
            duck.scalar(con, f"SELECT max(currencyratedate) FROM {src('currencyrate')}")
        ).date()
        _rates(con, last_rate_day + timedelta(days=1), hi, first_id=state.max_rate + 1)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE rates_all AS
            SELECT currencyrateid, currencyratedate, tocurrencycode FROM {src("currencyrate")}
            UNION ALL SELECT currencyrateid, currencyratedate, tocurrencycode FROM out_currencyrate"""
        )
        n_new = round(run.new_fraction * state.orders)
        _orders(
            con, n_new, lo, hi, order_base=state.max_order, detail_base=state.max_detail, rates="rates_all"
        )
        # One revised quota per salesperson with a territory, dated as_of.
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE out_salespersonquotahistory AS
            SELECT businessentityid, {_ts(hi)} AS quotadate,
                (round(salesquota * (0.9 + 0.25 * u2(businessentityid, 0, 'quota')), -3))::DECIMAL(14,2)
                    AS salesquota,
                {_ts(hi)} AS modifieddate
            FROM {src("salesperson")} WHERE territoryid IS NOT NULL
            """
        )
        return {
            "new_orders": _count(con, "out_salesorderheader"),
            "new_order_lines": _count(con, "out_salesorderdetail"),
            "changed_products": _count(con, "upd_product"),
            "new_currency_rates": _count(con, "out_currencyrate"),
            "new_quotas": _count(con, "out_salespersonquotahistory"),
        }


GENERATOR = PacBikesGenerator()
generate = GENERATOR.generate
advance = GENERATOR.advance


# --------------------------------------------------------------------------------------------
# the currency API


def currency_records(url: str, schema: str | None = "pacbikes") -> list[dict[str, Any]]:
    """What the currency API lists while the source at ``url`` is as it is now.

    The currencies in use exist from the reference moment (the ship methods' modifieddate) on;
    the others are listed one every ``LISTING_HOURS`` from the end of the generated history on,
    as far as the newest moment in the source."""
    target = Target.from_url(url, schema or "pacbikes", "pacbikes")
    row, newest = target.newest_and(SOURCE, [f"(SELECT min(modifieddate) FROM {target.table('shipmethod')})"])
    if row[0] is None or newest is None:
        raise target.empty_error("shipmethod")
    ref = as_datetime(row[0])
    listed_from = ref + timedelta(days=REFERENCE_DAYS + HISTORY_DAYS)
    records = []
    later = 0
    for code, name in CURRENCIES:
        if code in _IN_USE:
            moment = ref
        else:
            later += 1
            moment = listed_from + timedelta(hours=LISTING_HOURS * later)
        if moment <= newest:
            records.append({"currencycode": code, "name": name, "modifieddate": moment.isoformat()})
    return records


@dataclass(frozen=True)
class FixtureService:
    """A source a pipeline's demo or test serves itself: where it listens, its token."""

    url: str
    token: str | None = None
    served: Mapping[int, int] = field(default_factory=dict)
    """Answers so far by HTTP status (live: tests read what the API did)."""


@contextmanager
def serve(url: str, *, schema: str | None = None, **options: Any) -> Iterator[dict[str, FixtureService]]:
    """The currency API for the source at ``url``, on 127.0.0.1 until the block ends.

    Yields the pipeline's HTTP sources by name. ``options`` go to the API fixture
    (``failure_rate``, ``max_failures_in_a_row``, ``failure_status``, ...); the bearer token is
    new for every call and never written anywhere but the process environment.
    """
    import json

    from headwater.synthetic import api_server

    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="pacbikes-api-") as folder:
        records = currency_records(url, schema)
        (Path(folder) / f"{API_RESOURCE}.json").write_text(json.dumps(records), encoding="utf-8")
        options.setdefault("modified_field", "modifieddate")
        with api_server.serve(folder, token=token, **options) as api:
            yield {"currency": FixtureService(api.url + "/", token, api.config.served)}


# --------------------------------------------------------------------------------------------
# DuckDB: the row builders


def _midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _values(rows: Any) -> str:
    def one(v: Any) -> str:
        return "NULL" if v is None else _lit(v)

    return "VALUES " + ", ".join("(" + ", ".join(one(v) for v in r) + ")" for r in rows)


def _reference(con: Any, ref: datetime) -> None:
    """Territories, ship methods, sales reasons and special offers: constants dated ``ref``."""
    r = _ts(ref)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesterritory AS
        SELECT t.*, c.currency, {r} AS modifieddate
        FROM ({_values((i, n, cc, g) for i, n, cc, g, _ in _TERRITORIES)})
            AS t(territoryid, name, countryregioncode, territorygroup)
        JOIN ({_values((i, cur) for i, *_, cur in _TERRITORIES)}) AS c(territoryid, currency)
            USING (territoryid)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_shipmethod AS
        SELECT *, {r} AS modifieddate
        FROM ({_values(_SHIP_METHODS)}) AS t(shipmethodid, name, shipbase, shiprate)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesreason AS
        SELECT *, {r} AS modifieddate FROM ({_values(_REASONS)}) AS t(salesreasonid, name, reasontype)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_specialoffer AS
        SELECT specialofferid, description, discountpct::DECIMAL(6,4) AS discountpct, type, category,
            {r} AS startdate, {r} + INTERVAL 3 YEAR AS enddate, minqty, maxqty::INTEGER AS maxqty,
            {r} AS modifieddate
        FROM ({_values(_OFFERS)})
            AS t(specialofferid, description, discountpct, type, category, minqty, maxqty)"""
    )


def _people(con: Any, scale: float, ref: datetime) -> None:
    """Employees (staff, managers, salespeople), stores, individual customers and customers."""
    r = _ts(ref)
    first, last = _list_sql(_FIRST), _list_sql(_LAST)
    n_stores = max(5, round(60 * scale))
    n_individuals = max(20, round(1_500 * scale))
    titles = " ".join(f"WHEN {k} THEN {_lit(v)}" for k, v in _SALES_TITLES.items())
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_employee AS
        SELECT range AS businessentityid,
            CASE WHEN range <= 8 THEN 'Production Technician' {titles} ELSE 'Sales Representative' END
                AS jobtitle,
            ({r} - to_days((200 + floor(u(range, 0, 'hire') * 2000))::INTEGER))::DATE AS hiredate,
            {r} AS modifieddate
        FROM range(1, {N_EMPLOYEES + 1})"""
    )
    # Persons: employees (EM, SP for sales staff) and individual customers (IN).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_person AS
        WITH ids AS (
            SELECT range AS id, CASE WHEN range >= {min(_MANAGERS)} THEN 'SP' ELSE 'EM' END AS persontype
            FROM range(1, {N_EMPLOYEES + 1})
            UNION ALL
            SELECT {PERSON_BASE} + range, 'IN' FROM range(1, {n_individuals + 1})
        )
        SELECT id AS businessentityid, persontype,
            {first}[1 + floor(u(id, 0, 'first') * {len(_FIRST)})::INTEGER] AS firstname,
            CASE WHEN u(id, 0, 'mid') < 0.4
                THEN chr(65 + floor(u(id, 0, 'midl') * 26)::INTEGER) || '.' END AS middlename,
            {last}[1 + floor(u(id, 0, 'last') * {len(_LAST)})::INTEGER] AS lastname,
            {r} AS modifieddate
        FROM ids"""
    )
    # Salespeople 12-25 cover the ten territories (ids 12-21 one each, then 22-25 double up);
    # the three managers have no territory (NULL, as in AdventureWorks).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesperson AS
        SELECT range AS businessentityid,
            CASE WHEN range >= 12 THEN ((range - 12) % 10 + 1)::INTEGER END AS territoryid,
            CASE WHEN range >= 12 THEN (250000 + 50000 * floor(u(range, 0, 'q') * 4))::DECIMAL(14,2) END
                AS salesquota,
            (round(u(range, 0, 'bonus') * 50) * 100)::DECIMAL(14,2) AS bonus,
            CASE WHEN range >= 12 THEN 0.010 + 0.005 * floor(u(range, 0, 'c') * 4) ELSE 0 END::DECIMAL(6,4)
                AS commissionpct,
            {r} AS modifieddate
        FROM range({min(_MANAGERS)}, {N_EMPLOYEES + 1})"""
    )
    words, kinds = _list_sql(_STORE_WORDS), _list_sql(_STORE_KINDS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_store AS
        SELECT {STORE_BASE} + range AS businessentityid,
            {words}[1 + floor(u(range, 0, 'w1') * {len(_STORE_WORDS)})::INTEGER] || ' '
                || {kinds}[1 + floor(u(range, 0, 'w2') * {len(_STORE_KINDS)})::INTEGER]
                || ' #' || range AS name,
            CASE WHEN u(range, 0, 'nosp') >= 0.08
                THEN 12 + floor(u(range, 0, 'sp') * 14)::BIGINT END AS salespersonid,
            {r} AS modifieddate
        FROM range(1, {n_stores + 1})"""
    )
    # Customers: stores first (no person), then individuals (no store). A store customer's
    # territory is its salesperson's; an individual's is drawn (the US is busiest).
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_customer AS
        WITH c AS (
            SELECT NULL::BIGINT AS personid, s.businessentityid AS storeid,
                coalesce(sp.territoryid, 1 + floor(u(s.businessentityid, 0, 'terr') * 10)::INTEGER)
                    AS territoryid
            FROM out_store AS s LEFT JOIN out_salesperson AS sp ON sp.businessentityid = s.salespersonid
            UNION ALL
            SELECT businessentityid, NULL::BIGINT,
                CASE WHEN u(businessentityid, 0, 'terr') < 0.55
                    THEN 1 + floor(u(businessentityid, 0, 'us') * 5)::INTEGER
                    ELSE 6 + floor(u(businessentityid, 0, 'intl') * 5)::INTEGER END
            FROM out_person WHERE persontype = 'IN'
        )
        SELECT row_number() OVER (ORDER BY storeid NULLS LAST, personid) AS customerid,
            personid, storeid, territoryid::INTEGER AS territoryid,
            'AW' || lpad(CAST(row_number() OVER (ORDER BY storeid NULLS LAST, personid) AS VARCHAR), 8, '0')
                AS accountnumber,
            {r} AS modifieddate
        FROM c"""
    )
    # Two salespeople moved territory at the reference moment: their earlier row is closed.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesterritoryhistory AS
        SELECT businessentityid, territoryid, {r} AS startdate, NULL::TIMESTAMP AS enddate,
            {r} AS modifieddate
        FROM out_salesperson WHERE territoryid IS NOT NULL
        UNION ALL
        SELECT businessentityid, (territoryid % 10 + 1)::INTEGER, {r} - INTERVAL 400 DAY, {r}, {r}
        FROM out_salesperson WHERE businessentityid IN (12, 13)"""
    )


def _list_sql(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _products(con: Any, scale: float, ref: datetime) -> None:
    """Products of the families above; cost drawn around the family's, list price 1.6-2.2x it.
    Every product has offer 1 (no discount) and the volume discounts 2 and 3; about a third
    also one promotion (4-6)."""
    r = _ts(ref)
    n = max(20, round(100 * scale))
    fam = _values((i + 1, *f) for i, f in enumerate(_FAMILIES))
    colors = _list_sql(_COLORS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_product AS
        WITH p AS (
            SELECT {PRODUCT_BASE} + range AS productid, 1 + range % {len(_FAMILIES)} AS fam,
                CASE WHEN u(range, 0, 'col') < 0.8
                    THEN {colors}[1 + floor(u(range, 0, 'c') * {len(_COLORS)})::INTEGER] END AS color,
                38 + 2 * floor(u(range, 0, 'size') * 10)::INTEGER AS size
            FROM range(1, {n + 1})
        ),
        f AS (SELECT * FROM ({fam}) AS f(fam, family, productline, prefix, cost))
        SELECT productid, family || coalesce(', ' || color, '') || ', ' || size || ' #' || productid AS name,
            prefix || '-' || productid || '-' || size AS productnumber, productline, color,
            round(cost * (0.7 + 0.6 * u(productid, 0, 'cost')), 2)::DECIMAL(12,2) AS standardcost,
            round(round(cost * (0.7 + 0.6 * u(productid, 0, 'cost')), 2)
                  * (1.6 + 0.6 * u(productid, 0, 'markup')), 2)::DECIMAL(12,2) AS listprice,
            {r} - INTERVAL 300 DAY AS sellstartdate,
            {r} AS modifieddate
        FROM p JOIN f USING (fam)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_specialofferproduct AS
        SELECT o.specialofferid, productid, {r} AS modifieddate
        FROM out_product CROSS JOIN (VALUES (1), (2), (3)) AS o(specialofferid)
        UNION ALL
        SELECT 4 + floor(u(productid, 0, 'offer') * 3)::INTEGER, productid, {r}
        FROM out_product WHERE u(productid, 0, 'has_offer') < 0.35"""
    )


def _rates(con: Any, first_day: Any, until: datetime, first_id: int) -> None:
    """``out_currencyrate``: one USD rate per currency and day from ``first_day`` to ``until``'s
    day, published at that day's midnight (so never after ``until``)."""
    codes = _values((c, m) for c, m in _RATES.items())
    days = (until.date() - first_day).days + 1
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_currencyrate AS
        WITH d AS (
            SELECT DATE '{first_day:%Y-%m-%d}' + range::INTEGER AS day FROM range({max(0, days)})
        ),
        x AS (
            SELECT d.day::TIMESTAMP AS currencyratedate, c.code, c.mean,
                c.mean * (1 + 0.03 * sin(epoch(d.day::TIMESTAMP) / 86400 / 30.0)
                          + 0.01 * (u(epoch(d.day::TIMESTAMP)::BIGINT, hash(c.code), 'rate') - 0.5))
                    AS avg_rate
            FROM d CROSS JOIN ({codes}) AS c(code, mean)
        )
        SELECT {first_id - 1} + row_number() OVER (ORDER BY currencyratedate, code) AS currencyrateid,
            currencyratedate, 'USD' AS fromcurrencycode, code AS tocurrencycode,
            round(avg_rate, 4)::DECIMAL(12,4) AS averagerate,
            round(avg_rate * (1 + 0.004 * (u(epoch(currencyratedate)::BIGINT, hash(code), 'eod') - 0.5)), 4)
                ::DECIMAL(12,4) AS endofdayrate,
            currencyratedate AS modifieddate
        FROM x"""
    )


def _customers_for_orders(con: Any, customer: str, store: str) -> None:
    """``cust``: customers with what an order inherits (territory, currency, salesperson)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cust AS
        SELECT row_number() OVER (ORDER BY c.customerid) - 1 AS idx, c.customerid, c.territoryid,
            c.storeid IS NOT NULL AS is_store, s.salespersonid, t.currency
        FROM {customer} AS c
        LEFT JOIN {store} AS s ON s.businessentityid = c.storeid
        LEFT JOIN ({_values((i, cur) for i, *_, cur in _TERRITORIES)}) AS t(territoryid, currency)
            USING (territoryid)"""
    )


def _orders(
    con: Any, n: int, lo: datetime, hi: datetime, *, order_base: int, detail_base: int, rates: str
) -> None:
    """``out_salesorderheader``/``detail``/``headersalesreason``: ``n`` orders placed in
    (``lo``, ``hi``], each paying its products' list price at the order moment (``prod``)."""
    span = max(1, int((hi - lo).total_seconds()))
    n_cust = int(duck.scalar(con, "SELECT count(*) FROM cust"))
    n_prod = int(duck.scalar(con, "SELECT count(*) FROM prod"))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE o AS
        WITH k AS (
            SELECT range AS k,
                {_ts(lo)} + to_seconds((1 + floor(u2(range, 0, 't') * {span}))::BIGINT) AS orderdate,
                floor(u2(range, 0, 'cust') * {n_cust})::BIGINT AS cidx
            FROM range({n})
        )
        SELECT {order_base} + row_number() OVER (ORDER BY orderdate, k) AS salesorderid, k.orderdate,
            cust.*
        FROM k JOIN cust ON cust.idx = k.cidx"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE ol AS
        WITH lines AS (
            SELECT o.*, unnest(range(1 + floor(u2(salesorderid, 0, 'n')
                * CASE WHEN is_store THEN 5 ELSE 3 END)::INTEGER)) AS line
            FROM o
        ),
        p AS (SELECT row_number() OVER (ORDER BY productid) - 1 AS pidx, * FROM prod)
        SELECT lines.salesorderid, lines.line, lines.orderdate, lines.is_store, p.productid,
            (1 + floor(u2(salesorderid, line, 'qty') * CASE WHEN is_store THEN 20 ELSE 2 END))::INTEGER
                AS orderqty,
            CASE WHEN p.change_at IS NOT NULL AND lines.orderdate >= p.change_at
                THEN p.price_after ELSE p.price_before END AS unitprice
        FROM lines JOIN p ON p.pidx = floor(u2(salesorderid, line, 'prod') * {n_prod})::BIGINT"""
    )
    # The offer: a product's promotion for a third of its lines, else a volume discount
    # for store lines of 11+ units, else none.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesorderdetail AS
        WITH promo AS (
            SELECT productid, min(specialofferid) AS offer
            FROM out_specialofferproduct WHERE specialofferid >= 4 GROUP BY 1
        ),
        chosen AS (
            SELECT ol.*,
                CASE WHEN promo.offer IS NOT NULL AND u2(salesorderid, line, 'promo') < 0.33 THEN promo.offer
                     WHEN is_store AND orderqty BETWEEN 15 AND 24 THEN 3
                     WHEN is_store AND orderqty BETWEEN 11 AND 14 THEN 2
                     ELSE 1 END AS specialofferid
            FROM ol LEFT JOIN promo USING (productid)
        )
        SELECT salesorderid,
            {detail_base} + row_number() OVER (ORDER BY salesorderid, line) AS salesorderdetailid,
            CASE WHEN is_store THEN printf('%04X-%04X-%02X', salesorderid % 65536,
                floor(u2(salesorderid, 0, 'trk') * 65536)::INTEGER, line) END AS carriertrackingnumber,
            orderqty, productid, specialofferid::INTEGER AS specialofferid,
            unitprice::DECIMAL(12,2) AS unitprice,
            so.discountpct::DECIMAL(6,4) AS unitpricediscount,
            round(orderqty * unitprice * (1 - so.discountpct), 2)::DECIMAL(14,2) AS linetotal,
            orderdate AS modifieddate
        FROM chosen JOIN out_specialoffer AS so USING (specialofferid)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesorderheader AS
        WITH totals AS (
            SELECT salesorderid, sum(linetotal) AS subtotal FROM out_salesorderdetail GROUP BY 1
        ),
        h AS (
            SELECT o.*, totals.subtotal,
                round(totals.subtotal * {TAX_RATE}, 2) AS taxamt,
                round(totals.subtotal * {FREIGHT_RATE}, 2) AS freight,
                rates.currencyrateid
            FROM o JOIN totals USING (salesorderid)
            LEFT JOIN {rates} AS rates
                ON rates.currencyratedate = date_trunc('day', o.orderdate)
                AND rates.tocurrencycode = o.currency
        )
        SELECT salesorderid, 1 + (u2(salesorderid, 0, 'rev') < 0.1)::INTEGER AS revisionnumber, orderdate,
            orderdate + INTERVAL 12 DAY AS duedate,
            CASE WHEN orderdate <= {_ts(hi)} - INTERVAL {SHIP_DAYS} DAY
                THEN orderdate + INTERVAL {SHIP_DAYS} DAY END AS shipdate,
            CASE WHEN orderdate <= {_ts(hi)} - INTERVAL {SHIP_DAYS} DAY THEN 5 ELSE 1 END AS status,
            NOT is_store AS onlineorderflag, customerid,
            CASE WHEN is_store THEN salespersonid END AS salespersonid, territoryid,
            CASE WHEN is_store THEN 5 ELSE 1 + floor(u2(salesorderid, 0, 'ship') * 4)::INTEGER END
                AS shipmethodid,
            currencyrateid,
            subtotal::DECIMAL(14,2) AS subtotal, taxamt::DECIMAL(14,2) AS taxamt,
            freight::DECIMAL(14,2) AS freight, (subtotal + taxamt + freight)::DECIMAL(14,2) AS totaldue,
            orderdate AS modifieddate
        FROM h"""
    )
    # Online orders say why the customer bought (one or two reasons); store orders do not.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salesorderheadersalesreason AS
        WITH first AS (
            SELECT salesorderid, orderdate,
                1 + floor(u2(salesorderid, 0, 'why') * {len(_REASONS)})::INTEGER AS r1,
                u2(salesorderid, 0, 'why2') < 0.4 AS two
            FROM o WHERE NOT is_store
        )
        SELECT salesorderid, r1 AS salesreasonid, orderdate AS modifieddate FROM first
        UNION ALL
        SELECT salesorderid, (r1 % {len(_REASONS)} + 1)::INTEGER, orderdate FROM first WHERE two"""
    )


def _quota_history(con: Any, start: datetime, as_of: datetime) -> None:
    """A quota per salesperson with a territory at every quarter start of the history."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_salespersonquotahistory AS
        WITH q AS (
            SELECT unnest(generate_series(date_trunc('quarter', {_ts(start)}), {_ts(as_of)},
                INTERVAL 3 MONTH))::TIMESTAMP AS quotadate
        )
        SELECT sp.businessentityid, q.quotadate,
            (round(sp.salesquota * (0.8 + 0.4 * u(sp.businessentityid, epoch(q.quotadate)::BIGINT, 'q')), -3))
                ::DECIMAL(14,2) AS salesquota,
            greatest(q.quotadate, {_ts(start)}) AS modifieddate
        FROM out_salesperson AS sp CROSS JOIN q
        WHERE sp.territoryid IS NOT NULL"""
    )


def _carts(con: Any, scale: float, as_of: datetime) -> None:
    """Open shopping carts of the last three days."""
    n = max(3, round(30 * scale))
    n_prod = int(duck.scalar(con, "SELECT count(*) FROM out_product"))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE out_shoppingcartitem AS
        WITH c AS (
            SELECT range AS id,
                {_ts(as_of)} - to_seconds(floor(u2(range, 0, 'cart') * 3 * 86400)::BIGINT) AS created
            FROM range(1, {n + 1})
        )
        SELECT id AS shoppingcartitemid, CAST(20_000 + id // 2 AS VARCHAR) AS shoppingcartid,
            (1 + floor(u2(id, 0, 'q') * 3))::INTEGER AS quantity,
            {PRODUCT_BASE} + 1 + floor(u2(id, 0, 'p') * {n_prod})::BIGINT AS productid,
            created AS datecreated, created AS modifieddate
        FROM c"""
    )

"""Synthetic sources for the ``b2b_commerce`` pipeline (seed 001): an app database and two drops.

A B2B marketplace: buyer companies whose staff (customers) order products sold by supplier
companies; every order has line items and one invoice. Beside the application database the
marketing team delivers a leads workbook (XLSX) and the web servers write access logs.

- **App database** (SQLite by default, a Postgres schema by URL): declared once in ``SOURCE``;
  built set-based in DuckDB like every SQL generator (:class:`SqlSourceGenerator`).
- **Leads** (``leads/leads_<as_of>.xlsx``, one new workbook per delivery): about half of the
  orders came through a campaign, with the lead's first contact some days before the order;
  some leads never ordered.
- **Access logs** (``logs/access_<as_of>.log``, one new file per delivery, combined format):
  each order's session (login, the products' pages, the cart, the checkout), sessions that
  bought nothing and anonymous product views, from IPs inside the country ranges of the
  customer's country; a few from IPs in no range, a few over IPv6, a few broken lines.

The files are written from the database just written (attached to DuckDB), so the leads name
real orders and the logs real users and products. A pipeline with several sources gets the
URLs of its other sources as ``other_sources`` (``{"leads": url, "weblogs": url}``); without
them only the database is written. ``advance`` adds new orders with their line items and
invoices, moves order statuses on, reprices a few products, and writes one new workbook and
one new log file covering the time since the last delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from headwater import duck
from headwater.errors import SourceError
from headwater.synthetic import Run, SqlSourceGenerator, Target, declare, normalise_as_of, stream_of
from headwater.synthetic import count as _count
from headwater.synthetic import pick as _pick
from headwater.synthetic import sql_list as _list
from headwater.synthetic import ts as _ts
from headwater.synthetic.files import ACCESS_LOG_COLUMNS, write_access_log
from headwater.synthetic.folder import folder_of
from headwater.synthetic.sqltext import create_uniform
from headwater.synthetic.xlsx import Sheet, write_xlsx

ORDERS_PER_SCALE = 3_000
CUSTOMERS_PER_SCALE = 400
COMPANIES_PER_SCALE = 60
PRODUCTS_PER_SCALE = 150
HISTORY_DAYS = 400
"""More than a year, so that "revenue by month for the last 12 months" has 12 full months."""

SOURCE = declare(
    """
    country_codes key(start_ip) cursor(updated_at)
        start_ip varchar(15), end_ip varchar(15), code varchar(2), country_name varchar(64),
        updated_at timestamp
    company key(company_id) cursor(updated_at)
        company_id bigint, company_name varchar(128), is_supplier boolean, country_code varchar(2),
        created_at timestamp, updated_at timestamp
    suppliers key(supplier_id) cursor(updated_at) index(company_id)
        supplier_id bigint, company_id bigint, supplier_name varchar(128), rating integer,
        created_at timestamp, updated_at timestamp
    customers key(customer_id) cursor(updated_at) index(username)
        customer_id bigint, company_id bigint, first_name varchar(64), last_name varchar(64),
        dob date, email varchar(160), username varchar(64), country_code varchar(2),
        created_at timestamp, updated_at timestamp
    products key(product_id) cursor(updated_at)
        product_id bigint, product_name varchar(128), category varchar(32), price numeric(12,2),
        created_at timestamp, updated_at timestamp
    company_products key(company_id, product_id) cursor(updated_at)
        company_id bigint, product_id bigint, unit_price numeric(12,2), created_at timestamp,
        updated_at timestamp
    supplier_products key(supplier_id, product_id) cursor(updated_at)
        supplier_id bigint, product_id bigint, unit_price numeric(12,2), created_at timestamp,
        updated_at timestamp
    orders key(order_id) cursor(updated_at) index(customer_id)
        order_id bigint, customer_id bigint, supplier_id bigint, payment_status varchar(16),
        delivery_status varchar(16), created_at timestamp, updated_at timestamp
    invoice key(invoice_id) cursor(updated_at) index(order_id)
        invoice_id bigint, order_id bigint, buyer_id bigint, seller_id bigint,
        amount numeric(14,2), created_at timestamp, updated_at timestamp
    order_line_item key(line_item_id) cursor(updated_at) index(order_id)
        line_item_id bigint, order_id bigint, product_id bigint, no_of_items integer,
        unit_price numeric(12,2), final_amount numeric(14,2), created_at timestamp,
        updated_at timestamp
    """
)
TABLES: tuple[str, ...] = SOURCE.names

# --- business constants (every literal that reaches SQL comes from here) ---------------------

# (code, name, weight of customers, address ranges); the ranges are the same for every seed.
COUNTRIES = (
    ("DE", "Germany", 16, 4), ("FR", "France", 12, 3), ("GB", "United Kingdom", 11, 3),
    ("NL", "Netherlands", 7, 2), ("ES", "Spain", 7, 3), ("IT", "Italy", 7, 3),
    ("PL", "Poland", 6, 2), ("SE", "Sweden", 4, 2), ("BE", "Belgium", 4, 2),
    ("AT", "Austria", 3, 2), ("CH", "Switzerland", 3, 2), ("DK", "Denmark", 2, 1),
    ("IE", "Ireland", 2, 1), ("PT", "Portugal", 2, 2), ("CZ", "Czechia", 2, 1),
    ("US", "United States", 6, 4), ("CA", "Canada", 2, 2), ("FI", "Finland", 1, 1),
    ("NO", "Norway", 1, 1), ("GR", "Greece", 1, 1),
)  # fmt: skip
FIRST_OCTET = 20
"""Country ranges lie in the /8 blocks from 20.0.0.0 up, one block each, with gaps between."""
NO_RANGE_PREFIX = "198.51.100."
"""IPs in no country range (TEST-NET-2), for the requests that cannot be placed."""
CHANNELS = (
    ("Facebook", 22), ("Instagram", 16), ("Organic", 20), ("Paid Search", 14),
    ("Google Ads", 18), ("Offline", 10),
)  # fmt: skip
CAMPAIGNS = {
    "Facebook": ("fb_spring_sale", "fb_retargeting", "fb_lookalike_eu"),
    "Instagram": ("ig_stories_q2", "ig_influencer_b2b"),
    "Organic": ("seo_blog", "newsletter"),
    "Paid Search": ("bing_brand", "bing_generic"),
    "Google Ads": ("gads_brand", "gads_generic", "gads_shopping"),
    "Offline": ("trade_fair_hannover", "catalogue_mailing"),
}
CATEGORIES = (
    ("Office supplies", 8, 25), ("Packaging", 6, 60), ("Cleaning", 5, 40), ("IT hardware", 4, 480),
    ("Furniture", 3, 320), ("Safety", 4, 55), ("Catering", 5, 30), ("Tools", 3, 140),
)  # fmt: skip
ADJECTIVES = ("Basic", "Pro", "Eco", "Heavy-duty", "Compact", "Premium", "Classic", "Smart")
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Karin",
    "Lukas", "Marta", "Noah", "Olga", "Paul", "Rosa", "Simon", "Tina", "Victor", "Wiebke", "Yusuf",
)  # fmt: skip
LAST_NAMES = (
    "Fischer", "Martin", "Smith", "de Vries", "Garcia", "Rossi", "Nowak", "Lindqvist", "Peeters",
    "Gruber", "Meier", "Jensen", "Murphy", "Silva", "Novak", "Brown", "Tremblay", "Virtanen",
)  # fmt: skip
COMPANY_WORDS = (
    "Alpine",
    "Baltic",
    "Crown",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Northwind",
    "Orion",
    "Pioneer",
)
COMPANY_KINDS = ("Trading", "Logistics", "Supplies", "Industries", "Services", "Group")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
)
LEAD_SHARE = 0.45
"""Of the orders, the share that came through a campaign lead."""
LEADS_WITHOUT_ORDER = 0.6
"""Leads that never ordered, per lead that did."""
MALFORMED_RATE = 0.003
"""Log lines broken on purpose (a field missing or extra, an open quote, noise)."""
IPV6_RATE = 0.01
NO_RANGE_RATE = 0.02
LEADS_FOLDER, LOGS_FOLDER = "leads", "weblogs"
"""The names of the two file sources in pipeline.yaml (keys of ``other_sources``)."""
FILES_STATE = "_b2b_files.json"
ID_COLUMNS = {"orders": "order_id", "products": "product_id", "order_line_item": "line_item_id",
              "invoice": "invoice_id"}  # fmt: skip
"""The tables whose ids ``advance`` continues, and their id columns."""


@dataclass(frozen=True)
class _State:
    orders: int
    products: int
    max_ids: dict[str, int]
    newest: datetime


class B2BCommerceGenerator(SqlSourceGenerator):
    """``generate``: ``scale`` 1 is 3,000 orders (about 7,500 line items) over the 400 days
    ending at ``as_of``, 400 customers, 60 companies, 150 products. ``advance``: ``new_fraction``
    x the orders are added after the newest moment in the source; ``update_fraction`` x the
    orders move on (pending payments approved or cancelled, approved orders delivered) and as
    many tenths of the products change price."""

    pipeline = "b2b_commerce"
    source = SOURCE
    updates = declare(
        """
        orders key(order_id)
            order_id bigint, payment_status varchar(16), delivery_status varchar(16),
            updated_at timestamp
        products key(product_id)
            product_id bigint, price numeric(12,2), updated_at timestamp
        """
    )
    inserts = ("orders", "invoice", "order_line_item")
    new_fraction = 0.03
    update_fraction = 0.05

    def generate(  # type: ignore[override]
        self,
        url: str,
        *,
        other_sources: dict[str, str] | None = None,
        as_of: datetime | None = None,
        **kwargs: Any,
    ) -> dict[str, int]:
        """The database at ``url``; with ``other_sources``, the leads and log folders too."""
        as_of = normalise_as_of(as_of)
        counts = super().generate(url, as_of=as_of, **kwargs)
        if other_sources:
            schema = kwargs.get("schema") or self.pipeline
            counts |= write_files(url, schema, other_sources, kwargs.get("seed", 42), as_of, first=True)
        return counts

    def advance(  # type: ignore[override]
        self,
        url: str,
        *,
        other_sources: dict[str, str] | None = None,
        as_of: datetime | None = None,
        **kwargs: Any,
    ) -> dict[str, int]:
        as_of = normalise_as_of(as_of)
        if other_sources:
            files_state(other_sources[LEADS_FOLDER])  # fails before any change without one
        counts = super().advance(url, as_of=as_of, **kwargs)
        if other_sources:
            schema = kwargs.get("schema") or self.pipeline
            counts |= write_files(url, schema, other_sources, kwargs.get("seed", 42), as_of, first=False)
        return counts

    def build(self, con: Any, run: Run) -> None:
        create_uniform(con, "u", run.seed, stream_of(run.as_of))
        start = run.as_of - timedelta(days=HISTORY_DAYS)
        _reference_rows(con, run.scale, start)
        n_orders = max(20, round(ORDERS_PER_SCALE * run.scale))
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE frame AS
            -- more orders lately (the business grows); the newest came in a minute ago, as
            -- in a live application database
            SELECT (r + 1)::BIGINT AS order_id,
                {_ts(start)} + to_seconds(floor(CASE WHEN r = 0 THEN 1 ELSE
                    sqrt(u(r, 0, 'when')) END * {HISTORY_DAYS * 86400 - 60})::BIGINT) AS created_at
            FROM range({n_orders}) AS t(r)
            """
        )
        # ids follow creation time, as a sequence would
        con.execute(
            "CREATE OR REPLACE TEMP TABLE frame AS SELECT row_number() OVER (ORDER BY created_at, "
            "order_id)::BIGINT AS order_id, created_at FROM frame"
        )
        _order_rows(con, run.as_of, line_item_base=0, invoice_base=0)

    def read_state(self, target: Target) -> _State:
        names = tuple(ID_COLUMNS)
        extra = [f"(SELECT count(*) FROM {target.table(t)})" for t in ("orders", "products")]
        extra += [f"(SELECT max({ID_COLUMNS[t]}) FROM {target.table(t)})" for t in names]
        row, newest = target.newest_and(SOURCE, extra)
        if int(row[0]) == 0 or newest is None:
            raise target.empty_error("orders")
        max_ids = dict(zip(names, (int(v or 0) for v in row[2:]), strict=True))
        return _State(int(row[0]), int(row[1]), max_ids, newest)

    def build_changes(self, con: Any, run: Run, state: _State) -> dict[str, int]:
        create_uniform(con, "u", run.seed, stream_of(run.as_of))
        span = int((run.as_of - state.newest).total_seconds())
        n_new = max(1, round(run.new_fraction * state.orders))
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE frame AS
            WITH t AS (
                SELECT r, {_ts(state.newest)}
                    + to_seconds(1 + floor(u(r, 0, 'new') * {max(span - 1, 1)})::BIGINT) AS created_at
                FROM range({n_new}) AS x(r)
            )
            SELECT ({state.max_ids["orders"]} + row_number() OVER (ORDER BY created_at, r))::BIGINT
                AS order_id, created_at
            FROM t
            """
        )
        # the reference tables as they are in the source, for the new orders' rows
        for name in ("customers", "suppliers", "products", "company"):
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE out_{name} AS "
                f"SELECT * FROM {run.target.duck_table('src', name)}"
            )
        _order_rows(
            con,
            run.as_of,
            line_item_base=state.max_ids["order_line_item"],
            invoice_base=state.max_ids["invoice"],
        )
        _build_updates(con, run, state, span)
        return {
            "new_orders": _count(con, "out_orders"),
            "new_invoices": _count(con, "out_invoice"),
            "new_order_line_items": _count(con, "out_order_line_item"),
            "updated_orders": _count(con, "upd_orders"),
            "updated_products": _count(con, "upd_products"),
        }


GENERATOR = B2BCommerceGenerator()
generate = GENERATOR.generate
advance = GENERATOR.advance


# --------------------------------------------------------------------------------------------
# DuckDB: the database's rows


def country_ranges() -> list[tuple[str, str, str, str]]:
    """(start_ip, end_ip, code, name): each country's ranges, one /8 block per range, starting
    at an irregular offset inside the block and spanning 64k-4M addresses (so ranges never
    overlap, never align to /16 boundaries, and leave addresses in no range between them)."""
    out = []
    block = FIRST_OCTET
    for i, (code, name, _, n) in enumerate(COUNTRIES):
        for j in range(n):
            offset = ((i * 7919 + j * 104729) % 97) * 65536 + ((i + 3) * (j + 5) * 37 % 256) * 256
            size = 65536 * (1 + (i * 31 + j * 17) % 60) + (i * 13 + j * 7) % 200
            start = (block << 24) + offset
            out.append((_dotted(start), _dotted(start + size - 1), code, name))
            block += 1
    return out


def _dotted(n: int) -> str:
    return ".".join(str((n >> s) & 255) for s in (24, 16, 8, 0))


def _reference_rows(con: Any, scale: float, start: datetime) -> None:
    """Countries and their ranges, companies, suppliers, customers, products and price lists."""
    founded = _ts(start - timedelta(days=730))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE out_country_codes (start_ip VARCHAR, end_ip VARCHAR, "
        "code VARCHAR, country_name VARCHAR, updated_at TIMESTAMP)"
    )
    con.executemany(f"INSERT INTO out_country_codes VALUES (?, ?, ?, ?, {founded})", country_ranges())
    country = _pick("x_country", [(c, w) for c, _, w, _ in COUNTRIES])
    n_companies = max(12, round(COMPANIES_PER_SCALE * scale))
    # before the history starts: created up to two years earlier
    created = f"{founded} + to_seconds(floor(u({{k}}, 0, '{{salt}}') * {730 * 86400 - 3600})::BIGINT)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_company AS
        WITH x AS (
            SELECT r + 1 AS company_id, u(r, 0, 'country') AS x_country FROM range({n_companies}) t(r)
        )
        SELECT company_id::BIGINT AS company_id,
            list_extract({_list(COMPANY_WORDS)}, 1 + (company_id * 7 % {len(COMPANY_WORDS)})::INTEGER)
                || ' ' || list_extract({_list(COMPANY_KINDS)},
                                       1 + (company_id % {len(COMPANY_KINDS)})::INTEGER)
                || ' ' || company_id::VARCHAR AS company_name,
            company_id % 4 = 0 AS is_supplier,
            {country} AS country_code,
            {created.format(k="company_id", salt="company_created")} AS created_at
        FROM x
        """
    )
    con.execute("ALTER TABLE out_company ADD COLUMN updated_at TIMESTAMP")
    con.execute(
        "UPDATE out_company SET updated_at = created_at + to_seconds(floor(u(company_id, 0, 'upd') "
        "* 86400 * 30)::BIGINT)"
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_suppliers AS
        SELECT row_number() OVER (ORDER BY company_id)::BIGINT AS supplier_id, company_id,
            company_name AS supplier_name,
            (1 + floor(u(company_id, 0, 'rating') * 5))::INTEGER AS rating,
            created_at, updated_at
        FROM out_company WHERE is_supplier
        """
    )
    n_customers = max(20, round(CUSTOMERS_PER_SCALE * scale))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_customers AS
        WITH buyers AS (
            SELECT company_id, country_code, row_number() OVER (ORDER BY company_id) - 1 AS i,
                count(*) OVER () AS n
            FROM out_company WHERE NOT is_supplier
        ),
        x AS (
            SELECT r + 1 AS customer_id, u(r, 0, 'country') AS x_country,
                floor(u(r, 0, 'company') * (SELECT max(n) FROM buyers))::BIGINT AS i
            FROM range({n_customers}) t(r)
        ),
        named AS (
            SELECT x.customer_id::BIGINT AS customer_id, b.company_id,
                list_extract({_list(FIRST_NAMES)},
                             1 + floor(u(customer_id, 0, 'first') * {len(FIRST_NAMES)})::INTEGER)
                    AS first_name,
                list_extract({_list(LAST_NAMES)},
                             1 + floor(u(customer_id, 0, 'last') * {len(LAST_NAMES)})::INTEGER) AS last_name,
                -- most staff work in their company's country
                CASE WHEN u(customer_id, 0, 'abroad') < 0.8 THEN b.country_code ELSE {country} END
                    AS country_code
            FROM x JOIN buyers AS b USING (i)
        )
        SELECT customer_id, company_id, first_name, last_name,
            (DATE '1960-01-01' + floor(u(customer_id, 0, 'dob') * 15000)::INTEGER) AS dob,
            lower(replace(first_name || '.' || last_name, ' ', '')) || customer_id::VARCHAR
                || '@company' || company_id::VARCHAR || '.example' AS email,
            lower(replace(first_name || '.' || last_name, ' ', '')) || customer_id::VARCHAR AS username,
            country_code,
            {created.format(k="customer_id", salt="customer_created")} AS created_at
        FROM named
        """
    )
    con.execute("ALTER TABLE out_customers ADD COLUMN updated_at TIMESTAMP")
    con.execute(
        "UPDATE out_customers SET updated_at = created_at + to_seconds(floor(u(customer_id, 0, "
        "'upd') * 86400 * 60)::BIGINT)"
    )
    category = _pick("x_cat", [(c, w) for c, w, _ in CATEGORIES])
    base_price = "(CASE " + " ".join(f"WHEN category = '{c}' THEN {p}" for c, _, p in CATEGORIES) + " END)"
    n_products = max(30, round(PRODUCTS_PER_SCALE * scale))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_products AS
        WITH x AS (
            SELECT r + 1 AS product_id, u(r, 0, 'category') AS x_cat FROM range({n_products}) t(r)
        ),
        c AS (SELECT product_id::BIGINT AS product_id, {category} AS category FROM x)
        SELECT product_id,
            list_extract({_list(ADJECTIVES)}, 1 + floor(u(product_id, 0, 'adj') * {len(ADJECTIVES)})::INTEGER)
                || ' ' || category || ' item ' || product_id::VARCHAR AS product_name,
            category,
            (round({base_price} * (0.4 + 1.6 * u(product_id, 0, 'price')), 2))::DECIMAL(12, 2) AS price,
            {created.format(k="product_id", salt="product_created")} AS created_at
        FROM c
        """
    )
    con.execute("ALTER TABLE out_products ADD COLUMN updated_at TIMESTAMP")
    con.execute("UPDATE out_products SET updated_at = created_at")
    # each product from one or two suppliers, at 55-80% of its list price
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_supplier_products AS
        WITH s AS (SELECT supplier_id, count(*) OVER () AS n FROM out_suppliers),
        pairs AS (
            SELECT DISTINCT p.product_id, s.supplier_id
            FROM out_products AS p, s
            WHERE s.supplier_id = 1 + (p.product_id % s.n)
               OR (u(p.product_id, 0, 'second') < 0.3
                   AND s.supplier_id = 1 + ((p.product_id * 7 + 3) % s.n))
        )
        SELECT pairs.supplier_id, pairs.product_id,
            round(p.price * (0.55 + 0.25 * u(pairs.product_id, pairs.supplier_id, 'cost')), 2)
                ::DECIMAL(12, 2) AS unit_price,
            greatest(p.created_at, s.created_at) AS created_at,
            greatest(p.created_at, s.created_at) AS updated_at
        FROM pairs JOIN out_products AS p USING (product_id) JOIN out_suppliers AS s USING (supplier_id)
        """
    )
    # buyers' negotiated prices for a few products each
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE out_company_products AS
        SELECT c.company_id, p.product_id,
            round(p.price * (0.85 + 0.15 * u(c.company_id, p.product_id, 'deal')), 2)::DECIMAL(12, 2)
                AS unit_price,
            greatest(p.created_at, c.created_at) AS created_at,
            greatest(p.created_at, c.created_at) AS updated_at
        FROM out_company AS c, out_products AS p
        WHERE NOT c.is_supplier AND u(c.company_id, p.product_id, 'listed') < 0.05
        """
    )


def _order_rows(con: Any, as_of: datetime, *, line_item_base: int, invoice_base: int) -> None:
    """From ``frame(order_id, created_at)``: ``out_orders``, ``out_order_line_item``, ``out_invoice``.

    Statuses follow the order's age at ``as_of``: a fresh order is often awaiting payment, an
    old one is paid (or cancelled) and delivered. Line items keep the product's price at the
    time (the list price now, less a quantity discount).
    """
    asof = _ts(as_of)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE ord AS
        WITH c AS (SELECT customer_id, row_number() OVER (ORDER BY customer_id) - 1 AS i,
                          count(*) OVER () AS n FROM out_customers),
        s AS (SELECT supplier_id, row_number() OVER (ORDER BY supplier_id) - 1 AS i,
                     count(*) OVER () AS n FROM out_suppliers),
        x AS (
            SELECT order_id, created_at, date_diff('second', created_at, {asof}) / 86400.0 AS age_days,
                floor(pow(u(order_id, 0, 'customer'), 1.3) * (SELECT max(n) FROM c))::BIGINT AS ci,
                floor(u(order_id, 0, 'supplier') * (SELECT max(n) FROM s))::BIGINT AS si,
                u(order_id, 0, 'pay') AS x_pay, u(order_id, 0, 'deliver') AS x_del
            FROM frame
        ),
        st AS (
            SELECT x.*, c.customer_id, s.supplier_id,
                CASE WHEN age_days < 3 AND x_pay < 0.40 THEN 'PENDING'
                     WHEN x_pay < CASE WHEN age_days < 3 THEN 0.50 ELSE 0.12 END THEN 'CANCELLED'
                     WHEN age_days >= 3 AND x_pay > 0.995 THEN 'PENDING'  -- an invoice chased for weeks
                     ELSE 'APPROVED' END AS payment_status
            FROM x JOIN c ON c.i = x.ci JOIN s ON s.i = x.si
        )
        SELECT order_id, customer_id, supplier_id, payment_status,
            CASE WHEN payment_status = 'CANCELLED' THEN 'CANCELLED'
                 WHEN payment_status = 'PENDING' THEN 'PENDING'
                 WHEN age_days < 5 AND x_del < 0.7 THEN 'PENDING'
                 WHEN x_del > 0.97 THEN 'CANCELLED'
                 ELSE 'COMPLETED' END AS delivery_status,
            created_at,
            least({asof}, created_at + to_seconds(CASE
                WHEN payment_status = 'PENDING' THEN 0
                ELSE floor(600 + u(order_id, 0, 'settled') * 4 * 86400)::BIGINT END)) AS updated_at
        FROM st
        """
    )
    con.execute("CREATE OR REPLACE TEMP TABLE out_orders AS SELECT * FROM ord")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_order_line_item AS
        WITH p AS (SELECT product_id, price, row_number() OVER (ORDER BY product_id) - 1 AS i,
                          count(*) OVER () AS n FROM out_products),
        x AS (
            SELECT order_id, created_at,
                unnest(range(1, 2 + floor(pow(u(order_id, 0, 'n_items'), 1.5) * 4)::INTEGER)) AS seq
            FROM frame
        ),
        y AS (
            SELECT x.*, p.product_id, p.price,
                (1 + floor(pow(u(order_id, seq, 'qty'), 2) * 40))::INTEGER AS no_of_items
            FROM x JOIN p ON p.i = floor(pow(u(order_id, seq, 'product'), 1.4) * (SELECT max(n) FROM p))
        )
        SELECT ({int(line_item_base)} + row_number() OVER (ORDER BY order_id, seq))::BIGINT AS line_item_id,
            order_id, product_id, no_of_items, price AS unit_price,
            -- 5% off from 10 items, 10% from 25: money in cents, rounded once
            (round(no_of_items * price * 100 * CASE WHEN no_of_items >= 25 THEN 0.90
                                                    WHEN no_of_items >= 10 THEN 0.95 ELSE 1 END)
                / 100)::DECIMAL(14, 2) AS final_amount,
            created_at, created_at AS updated_at
        FROM y
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE out_invoice AS
        SELECT ({int(invoice_base)} + row_number() OVER (ORDER BY o.order_id))::BIGINT AS invoice_id,
            o.order_id, c.company_id AS buyer_id, s.company_id AS seller_id,
            (SELECT sum(li.final_amount) FROM out_order_line_item AS li WHERE li.order_id = o.order_id)
                ::DECIMAL(14, 2) AS amount,
            o.created_at, o.created_at AS updated_at
        FROM ord AS o
        JOIN out_customers AS c USING (customer_id)
        JOIN out_suppliers AS s USING (supplier_id)
        """
    )


def _build_updates(con: Any, run: Run, state: _State, span: int) -> None:
    """``upd_orders``: pending payments settled, approved orders delivered; ``upd_products``:
    a few price changes. Every change is stamped after the newest moment in the source."""
    orders = run.target.duck_table("src", "orders")
    products = run.target.duck_table("src", "products")
    n_orders = round(run.update_fraction * state.orders)
    n_products = max(1, round(run.update_fraction * state.products / 10))
    changed_at = (
        f"{_ts(state.newest)} + to_seconds(1 + floor(u({{k}}, 0, 'changed') * {max(span - 1, 1)})::BIGINT)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upd_orders AS
        WITH eligible AS (
            SELECT order_id, payment_status FROM {orders}
            WHERE payment_status = 'PENDING'
               OR (payment_status = 'APPROVED' AND delivery_status = 'PENDING')
            ORDER BY u(order_id, 0, 'pick'), order_id
            LIMIT {int(n_orders)}
        ),
        moved AS (
            SELECT order_id,
                CASE WHEN payment_status = 'APPROVED' THEN 'APPROVED'
                     WHEN u(order_id, 0, 'settle') < 0.8 THEN 'APPROVED' ELSE 'CANCELLED' END
                    AS new_payment,
                payment_status AS old_payment
            FROM eligible
        )
        SELECT order_id, new_payment AS payment_status,
            CASE WHEN new_payment = 'CANCELLED' THEN 'CANCELLED'
                 WHEN old_payment = 'APPROVED' THEN 'COMPLETED'
                 ELSE 'PENDING' END AS delivery_status,
            {changed_at.format(k="order_id")} AS updated_at
        FROM moved
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE upd_products AS
        SELECT product_id,
            round(price * (1.02 + 0.10 * u(product_id, 0, 'raise')), 2)::DECIMAL(12, 2) AS price,
            {changed_at.format(k="product_id")} AS updated_at
        FROM {products}
        ORDER BY u(product_id, 0, 'reprice'), product_id
        LIMIT {int(n_products)}
        """
    )


# --------------------------------------------------------------------------------------------
# the two drops: a leads workbook and an access log per delivery


def write_files(
    url: str, schema: str, other_sources: dict[str, str], seed: int, as_of: datetime, *, first: bool
) -> dict[str, int]:
    """One delivery: a leads workbook and an access log for the orders created since the last
    delivery (all of them on the ``first``, which also empties the folders of earlier files).

    The state file remembers where the last delivery ended: the newest order it covered (new
    orders are created after it) and the log's last moment (the next log starts after it, so
    the log files follow each other in time, as rotated logs do)."""
    leads_dir = folder_of(other_sources[LEADS_FOLDER])
    logs_dir = folder_of(other_sources[LOGS_FOLDER])
    if first:
        for folder, pattern in ((leads_dir, "leads_*.xlsx"), (logs_dir, "access_*.log")):
            for old in folder.glob(pattern):
                old.unlink()
        state: dict[str, Any] = {"next_lead_id": 1, "orders_until": None, "log_until": None}
    else:
        state = files_state(leads_dir)
    target = Target.from_url(url, schema, "b2b_commerce")
    (orders_until,) = target.query(f"SELECT max(created_at) FROM {target.table('orders')}")
    stamp = f"{as_of:%Y%m%dT%H%M%S}"
    con = duck.connect()
    try:
        duck.attach(con, url, "src", read_only=True)
        create_uniform(con, "u", seed, stream_of(as_of))
        window = f"o.created_at <= {_ts(as_of)}"
        if state["orders_until"]:
            window += f" AND o.created_at > {_ts(datetime.fromisoformat(state['orders_until']))}"
        _window_tables(con, target, window)
        leads_dir.mkdir(parents=True, exist_ok=True)
        leads = write_xlsx(
            con,
            leads_dir / f"leads_{stamp}.xlsx",
            [Sheet("leads", _leads(con, state["next_lead_id"]), order_by=["lead_id"])],
        )
        log_from = datetime.fromisoformat(state["log_until"]) if state["log_until"] else None
        _log_events(con, log_from, as_of)
        written = write_access_log(con, "log_events", logs_dir / f"access_{stamp}.log",
                                   malformed_rate=MALFORMED_RATE, seed=seed)  # fmt: skip
        con.execute("DETACH src")
    finally:
        con.close()
    newest_order = (
        orders_until if isinstance(orders_until, datetime) else datetime.fromisoformat(str(orders_until))
    )
    state = {
        "next_lead_id": state["next_lead_id"] + leads["leads"],
        "orders_until": newest_order.isoformat(),
        "log_until": as_of.isoformat(),
    }
    (leads_dir / FILES_STATE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return {
        "leads": leads["leads"],
        "log_lines": written.rows,
        "malformed_log_lines": len(written.malformed_lines),
    }


def files_state(leads_folder: str | Path) -> dict[str, Any]:
    """Where the last delivery of files ended (written beside the workbooks)."""
    path = folder_of(str(leads_folder)) / FILES_STATE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise SourceError(
            f"cannot read {path} ({type(exc).__name__}); generate the b2b_commerce source with "
            "its file folders first"
        ) from exc


def _window_tables(con: Any, target: Target, window: str) -> None:
    """``win_orders``: the delivery's orders with their customer and first product."""
    t = lambda name: target.duck_table("src", name)  # noqa: E731
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE win_orders AS
        SELECT o.order_id, o.created_at, c.customer_id, c.username, c.country_code,
            (SELECT min_by(li.product_id, li.line_item_id) FROM {t("order_line_item")} AS li
             WHERE li.order_id = o.order_id) AS product_id,
            (SELECT list(li.product_id ORDER BY li.line_item_id) FROM {t("order_line_item")} AS li
             WHERE li.order_id = o.order_id) AS products
        FROM {t("orders")} AS o JOIN {t("customers")} AS c USING (customer_id)
        WHERE {window}
        """
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE all_customers AS SELECT customer_id, username, country_code, "
        f"row_number() OVER (ORDER BY customer_id) - 1 AS i, count(*) OVER () AS n FROM {t('customers')}"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE all_products AS SELECT product_id, "
        f"row_number() OVER (ORDER BY product_id) - 1 AS i, count(*) OVER () AS n FROM {t('products')}"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE ranges AS SELECT code, "
        "(split_part(start_ip, '.', 1)::BIGINT << 24) + (split_part(start_ip, '.', 2)::BIGINT << 16) "
        "+ (split_part(start_ip, '.', 3)::BIGINT << 8) + split_part(start_ip, '.', 4)::BIGINT AS lo, "
        "(split_part(end_ip, '.', 1)::BIGINT << 24) + (split_part(end_ip, '.', 2)::BIGINT << 16) "
        "+ (split_part(end_ip, '.', 3)::BIGINT << 8) + split_part(end_ip, '.', 4)::BIGINT AS hi, "
        "row_number() OVER (PARTITION BY code ORDER BY start_ip) - 1 AS j, "
        "count(*) OVER (PARTITION BY code) AS n "
        f"FROM {t('country_codes')}"
    )


def _leads(con: Any, first_lead_id: int) -> str:
    """``leads``: one lead for about half of the window's orders (first contact 0-20 days
    before), and leads that never ordered; ids continue the marketing team's numbering."""
    channel = _pick("x_channel", CHANNELS)
    campaigns = (
        "(CASE " + " ".join(f"WHEN channel = '{c}' THEN {_list(v)}" for c, v in CAMPAIGNS.items()) + " END)"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE lead_rows AS
        WITH ordered AS (
            SELECT username, order_id, product_id,
                (created_at - to_seconds(floor(u(order_id, 0, 'contact') * 20 * 86400)::BIGINT))::DATE
                    AS first_contact_date,
                u(order_id, 0, 'channel') AS x_channel, order_id AS k
            FROM win_orders WHERE u(order_id, 0, 'lead') < {LEAD_SHARE}
        ),
        bounds AS (SELECT min(created_at) AS lo, max(created_at) AS hi, count(*) AS n FROM win_orders),
        cold AS (
            SELECT c.username, NULL::BIGINT AS order_id,
                CASE WHEN u(r, 1, 'has_product') < 0.5 THEN p.product_id END AS product_id,
                (b.lo + to_seconds(floor(u(r, 1, 'when')
                                         * greatest(1, date_diff('second', b.lo, b.hi)))::BIGINT))::DATE
                    AS first_contact_date,
                u(r, 1, 'channel') AS x_channel, -1 - r AS k
            FROM bounds AS b,
                range((b.n * {LEAD_SHARE} * {LEADS_WITHOUT_ORDER})::BIGINT) AS t(r)
            JOIN all_customers AS c ON c.i = floor(u(r, 1, 'who') * c.n)
            JOIN all_products AS p ON p.i = floor(u(r, 1, 'what') * p.n)
        ),
        both_kinds AS (
            SELECT *, {channel} AS channel FROM (SELECT * FROM ordered UNION ALL SELECT * FROM cold)
        )
        SELECT ({int(first_lead_id) - 1} + row_number() OVER (ORDER BY first_contact_date, k))::BIGINT
                AS lead_id,
            username, first_contact_date, channel AS campaign_channel,
            list_extract({campaigns}, 1 + floor(u(k, 2, 'campaign') * len({campaigns}))::INTEGER)
                AS campaign_name,
            order_id, product_id
        FROM both_kinds
        """
    )
    return "lead_rows"


def _log_events(con: Any, since: datetime | None, as_of: datetime) -> None:
    """``log_events`` (the access-log sink's columns): the window's orders' sessions, sessions
    that bought nothing, anonymous product views."""
    agents = _list(USER_AGENTS)
    lo = _ts(since) if since is not None else "(SELECT min(created_at) FROM win_orders)"
    after = "" if since is None else f" AND requested_at > {_ts(since)}"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE sessions AS
        WITH bounds AS (SELECT {lo} AS lo, {_ts(as_of)} AS hi, count(*) AS n FROM win_orders),
        buying AS (
            SELECT order_id AS k, customer_id, username, country_code, products,
                created_at - to_seconds((400 + floor(u(order_id, 0, 'session') * 1500))::BIGINT) AS started,
                created_at AS ends, true AS buys
            FROM win_orders
        ),
        browsing AS (
            SELECT -1 - r AS k, c.customer_id, c.username, c.country_code,
                [p.product_id] AS products,
                b.lo + to_seconds(floor(u(r, 3, 'when')
                                        * greatest(1, date_diff('second', b.lo, b.hi) - 3600))::BIGINT)
                    AS started,
                NULL::TIMESTAMP AS ends, false AS buys
            FROM bounds AS b, range((b.n * 1.5)::BIGINT) AS t(r)
            JOIN all_customers AS c ON c.i = floor(u(r, 3, 'who') * c.n)
            JOIN all_products AS p ON p.i = floor(u(r, 3, 'what') * p.n)
        ),
        s AS (SELECT * FROM buying UNION ALL SELECT * FROM browsing)
        SELECT s.*, u(k, 4, 'where') AS x_where, u(k, 4, 'agent') AS x_agent
        FROM s
        """
    )
    # The session's address: IPv6 now and then, an address in no range sometimes, else one in
    # a range of the customer's country.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE session_ip AS
        SELECT s.*,
            CASE WHEN x_where < {IPV6_RATE}
                 THEN '2001:db8:' || lower(printf('%x', 4096 + (k % 60000 + 60000) % 60000)) || '::'
                      || (1 + (k % 200 + 200) % 200)::VARCHAR
                 WHEN x_where < {IPV6_RATE + NO_RANGE_RATE}
                 THEN '{NO_RANGE_PREFIX}' || (1 + (k % 250 + 250) % 250)::VARCHAR
                 ELSE (SELECT ((ip >> 24) & 255)::VARCHAR || '.' || ((ip >> 16) & 255)::VARCHAR || '.'
                              || ((ip >> 8) & 255)::VARCHAR || '.' || (ip & 255)::VARCHAR
                       FROM (SELECT r.lo + floor(u(s.k, 5, 'host') * (r.hi - r.lo + 1))::BIGINT AS ip
                             FROM ranges AS r
                             WHERE r.code = s.country_code AND r.j = floor(u(s.k, 5, 'range') * r.n)))
            END AS ip,
            list_extract({agents}, 1 + floor(x_agent * {len(USER_AGENTS)})::INTEGER) AS user_agent
        FROM sessions AS s
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE log_events AS
        WITH viewed AS (
            SELECT *, unnest(range(1, len(products) + 1)) AS idx FROM session_ip
        ),
        pages AS (
            SELECT k, ip, user_agent, username, started, ends, 0 AS step, 'POST' AS method, '/login' AS path,
                302 AS status, NULL AS referrer
            FROM session_ip
            UNION ALL
            SELECT k, ip, user_agent, username, started, ends, idx, 'GET',
                '/products/' || list_extract(products, idx)::VARCHAR, 200, '/login'
            FROM viewed
            UNION ALL
            SELECT k, ip, user_agent, username, started, ends, 90, 'GET', '/cart', 200, '/products'
            FROM session_ip WHERE buys
            UNION ALL
            SELECT k, ip, user_agent, username, started, ends, 99, 'POST', '/checkout', 302, '/cart'
            FROM session_ip WHERE buys
        ),
        timed AS (
            SELECT k, ip, user_agent, username,
                -- product pages 20-60 s apart after the login; cart and checkout just before the
                -- order's moment, which is the checkout's
                CASE WHEN step = 99 THEN ends
                     WHEN step = 90 THEN ends - to_seconds((30 + floor(u(k, step, 'think') * 60))::BIGINT)
                     ELSE started + to_seconds((step * (20 + floor(u(k, step, 'think') * 40)))::BIGINT)
                END AS requested_at,
                method, path, status,
                CASE WHEN referrer IS NOT NULL THEN 'https://shop.example' || referrer END AS referrer,
                step
            FROM pages
        ),
        anonymous AS (
            -- the same visitor looked at the product before logging in, coming from a search
            SELECT k, ip, user_agent, NULL AS username,
                requested_at - to_seconds((600 + step)::BIGINT) AS requested_at, 'GET' AS method,
                path, 200 AS status, 'https://www.google.com/' AS referrer, step
            FROM timed WHERE method = 'GET' AND path <> '/cart' AND u(k, step, 'anon') < 0.3
        )
        SELECT ip, username AS user_name, requested_at, method, path, 'HTTP/1.1' AS protocol, status,
            (400 + floor(u(k, step, 'bytes') * 20000))::BIGINT AS bytes, referrer, user_agent
        FROM (SELECT * FROM timed UNION ALL SELECT * FROM anonymous)
        WHERE requested_at <= {_ts(as_of)}{after}
        """
    )
    missing = set(ACCESS_LOG_COLUMNS) - {r[0] for r in con.execute("DESCRIBE log_events").fetchall()}
    assert not missing, missing

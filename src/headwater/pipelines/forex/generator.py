"""Synthetic source for the ``forex`` pipeline (seed 004): a messy retail transactions CSV.

A retailer delivers its transactions as CSV files into a folder (``transactions_0001.csv``,
then one more file per delivery). The files carry the defects of the seed's file, at
realistic rates, deterministic by seed:

- customer_id sometimes a float (``1042.0``) or empty;
- transaction_date as ISO, day-first ``03/01/2024`` (ambiguous with month-first whenever both
  parts are <= 12) or ``1 March 2024``, and now and then not a date at all;
- quantity sometimes empty;
- price and tax as text, some as number words (``twenty-five``, ``one hundred and five``),
  a few prices not a number at all (``n/a``);
- stray whitespace and case in names, products, countries and cities;
- emails that repeat across customers (same name, same provider);
- a rare line without its transaction_id (a row nobody can key).

``advance`` delivers the next file: new transactions since the last delivery plus
corrections of earlier ones (the same transaction_id with a corrected quantity, or the
quantity a first delivery left empty).

The truth is kept beside the delivered folder, never in it (``<folder>.truth/delivery_N.parquet``,
one row per delivered line: the true values ``<col>__true`` and the defect applied
``<col>__mess``), so tests can check what the pipeline cleaned. Every row is built set-based in
DuckDB (``messy.corrupt`` for the defects, ``files.write_csv`` for the file): millions of rows
take seconds, no Python loop touches them.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from headwater import duck
from headwater.synthetic import Run, declare
from headwater.synthetic import sql_list as _list
from headwater.synthetic.files import write_csv
from headwater.synthetic.folder import FolderSourceGenerator
from headwater.synthetic.messy import corrupt
from headwater.synthetic.sqltext import create_uniform

ROWS_PER_SCALE = 10_000
"""Transactions in the first delivery at scale 1 (scale 100: one million)."""
HISTORY_DAYS = 540
CUSTOMERS_PER_ROW = 1 / 8
PRODUCTS = 200
TAX_RATE = 0.2

SOURCE = declare(
    """
    transactions key(transaction_id) cursor(_source_file)
        transaction_id varchar, customer_id varchar null, transaction_date varchar null,
        product_id varchar null, product_name varchar null, quantity varchar null,
        price varchar null, tax varchar null, first_name varchar null, last_name varchar null,
        email varchar null, phone varchar null, country varchar null, city varchar null
    """
)
TABLES = SOURCE.names
COLUMNS = SOURCE["transactions"].column_names

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Leo", "Sofia", "Hugo",
    "Chloe", "Oscar", "Grace", "Adam", "Ella", "Jack", "Anna", "Ben", "Lea", "Max",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Brown", "Taylor", "Wilson", "Evans", "Walker", "Wright", "Green", "Hall",
    "Wood", "Clarke", "Hughes", "Martin", "Moore", "Baker", "Fischer", "Weber", "Rossi", "Garcia",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "mail.com")
PLACES = (
    ("United Kingdom", ("London", "Manchester", "Leeds")),
    ("Germany", ("Berlin", "Hamburg", "Munich")),
    ("France", ("Paris", "Lyon", "Marseille")),
    ("Spain", ("Madrid", "Barcelona", "Valencia")),
    ("Italy", ("Rome", "Milan", "Turin")),
    ("United States", ("New York", "Chicago", "Boston")),
    ("Canada", ("Toronto", "Vancouver", "Montreal")),
    ("Australia", ("Sydney", "Melbourne", "Perth")),
    ("Netherlands", ("Amsterdam", "Rotterdam", "Utrecht")),
    ("Ireland", ("Dublin", "Cork", "Galway")),
)
ITEMS = (
    "Travel Adapter", "Currency Wallet", "Passport Cover", "Luggage Tag", "Neck Pillow",
    "Money Belt", "Power Bank", "Phrase Book", "Rfid Sleeve", "Packing Cube",
    "Travel Lock", "Coin Purse", "Card Holder", "Eye Mask", "Water Bottle",
    "Map Case", "Cable Organiser", "Toiletry Bag", "Umbrella", "Sim Card",
)  # fmt: skip
EDITIONS = ("Mini", "Classic", "Plus", "Pro", "Max", "Duo", "Lite", "Go", "Flex", "Ultra")

# column -> (defect, share of rows): disjoint shares per column (messy.corrupt).
DEFECTS: dict[str, list[tuple[str, float]]] = {
    "transaction_id": [("null", 0.001)],
    "customer_id": [("float_for_int", 0.06), ("null", 0.01)],
    "transaction_date": [("date_formats", 0.6), ("wrong_type", 0.004)],
    "quantity": [("null", 0.02)],
    "price": [("number_words", 0.05), ("wrong_type", 0.004), ("whitespace", 0.02)],
    "tax": [("number_words", 0.03)],
    "product_name": [("whitespace", 0.03), ("case", 0.02)],
    "first_name": [("whitespace", 0.04), ("case", 0.04)],
    "last_name": [("whitespace", 0.04), ("case", 0.04)],
    "email": [("case", 0.03)],
    "country": [("whitespace", 0.05), ("case", 0.05)],
    "city": [("whitespace", 0.05), ("case", 0.05)],
}
CLEAN = {
    "transaction_date": "strftime({col}, '%Y-%m-%d')",
    "price": "printf('%.2f', {col})",
    "tax": "printf('%.2f', {col})",
}
"""How the values a defect left alone are written (the rest: their plain text)."""


def truth_folder(folder: Path) -> Path:
    """Where the generator keeps the true values: beside the delivered folder, not in it."""
    return folder.with_name(folder.name + ".truth")


def delivery_file(n: int) -> str:
    return f"transactions_{n:04d}.csv"


class ForexGenerator(FolderSourceGenerator):
    pipeline = "forex"
    source = SOURCE
    new_fraction = 0.05
    update_fraction = 0.02

    def write(self, con: Any, folder: Path, run: Run) -> dict[str, int]:
        truth = truth_folder(folder)
        shutil.rmtree(truth, ignore_errors=True)
        truth.mkdir(parents=True)
        rows = max(int(round(ROWS_PER_SCALE * run.scale)), 1)
        _catalogues(con, run.seed, max(int(rows * CUSTOMERS_PER_ROW), 1))
        start = run.as_of - timedelta(days=HISTORY_DAYS)
        _new_transactions(con, run.seed, 1, 1, rows, start, run.as_of)
        return {"transactions": _deliver(con, folder, 1, run.seed)}

    def write_changes(self, con: Any, folder: Path, run: Run, since: datetime) -> dict[str, int]:
        truth = truth_folder(folder)
        delivered = sorted(truth.glob("delivery_*.parquet"))
        if not delivered:
            raise FileNotFoundError(f"no truth files in {truth}: run generate() first")
        delivery = len(delivered) + 1
        files = duck.literal(str(truth / "delivery_*.parquet"))
        con.execute(
            f"CREATE TEMP TABLE latest AS SELECT * FROM read_parquet({files}) "
            "QUALIFY row_number() OVER (PARTITION BY transaction_id__true ORDER BY delivery DESC) = 1"
        )
        existing, last_n, customers = duck.first_row(
            con,
            "SELECT count(*), max(CAST(substr(transaction_id__true, 4) AS BIGINT)), "
            "max(CAST(customer_id__true AS BIGINT)) FROM latest",
        )
        _catalogues(con, run.seed, int(customers))
        new = max(int(round(existing * run.new_fraction)), 1)
        _new_transactions(con, run.seed, delivery, int(last_n) + 1, new, since, run.as_of)
        fixes = _corrections(con, run.seed, delivery, run.update_fraction)
        con.execute("INSERT INTO clean SELECT * FROM fixes")
        return {"transactions": _deliver(con, folder, delivery, run.seed), "corrections": fixes}


def _catalogues(con: Any, seed: int, customers: int) -> None:
    """Customers (names, email, phone, place) and products (name, list price)."""
    create_uniform(con, "u", seed, None)
    countries = _list([c for c, _ in PLACES])
    cities = "[" + ", ".join(_list(list(cs)) for _, cs in PLACES) + "]"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE customers AS
        WITH c AS (
            SELECT i AS customer_id,
                {_one_of(FIRST_NAMES, "u(i, 0, 'first')")} AS first_name,
                {_one_of(LAST_NAMES, "u(i, 0, 'last')")} AS last_name,
                {_one_of(EMAIL_DOMAINS, "u(i, 0, 'domain')")} AS domain,
                1 + floor(u(i, 0, 'country') * {len(PLACES)})::INT AS place,
                1 + floor(u(i, 0, 'city') * 3)::INT AS city_no
            FROM range(1, {int(customers)} + 1) AS r(i))
        SELECT customer_id, first_name, last_name,
            lower(first_name || '.' || last_name) || '@' || domain AS email,
            '+' || (30 + place)::VARCHAR || ' '
                || lpad((floor(u(customer_id, 0, 'phone') * 1e9))::BIGINT::VARCHAR, 9, '0') AS phone,
            list_extract({countries}, place) AS country,
            list_extract(list_extract({cities}, place), city_no) AS city
        FROM c
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE products AS
        SELECT i AS product_id,
            list_extract({_list(ITEMS)}, 1 + (i - 1) % {len(ITEMS)}) || ' ' || list_extract(
                {_list(EDITIONS)}, 1 + ((i - 1) // {len(ITEMS)}) % {len(EDITIONS)}) AS product_name,
            CAST(3 + floor(u(i, 0, 'price') * 300)
                 + CASE WHEN u(i, 0, 'cents') < 0.15 THEN 0.99 ELSE 0 END AS DECIMAL(10, 2)) AS price
        FROM range(1, {PRODUCTS} + 1) AS r(i)
        """
    )


def _one_of(values: tuple[str, ...], draw: str) -> str:
    """SQL picking one of ``values`` (constants) uniformly by the [0, 1) ``draw``."""
    return f"list_extract({_list(values)}, 1 + floor({draw} * {len(values)})::INT)"


def _new_transactions(
    con: Any, seed: int, delivery: int, first: int, rows: int, start: datetime, end: datetime
) -> None:
    """``clean``: ``rows`` new transactions numbered from ``first``, dated in (start, end]."""
    days = max((end.date() - start.date()).days, 1)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE clean AS
        WITH t AS (
            SELECT n,
                1 + floor(u(n, 0, 'customer') * (SELECT count(*) FROM customers))::BIGINT AS customer_id,
                1 + floor(u(n, 0, 'product') * {PRODUCTS})::BIGINT AS product_id,
                DATE '{end.date().isoformat()}' - floor(u(n, 0, 'day') * {days})::INT AS transaction_date,
                1 + floor(pow(u(n, 0, 'quantity'), 2) * 9)::INT AS quantity
            FROM range({int(first)}, {int(first + rows)}) AS r(n))
        SELECT {int(delivery)} AS delivery, 'TX-' || lpad(n::VARCHAR, 9, '0') AS transaction_id,
            t.customer_id, transaction_date, t.product_id, p.product_name, quantity, p.price,
            CAST(round(quantity * p.price * {TAX_RATE}, 2) AS DECIMAL(10, 2)) AS tax,
            c.first_name, c.last_name, c.email, c.phone, c.country, c.city
        FROM t JOIN customers AS c USING (customer_id) JOIN products AS p USING (product_id)
        """
    )


def _corrections(con: Any, seed: int, delivery: int, share: float) -> int:
    """``fixes``: earlier transactions delivered again, corrected: the quantity an earlier
    delivery left empty, or a changed quantity (and its tax)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE fixes AS
        SELECT {int(delivery)} AS delivery, transaction_id__true AS transaction_id,
            CAST(customer_id__true AS BIGINT) AS customer_id,
            transaction_date__true AS transaction_date,
            CAST(product_id AS BIGINT) AS product_id, product_name__true AS product_name,
            CAST(quantity__true + CASE WHEN quantity__mess IS NULL THEN 1 ELSE 0 END AS INT) AS quantity,
            price__true AS price,
            CAST(round((quantity__true + CASE WHEN quantity__mess IS NULL THEN 1 ELSE 0 END)
                 * price__true * {TAX_RATE}, 2) AS DECIMAL(10, 2)) AS tax,
            first_name__true AS first_name, last_name__true AS last_name, email__true AS email,
            phone, country__true AS country, city__true AS city
        FROM latest
        WHERE u(transaction_id__true, {int(delivery)}, 'correct') < {float(share)!r}
            OR (quantity__mess IS NOT NULL AND u(transaction_id__true, {int(delivery)}, 'fill') < 0.5)
        """
    )
    return int(duck.scalar(con, "SELECT count(*) FROM fixes"))


def _deliver(con: Any, folder: Path, delivery: int, seed: int) -> int:
    """Corrupt ``clean`` into the delivered file; keep the truth beside the folder."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE keyed AS SELECT *, transaction_id AS _truth_key, "
        "transaction_id AS _order FROM clean"
    )
    corrupt(con, "keyed", "messy", key=["_truth_key", "delivery"], rules=DEFECTS, seed=seed, clean=CLEAN)
    name = delivery_file(delivery)
    written = write_csv(con, "messy", folder / name, columns=COLUMNS, order_by=["_order"])
    truth = truth_folder(folder) / f"delivery_{delivery:04d}.parquet"
    truth.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"COPY (SELECT *, {duck.literal(name)} AS file FROM messy) TO {duck.literal(str(truth))} "
        "(FORMAT parquet)"
    )
    return sum(w.rows for w in written)


GENERATOR = ForexGenerator()
generate = GENERATOR.generate
advance = GENERATOR.advance

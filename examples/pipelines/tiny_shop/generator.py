"""Synthetic source of the tiny_shop example: customers and their orders in SQLite.

Headwater calls ``generate`` (a fresh source) and ``advance`` (new orders and changed ones, so
the next run has incremental work); both return the row counts they wrote, per table.
"""

from __future__ import annotations

import random
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

DDL = (
    "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, "
    "amount NUMERIC(10, 2) NOT NULL, updated_at TIMESTAMP NOT NULL)",
)


def _path(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise ValueError(f"tiny_shop writes SQLite only, not {url.split(':', 1)[0]}")
    return Path(url.removeprefix("sqlite:///"))


def _orders(rng: random.Random, first_id: int, n: int, customers: int, at: datetime) -> list[tuple]:
    return [(first_id + i, rng.randint(1, customers), round(rng.uniform(5, 500), 2), at) for i in range(n)]


def generate(url: str, scale: float = 1.0, seed: int = 42, as_of: datetime | None = None) -> dict[str, int]:
    path = _path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rng = random.Random(seed)
    at = (as_of or datetime.now(UTC).replace(tzinfo=None)) - timedelta(hours=1)
    n_customers, n_orders = max(int(20 * scale), 1), max(int(100 * scale), 1)
    customers = [(i, f"customer {i}", at) for i in range(1, n_customers + 1)]
    with closing(sqlite3.connect(path)) as con, con:
        for ddl in DDL:
            con.execute(ddl)
        con.executemany("INSERT INTO customers VALUES (?, ?, ?)", customers)
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", _orders(rng, 1, n_orders, n_customers, at))
    return {"customers": n_customers, "orders": n_orders}


def advance(url: str, seed: int = 42, as_of: datetime | None = None) -> dict[str, int]:
    """Ten new orders and one changed amount, stamped now."""
    rng = random.Random(seed + 1)
    at = as_of or datetime.now(UTC).replace(tzinfo=None)
    with closing(sqlite3.connect(_path(url))) as con, con:
        customers = con.execute("SELECT count(*) FROM customers").fetchone()[0]
        last = con.execute("SELECT max(order_id) FROM orders").fetchone()[0]
        con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", _orders(rng, last + 1, 10, customers, at))
        con.execute("UPDATE orders SET amount = amount + 1, updated_at = ? WHERE order_id = 1", [at])
    return {"orders": 11}

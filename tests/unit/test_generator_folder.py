"""A file-source generator on the toolkit: a toy web shop that exports orders as CSV chunks and
writes an access log, generated and advanced, read back with the csv module."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from headwater.synthetic import Run, declare, ts
from headwater.synthetic.files import write_access_log, write_csv
from headwater.synthetic.folder import FolderSourceGenerator
from headwater.synthetic.sqltext import create_uniform

AS_OF = dt.datetime(2025, 6, 1, 12, 0, 0)


class ToyShop(FolderSourceGenerator):
    pipeline = "toy_shop"
    source = declare(
        """
        orders key(order_id) cursor(ordered_at)
            order_id bigint, ordered_at timestamp, amount numeric(10,2)
        """
    )

    def _orders(self, con, run: Run, first_id: int, since: dt.datetime, n: int) -> None:
        create_uniform(con, "u", run.seed)
        span = int((run.as_of - since).total_seconds())
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE out_orders AS
            SELECT {first_id} + range AS order_id,
                {ts(since)} + to_seconds(1 + floor(u(range + {first_id}, 0, 'at') * ({span} - 1))::BIGINT)
                    AS ordered_at,
                round(5 + u(range + {first_id}, 0, 'amount') * 200, 2)::DECIMAL(10,2) AS amount
            FROM range({n})
            """
        )
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE hits AS
            SELECT '192.0.2.' || (order_id % 250)::VARCHAR AS ip, NULL AS user_name,
                ordered_at AS requested_at, 'POST' AS method, '/checkout/' || order_id::VARCHAR AS path,
                'HTTP/1.1' AS protocol, 201 AS status, 512 AS bytes, NULL AS referrer, 'curl/8' AS user_agent
            FROM out_orders
            """
        )

    def write(self, con, folder: Path, run: Run) -> dict[str, int]:
        n = round(100 * run.scale)
        self._orders(con, run, 1, run.as_of - dt.timedelta(days=7), n)
        write_csv(con, "out_orders", folder / "orders" / "orders.csv", chunks=2, order_by=["order_id"])
        write_access_log(con, "hits", folder / "logs" / f"access-{run.as_of:%Y%m%d%H%M%S}.log")
        return {"orders": n}

    def write_changes(self, con, folder: Path, run: Run, since: dt.datetime) -> dict[str, int]:
        existing = len(read_orders(folder))
        n = round(10 * run.scale * run.new_fraction)
        self._orders(con, run, existing + 1, since, n)
        name = f"orders-{run.as_of:%Y%m%d%H%M%S}.csv"
        write_csv(con, "out_orders", folder / "orders" / name, order_by=["order_id"])
        write_access_log(con, "hits", folder / "logs" / f"access-{run.as_of:%Y%m%d%H%M%S}.log")
        return {"new_orders": n}


def read_orders(folder: Path) -> list[dict]:
    rows = []
    for path in sorted((folder / "orders").glob("*.csv")):
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f))
    return sorted(rows, key=lambda r: int(r["order_id"]))


def test_a_folder_source_generates_advances_and_refuses_the_past(tmp_path):
    shop = ToyShop()
    folder = tmp_path / "shop"
    assert shop.generate(f"file://{folder}", scale=0.5, seed=3, as_of=AS_OF) == {"orders": 50}
    assert sorted(p.name for p in (folder / "orders").iterdir()) == ["orders_001.csv", "orders_002.csv"]
    first = read_orders(folder)
    assert [int(r["order_id"]) for r in first] == list(range(1, 51))
    assert all(
        AS_OF - dt.timedelta(days=7) < dt.datetime.fromisoformat(r["ordered_at"]) < AS_OF for r in first
    )

    later = AS_OF + dt.timedelta(hours=5)
    assert shop.advance(str(folder), seed=3, as_of=later) == {"new_orders": 5}
    after = read_orders(folder)
    assert after[:50] == first and [int(r["order_id"]) for r in after[50:]] == list(range(51, 56))
    assert all(AS_OF < dt.datetime.fromisoformat(r["ordered_at"]) <= later for r in after[50:])
    assert len(list((folder / "logs").glob("*.log"))) == 2
    with pytest.raises(ValueError, match="not after the newest timestamp"):
        shop.advance(str(folder), seed=3, as_of=later)

    again = tmp_path / "again"
    shop.generate(str(again), scale=0.5, seed=3, as_of=AS_OF)
    assert read_orders(again) == first  # deterministic by seed
    shop.generate(str(folder), scale=0.5, seed=4, as_of=AS_OF)  # replaces the earlier files
    assert len(read_orders(folder)) == 50 and read_orders(folder) != first
    assert len(list((folder / "logs").glob("*.log"))) == 1


def test_a_folder_source_needs_generate_first_and_a_local_folder(tmp_path):
    with pytest.raises(Exception, match="generate"):
        ToyShop().advance(str(tmp_path / "empty"), as_of=AS_OF)
    with pytest.raises(ValueError, match="local folder"):
        ToyShop().generate("s3://bucket/shop", as_of=AS_OF)
    with pytest.raises(ValueError, match="scale"):
        ToyShop().generate(str(tmp_path / "x"), scale=0, as_of=AS_OF)

"""The forex generator: deterministic messy deliveries, the seed's defects at their rates, the
truth kept beside the folder, and an advance that delivers new and corrected transactions."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from headwater.pipelines.forex import generator
from headwater.pipelines.forex.generator import COLUMNS, DEFECTS, truth_folder

AS_OF = datetime(2026, 6, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forex") / "drop"
    generator.generate(str(folder), scale=0.5, seed=3, as_of=AS_OF)
    return folder


def _csv(path) -> list[tuple]:
    return duckdb.sql(f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)").fetchall()


def test_the_delivery_is_deterministic_and_has_the_declared_header(folder, tmp_path):
    again = tmp_path / "drop"
    generator.generate(str(again), scale=0.5, seed=3, as_of=AS_OF)
    first = (folder / "transactions_0001.csv").read_bytes()
    assert first == (again / "transactions_0001.csv").read_bytes()
    assert first.split(b"\n", 1)[0].decode() == ",".join(COLUMNS)
    assert len(_csv(folder / "transactions_0001.csv")) == 5000
    assert not list(folder.glob("*.parquet"))  # the truth is beside the folder, not in it
    assert (truth_folder(folder) / "delivery_0001.parquet").is_file()


def test_every_defect_is_there_at_about_its_rate(folder):
    truth = str(truth_folder(folder) / "delivery_0001.parquet")
    for column, defects in DEFECTS.items():
        for kind, rate in defects:
            (n,) = duckdb.sql(f"SELECT count(*) FROM '{truth}' WHERE {column}__mess = '{kind}'").fetchone()
            assert abs(n / 5000 - rate) < max(rate * 0.5, 0.003), (column, kind, n)
    rows = _csv(folder / "transactions_0001.csv")
    price = COLUMNS.index("price")
    assert any(" hundred and " in (r[price] or "") for r in rows)
    assert any("-" in (r[price] or "") and (r[price] or "")[0].isalpha() for r in rows)
    (shared,) = duckdb.sql(
        f"SELECT count(*) FROM (SELECT email__true FROM '{truth}' GROUP BY 1 "
        "HAVING count(DISTINCT customer_id__true) > 1)"
    ).fetchone()
    assert shared > 0  # emails repeat across customers


def test_advance_delivers_new_and_corrected_transactions(folder):
    result = generator.advance(str(folder), seed=3, as_of=AS_OF + timedelta(days=1))
    second = _csv(folder / "transactions_0002.csv")
    assert len(second) == result["transactions"] and result["corrections"] > 0
    ids = {r[0] for r in _csv(folder / "transactions_0001.csv")}
    again = [r for r in second if r[0] in ids]
    assert 0 < len(again) <= result["corrections"]
    truth = str(truth_folder(folder) / "delivery_*.parquet")
    (changed,) = duckdb.sql(
        f"SELECT count(*) FROM '{truth}' AS b JOIN '{truth}' AS a USING (transaction_id__true) "
        "WHERE a.delivery = 1 AND b.delivery = 2 AND a.quantity__true <> b.quantity__true"
    ).fetchone()
    assert changed > 0

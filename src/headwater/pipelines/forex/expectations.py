"""What the forex warehouse must hold, computed from the generator's truth, never from the pipeline.

The generator keeps, beside the delivered folder, every delivered line's true values
(``<col>__true``) and the defect applied to each (``<col>__mess``). From those alone this module
computes, with its own DuckDB connection:

- which transactions end up usable and which in quarantine, with which reason (a transaction
  counts in its latest delivery that carried its id: a line without an id cannot replace
  anything, and is quarantined by the loader);
- the cleaned values silver must show (number words as numbers, dates, ids, names);
- the marts: sales per month, per customer and per country.

The end-to-end test (tests/e2e/test_forex.py) compares these with the warehouse.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

OWN_E2E = True
"""A file source and a medallion: tests/e2e/test_forex.py runs it, not the SQL-source harness."""
GENERATE: dict[str, Any] = {"scale": 0.3}
ADVANCE: dict[str, Any] = {"new_fraction": 0.1, "update_fraction": 0.05}
CHUNK_ROWS = 700
"""The end-to-end runs force chunks this small, so every delivery loads in several."""

REASONS = {
    "quantity": "missing quantity",
    "transaction_date": "unparseable transaction_date",
    "price": "price is not a number or number words",
}
NULL_KEY_REASON = "NULL in primary key (transaction_id)"


class Truth:
    """The generator's truth files, queried with DuckDB."""

    def __init__(self, source_folder: str | Path) -> None:
        import duckdb

        from headwater.pipelines.forex.generator import truth_folder

        self.folder = truth_folder(Path(source_folder))
        self.con = duckdb.connect()
        files = str(self.folder / "delivery_*.parquet").replace("'", "''")
        self.con.execute(f"CREATE VIEW delivered AS SELECT * FROM read_parquet('{files}')")
        # The version each keyed transaction ends at, and why it is usable or not.
        self.con.execute(
            """
            CREATE VIEW final AS
            SELECT *,
                CASE WHEN quantity__mess IS NOT NULL THEN 'missing quantity'
                     WHEN transaction_date__mess = 'wrong_type' THEN 'unparseable transaction_date'
                     WHEN price__mess = 'wrong_type' THEN 'price is not a number or number words'
                END AS reason,
                CAST(quantity__true * price__true AS DECIMAL(14, 2)) AS revenue
            FROM delivered WHERE transaction_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY transaction_id ORDER BY delivery DESC) = 1
            """
        )
        self.con.execute("CREATE VIEW usable AS SELECT * FROM final WHERE reason IS NULL")

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()

    def close(self) -> None:
        self.con.close()


def outcomes(truth: Truth) -> dict[str, int]:
    """Rows per outcome: usable, each quarantine reason, and lines without an id."""
    out = dict(truth.rows("SELECT coalesce(reason, 'usable'), count(*) FROM final GROUP BY 1"))
    unkeyed = truth.rows("SELECT count(*) FROM delivered WHERE transaction_id IS NULL")[0][0]
    if unkeyed:
        out[NULL_KEY_REASON] = unkeyed
    return out


def lines_delivered(truth: Truth) -> int:
    return int(truth.rows("SELECT count(*) FROM delivered")[0][0])


def keyed_transactions(truth: Truth) -> int:
    return int(truth.rows("SELECT count(*) FROM final")[0][0])


def cleaned(truth: Truth) -> dict[str, tuple]:
    """transaction_id -> the values silver must hold for it (usable transactions only)."""
    rows = truth.rows(
        """
        SELECT transaction_id,
            CASE WHEN customer_id__mess = 'null' THEN NULL ELSE customer_id__true END,
            transaction_date__true, product_id, product_name__true, quantity__true,
            price__true, tax__true, first_name__true, last_name__true, email__true,
            country__true, city__true,
            coalesce(price__mess = 'number_words' AND price__true = trunc(price__true), false),
            coalesce(regexp_full_match(transaction_date, '[0-9]{2}/[0-9]{2}/[0-9]{4}')
                AND TRY_CAST(split_part(transaction_date, '/', 1) AS INT) <= 12
                AND TRY_CAST(split_part(transaction_date, '/', 2) AS INT) <= 12
                AND split_part(transaction_date, '/', 1) <> split_part(transaction_date, '/', 2), false)
        FROM usable
        """
    )
    return by_first_column(rows)


SILVER_COLUMNS = (
    "customer_id, transaction_date, product_id, product_name, quantity, unit_price, tax, "
    "first_name, last_name, email, country, city, price_in_words, date_is_ambiguous"
)
"""The silver columns, in the order of :func:`cleaned`'s values."""


def by_first_column(rows: list[tuple]) -> dict[Any, tuple]:
    """{first value: the rest} with values made comparable (see _plain)."""
    return {r[0]: tuple(_plain(v) for v in r[1:]) for r in rows}


def monthly_sales(truth: Truth) -> dict[Any, tuple]:
    return by_first_column(
        truth.rows(
            "SELECT date_trunc('month', transaction_date__true)::DATE, count(*), sum(quantity__true), "
            "sum(revenue), sum(tax__true), sum(revenue + tax__true) FROM usable GROUP BY 1"
        )
    )


def sales_by_customer(truth: Truth) -> dict[Any, tuple]:
    """Known customers: transactions delivered with their customer_id."""
    return by_first_column(
        truth.rows(
            "SELECT customer_id__true, count(*), sum(quantity__true), sum(revenue), "
            "sum(revenue + tax__true) FROM usable WHERE customer_id__mess IS DISTINCT FROM 'null' "
            "GROUP BY 1"
        )
    )


def sales_by_country(truth: Truth) -> dict[Any, tuple]:
    return by_first_column(
        truth.rows(
            "SELECT country__true, count(DISTINCT CASE WHEN customer_id__mess IS DISTINCT FROM 'null' "
            "THEN customer_id__true END), count(*), sum(quantity__true), sum(revenue), "
            "sum(revenue + tax__true) FROM usable GROUP BY 1"
        )
    )


MART_QUERIES = {
    "mart_monthly_sales": "SELECT sales_month, transactions, units, revenue, tax, total FROM {m}",
    "mart_sales_by_customer": "SELECT customer_id, transactions, units, revenue, total FROM {m}",
    "mart_sales_by_country": "SELECT country, customers, transactions, units, revenue, total FROM {m}",
}
FIGURES = {
    "mart_monthly_sales": monthly_sales,
    "mart_sales_by_customer": sales_by_customer,
    "mart_sales_by_country": sales_by_country,
}


def from_truth(truth: Truth) -> dict[str, dict[Any, tuple]]:
    return {mart: figure(truth) for mart, figure in FIGURES.items()}


def from_marts(wh: Any, mart: Any) -> dict[str, dict[Any, tuple]]:
    """The same figures read from the marts (``mart(model)`` is the model's relation)."""
    return {
        model: by_first_column(wh.query(sql.format(m=mart(model)))) for model, sql in MART_QUERIES.items()
    }


def _plain(value: Any) -> Any:
    """Values compared exactly whatever the driver returns: amounts to cents, timestamps to
    their day (the marts' months and dates are days)."""
    if isinstance(value, Decimal | float):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, datetime):
        return value.date()
    return value

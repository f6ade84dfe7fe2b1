"""Figures the pacbikes marts and dashboard must show, computed independently from the source.

``from_source`` reads the shop database with its own driver (sqlite3 or psycopg, through the
test's reader) and sums in Python; ``from_marts`` asks the warehouse's marts the same questions;
``dashboard_figures`` runs the dashboard page's own queries. pacbikes has two DAGs and an API
beside its database, so it brings its own end-to-end module (tests/e2e/test_pacbikes.py):
``OWN_E2E``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

OWN_E2E = True
GENERATE: dict[str, Any] = {"scale": 0.05}
"""Small: CI time matters (about 150 orders, 20 products)."""
ADVANCE: dict[str, Any] = {"new_fraction": 0.1, "update_fraction": 0.25}
AS_OF_LAG = timedelta(days=2)
ADVANCE_BY = timedelta(days=1)
TOP = 10


def _cents(value: Any) -> int:
    """Money as integer cents: SQLite hands NUMERIC back as float, Postgres as Decimal."""
    return int((Decimal(str(value)) * 100).to_integral_value())


def _month(value: Any) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{moment:%Y-%m}"


def _lines(src) -> list[tuple]:
    return src.rows(
        "SELECT h.orderdate, h.customerid, h.salespersonid, h.territoryid, d.productid, d.linetotal, "
        "d.orderqty FROM salesorderdetail AS d JOIN salesorderheader AS h ON h.salesorderid = d.salesorderid"
    )


def _top(totals: dict[Any, int], names: dict[Any, Any]) -> list[tuple]:
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    return [(names.get(k), cents) for k, cents in ranked]


def from_source(src) -> dict[str, Any]:
    """Order lines, revenue (in cents) per month and territory, the top 10s, from the source."""
    lines = _lines(src)
    by_month: dict[str, int] = defaultdict(int)
    by_territory: dict[int, int] = defaultdict(int)
    by_customer: dict[int, int] = defaultdict(int)
    by_product: dict[int, int] = defaultdict(int)
    by_person: dict[int, int] = defaultdict(int)
    for orderdate, customer, person, territory, product, linetotal, _qty in lines:
        cents = _cents(linetotal)
        by_month[_month(orderdate)] += cents
        by_territory[int(territory)] += cents
        by_customer[int(customer)] += cents
        by_product[int(product)] += cents
        if person is not None:
            by_person[int(person)] += cents
    people = dict(src.rows("SELECT businessentityid, firstname || ' ' || lastname FROM person"))
    stores = dict(src.rows("SELECT businessentityid, name FROM store"))
    customers = {
        cid: stores[store] if store is not None else people[person]
        for cid, person, store in src.rows("SELECT customerid, personid, storeid FROM customer")
    }
    products = dict(src.rows("SELECT productid, name FROM product"))
    territory_names = dict(src.rows("SELECT territoryid, name FROM salesterritory"))
    territory_of = dict(src.rows("SELECT businessentityid, territoryid FROM salesperson"))
    months = sorted(by_month)
    growth = {
        m: round(by_month[m] / by_month[p] - 1, 4)
        for p, m in zip(months, months[1:], strict=False)
        if by_month[p]
    }
    return {
        "order_lines": len(lines),
        "revenue_by_month": dict(by_month),
        "growth_by_month": growth,
        "revenue_by_territory": {territory_names[t]: c for t, c in by_territory.items()},
        "top_customers": _top(by_customer, customers),
        "top_products": _top(by_product, products),
        "top_salespeople": [
            (people[p], territory_names.get(territory_of.get(p)), cents)  # type: ignore[arg-type]
            for p, cents in sorted(by_person.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
        ],
    }


def from_marts(wh, mart) -> dict[str, Any]:
    """The same figures from the marts (``mart(model)`` is a model's relation)."""
    fact = mart("fct_sales_order_line")
    months = dict(wh.query(f"SELECT strftime(order_date, '%Y-%m'), sum(line_total) FROM {fact} GROUP BY 1"))
    by_month = {m: _cents(v) for m, v in months.items()}
    ordered = sorted(by_month)
    territories = wh.query(
        f"SELECT t.territory_name, sum(f.line_total) FROM {fact} AS f "
        f"LEFT JOIN {mart('dim_sales_territory')} AS t USING (territory_id) GROUP BY 1"
    )
    return {
        "order_lines": wh.query(f"SELECT count(*) FROM {fact}")[0][0],
        "revenue_by_month": by_month,
        "growth_by_month": {
            m: round(by_month[m] / by_month[p] - 1, 4)
            for p, m in zip(ordered, ordered[1:], strict=False)
            if by_month[p]
        },
        "revenue_by_territory": {name: _cents(v) for name, v in territories},
        **_tops_from(wh, mart),
    }


def _tops_from(wh, mart) -> dict[str, Any]:
    fact = mart("fct_sales_order_line")
    customers = wh.query(
        f"SELECT c.customer_name, sum(f.line_total) AS r FROM {fact} AS f "
        f"LEFT JOIN {mart('dim_customer')} AS c USING (customer_id) "
        f"GROUP BY f.customer_id, 1 ORDER BY r DESC, f.customer_id LIMIT {TOP}"
    )
    products = wh.query(
        f"SELECT p.product_name, sum(f.line_total) AS r FROM {fact} AS f "
        f"LEFT JOIN {mart('dim_product')} AS p USING (product_id) "
        f"GROUP BY f.product_id, 1 ORDER BY r DESC, f.product_id LIMIT {TOP}"
    )
    people = wh.query(
        f"SELECT s.sales_person_name, t.territory_name, sum(f.line_total) AS r FROM {fact} AS f "
        f"LEFT JOIN {mart('dim_sales_person')} AS s USING (sales_person_id) "
        f"LEFT JOIN {mart('dim_sales_territory')} AS t ON t.territory_id = s.territory_id "
        f"WHERE f.sales_person_id IS NOT NULL "
        f"GROUP BY f.sales_person_id, 1, 2 ORDER BY r DESC, f.sales_person_id LIMIT {TOP}"
    )
    return {
        "top_customers": [(n, _cents(r)) for n, r in customers],
        "top_products": [(n, _cents(r)) for n, r in products],
        "top_salespeople": [(n, t, _cents(r)) for n, t, r in people],
    }


def dashboard_figures(con) -> dict[str, Any]:
    """The dashboard page's own queries, in the shape of ``from_source``'s figures."""
    from headwater.pipelines.pacbikes import dashboard

    def rows(df, columns: list[str]) -> list[tuple]:
        return [(*r[:-1], _cents(round(r[-1], 2))) for r in df[columns].itertuples(index=False)]

    months = dashboard.monthly_revenue(con)
    return {
        "revenue_by_month": {f"{m:%Y-%m}": c for m, c in rows(months, ["month", "revenue"])},
        "growth_by_month": {
            f"{m:%Y-%m}": round(g, 4) for m, g in zip(months.month, months.growth, strict=True) if pd_value(g)
        },
        "top_customers": rows(dashboard.top_customers(con), ["customer_name", "revenue"]),
        "top_products": rows(dashboard.top_products(con), ["product_name", "revenue"]),
        "top_salespeople": rows(
            dashboard.top_salespeople(con), ["sales_person_name", "territory_name", "revenue"]
        ),
    }


def pd_value(value: Any) -> bool:
    """Not None and not NaN (pandas' missing value)."""
    return value is not None and value == value


def product_costs(src) -> dict[int, tuple[Any, Any]]:
    """Per product: (standard cost in cents, modifieddate) as the source holds it now."""
    return {
        pid: (_cents(cost), when)
        for pid, cost, when in src.rows("SELECT productid, standardcost, modifieddate FROM product")
    }


def expected_line_costs(src, before: dict[int, tuple[int, Any]]) -> dict[tuple[int, int], int]:
    """Per order line, the standard cost (cents) of the product version valid at its order date:
    the cost ``before`` the advance for orders placed before the product's change, the current
    one from the change on (the generator's truth: one change per advance)."""
    after = product_costs(src)
    out = {}
    for order, detail, product, orderdate in src.rows(
        "SELECT d.salesorderid, d.salesorderdetailid, d.productid, h.orderdate FROM salesorderdetail AS d "
        "JOIN salesorderheader AS h ON h.salesorderid = d.salesorderid"
    ):
        cost, changed_at = after[product]
        changed = _moment(changed_at) if before[product][0] != cost else None
        placed = _moment(orderdate)
        out[(int(order), int(detail))] = before[product][0] if changed and placed < changed else cost
    return out


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value

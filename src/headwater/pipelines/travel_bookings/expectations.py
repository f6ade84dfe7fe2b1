"""Figures the travel_bookings marts must show, computed independently from the source.

Read by the end-to-end test (tests/e2e/test_pipelines.py), which runs the DAG three times
(first load, after ``advance``, with nothing new) and compares ``from_marts`` with
``from_source`` after each. ``src.rows(sql, params)`` reads the source database with its own
driver; ``wh.query`` reads the warehouse; ``mart(model)`` is the model's relation, found in
dbt's manifest. Nothing here is read back from what the pipeline produced to build an expected
value.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

GENERATE: dict[str, Any] = {"scale": 0.05}
"""Arguments to the generator for the end-to-end runs (small: CI time matters)."""
ADVANCE: dict[str, Any] = {"new_fraction": 0.02, "update_fraction": 0.05}
AS_OF_LAG = timedelta(hours=2)
"""The source ends this long before now; the advance moves it ADVANCE_BY later."""
ADVANCE_BY = timedelta(hours=1)

_RATES_CSV = Path(__file__).resolve().parent / "dbt" / "seeds" / "currencies.csv"
CENT = Decimal("0.01")


def eur_rates() -> dict[str, Decimal]:
    with _RATES_CSV.open() as f:
        return {r["currency_code"]: Decimal(r["eur_rate"]) for r in csv.DictReader(f)}


def _daily_summary(src) -> dict[str, dict[str, object]]:
    """rep_booking_summary recomputed from the source: per booking day (created_at date)."""
    rates = eur_rates()
    bookings = src.rows("SELECT booking_id, created_at, status FROM booking")
    day = {b: str(c)[:10] for b, c, _ in bookings}
    status = {b: s for b, _, s in bookings}
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    prices: dict[str, list[Decimal]] = defaultdict(list)
    for b, d in day.items():
        out[d]["bookings"] += 1
        out[d]["cancelled_bookings"] += status[b] == "cancelled"
    for b, price, cur in src.rows("SELECT booking_id, booking_price, booking_currency FROM ticket"):
        out[day[b]]["tickets"] += 1
        if status[b] != "cancelled":
            prices[day[b]].append((Decimal(str(price)) * rates[cur]).quantize(CENT, ROUND_HALF_UP))
    for (b,) in src.rows("SELECT booking_id FROM passenger"):
        out[day[b]]["passengers"] += 1
    for (b,) in src.rows("SELECT booking_id FROM segment"):
        out[day[b]]["segments"] += 1
    for d, values in out.items():
        values["revenue_eur"] = sum(prices[d], Decimal("0"))
    return {d: dict(v) for d, v in out.items()}


def from_source(src) -> dict[str, Any]:
    status = dict(src.rows("SELECT booking_id, status FROM booking"))
    n_tickets = src.rows("SELECT count(*) FROM ticket")[0][0]
    return {
        "daily summary": _daily_summary(src),
        "ticket sales rows (all, distinct)": (n_tickets, n_tickets),
        "booking status": status,
        "ticket status": {t: status[b] for t, b in src.rows("SELECT ticket_id, booking_id FROM ticket")},
    }


def from_marts(wh, mart) -> dict[str, Any]:
    summary = {
        str(r[0]): {
            "bookings": r[1],
            "tickets": r[2],
            "passengers": r[3],
            "segments": r[4],
            "revenue_eur": Decimal(str(r[5])),
            "cancelled_bookings": r[6],
        }
        for r in wh.query(
            "SELECT booking_date::VARCHAR, bookings, tickets, passengers, segments, revenue_eur, "
            f"cancelled_bookings FROM {mart('rep_booking_summary')}"
        )
    }
    sales = mart("fct_ticket_sales")
    return {
        "daily summary": summary,
        "ticket sales rows (all, distinct)": tuple(
            wh.query(f"SELECT count(*), count(DISTINCT ticket_id) FROM {sales}")[0]
        ),
        "booking status": dict(wh.query(f"SELECT booking_id, booking_status FROM {mart('dim_bookings')}")),
        "ticket status": dict(wh.query(f"SELECT ticket_id, booking_status FROM {sales}")),
    }


def check_after_advance(wh, mart, before: dict[str, Any], after: dict[str, Any], run) -> None:
    """Status changes made by ``advance`` closed the snapshot's old versions (one current each);
    bookings it purged (cancelled long ago: gone from the source) are marked deleted in raw
    and have no current snapshot version left."""
    old, new = before["booking status"], after["booking status"]
    changed = {b for b, s in new.items() if b in old and old[b] != s}
    assert changed, "advance changed some booking statuses"
    purged = set(old) - set(new)  # read from the source before and after the advance
    assert purged and all(old[b] == "cancelled" for b in purged), "advance purged cancelled bookings"
    versions = wh.query(
        "SELECT booking_id, count(*), count(*) FILTER (WHERE dbt_valid_to IS NULL), "
        "max(CASE WHEN dbt_valid_to IS NOT NULL THEN booking_status END) "
        f"FROM {mart('bookings_snapshot')} GROUP BY booking_id"
    )
    for booking_id, n_versions, n_current, closed_status in versions:
        assert n_current == (0 if booking_id in purged else 1), booking_id
        if booking_id in changed:
            assert n_versions >= 2 and closed_status == old[booking_id], booking_id
    marked = wh.query("SELECT booking_id FROM wh.raw_travel_bookings.booking WHERE _deleted_at IS NOT NULL")
    assert {r[0] for r in marked} == purged

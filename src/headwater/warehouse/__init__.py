"""Warehouse adapters: DuckDB (embedded default) and PostgreSQL, behind one interface."""

from __future__ import annotations

from headwater.duck import parse_url
from headwater.warehouse.base import LoadResult, Warehouse


def open_warehouse(url: str) -> Warehouse:
    """The adapter for a warehouse URL (duckdb:///file or postgresql://...)."""
    kind, _ = parse_url(url)
    if kind == "duckdb":
        from headwater.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(url)
    if kind == "postgres":
        from headwater.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(url)
    raise ValueError(f"{kind} cannot be a warehouse; use duckdb:/// or postgresql://")


__all__ = ["LoadResult", "Warehouse", "open_warehouse"]

"""Warehouse adapters: DuckDB (embedded default) and PostgreSQL, behind one interface."""

from __future__ import annotations

from headwater.warehouse.base import LoadResult, Warehouse
from headwater.warehouse.capabilities import Capabilities, capabilities


def open_warehouse(url: str) -> Warehouse:
    """The adapter for a warehouse URL (duckdb:///file or postgresql://...)."""
    kind = capabilities(url).kind  # an unsupported URL: a clear ConfigError
    if kind == "duckdb":
        from headwater.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(url)
    from headwater.warehouse.postgres import PostgresWarehouse

    return PostgresWarehouse(url)


__all__ = ["Capabilities", "LoadResult", "Warehouse", "capabilities", "open_warehouse"]

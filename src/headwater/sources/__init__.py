"""Source adapters: each turns "rows of table T changed since W" into a DuckDB relation."""

from headwater.sources.sql import SqlSource

__all__ = ["SqlSource"]

"""Source adapters: each turns "rows of table T changed since W" into a DuckDB relation."""

from __future__ import annotations

from headwater.sources.base import Source
from headwater.sources.files import FileSource
from headwater.sources.sql import SqlSource
from headwater.spec import SourceSpec

__all__ = ["FileSource", "Source", "SqlSource", "open_source"]


def open_source(source: SourceSpec, url: str) -> Source:
    """The adapter for a spec's source, reading from ``url`` (the spec's, or an override)."""
    if source.kind == "files":
        return FileSource(url)
    if source.kind == "http":
        from headwater.sources.http_api import HttpApiSource

        return HttpApiSource(url, source.name)
    return SqlSource(url, source.schema)

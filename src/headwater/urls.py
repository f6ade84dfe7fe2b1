"""Database URLs: which kind of database, and how to print one without its password."""

from __future__ import annotations

import re

from headwater.errors import ConfigError


def parse_url(url: str) -> tuple[str, str]:
    """Split a database URL into (kind, path-or-url): sqlite, duckdb or postgres."""
    if url.startswith("sqlite:///"):
        return "sqlite", url[len("sqlite:///") :]
    if url.startswith("duckdb:///"):
        return "duckdb", url[len("duckdb:///") :]
    if re.match(r"^postgres(ql)?(\+\w+)?://", url):
        return "postgres", url
    raise ConfigError(
        f"unsupported database URL {mask_url(url)!r}: use sqlite:///path, duckdb:///path "
        "or postgresql://user@host:port/dbname"
    )


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for logs and messages."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def url_password(url: str) -> str | None:
    m = re.match(r"^[a-z+]+://[^:/@]+:([^@]*)@", url)
    return m.group(1) if m else None

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


# The shapes a secret takes in a message: user:password@ in a URL, a libpq keyword DSN
# (password=x or password='x y', as DuckDB's postgres extension echoes it), and query
# parameters such as ?password=, &token=, &X-Amz-Signature=.
# Up to the last "@" of the authority: a password may hold an unencoded "@".
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^/\s]*@")
_KEY_VALUE = re.compile(
    r"\b(password|passwd|pwd|secret|token|api_key|apikey|access_key|secret_access_key|"
    r"aws_secret_access_key|sslpassword|x-amz-signature|x-amz-credential|signature|sig)"
    r"([\"']?\s*[=:]\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,)'\"]+)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """The text with any password replaced by ***, for logs and messages.

    Handles URLs (``user:pw@``), libpq ``key=value`` DSNs and secret query parameters, so it
    is safe on a whole error message too, not only on a URL.
    """
    text = _URL_PASSWORD.sub(r"\1***@", url)
    return _KEY_VALUE.sub(lambda m: m.group(1) + m.group(2) + "***", text)


def url_password(url: str) -> str | None:
    m = re.match(r"^[a-z0-9+.-]+://[^:/@]+:([^@]*)@", url, re.IGNORECASE)
    return m.group(1) if m else None


def url_secrets(url: str) -> list[str]:
    """Every form a URL's password can take in a message: as written and percent-decoded."""
    from urllib.parse import unquote

    password = url_password(url)
    if not password:
        return []
    return sorted({password, unquote(password)}, key=len, reverse=True)


def mask_secrets(text: str, *urls: str) -> str:
    """``text`` with the passwords of ``urls`` (in any form) and every secret shape masked."""
    for url in urls:
        for secret in url_secrets(url):
            if len(secret) >= 3:
                text = text.replace(secret, "***")
    return mask_url(text)

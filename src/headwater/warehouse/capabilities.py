"""What a warehouse can and cannot do, stated once per kind instead of URL-prefix checks.

Importable at DAG parse time: no database, no driver, only the URL's scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from headwater.errors import ConfigError
from headwater.urls import mask_url, parse_url


@dataclass(frozen=True)
class Capabilities:
    kind: str
    single_writer: bool
    """One writing process at a time (a DuckDB file): Airflow routes writers through a one-slot pool."""
    dbt_adapter: str
    """The dbt adapter (and profile target type) that builds models in this warehouse."""
    advisory_locks: bool
    """Concurrent loads of one table serialize on a lock inside the database."""


CAPABILITIES = {
    "duckdb": Capabilities("duckdb", single_writer=True, dbt_adapter="duckdb", advisory_locks=False),
    "postgres": Capabilities("postgres", single_writer=False, dbt_adapter="postgres", advisory_locks=True),
}


def capabilities(url: str) -> Capabilities:
    """The capabilities of the warehouse at ``url`` (duckdb:///file or postgresql://...)."""
    kind, _ = parse_url(url)
    if kind not in CAPABILITIES:
        raise ConfigError(f"{mask_url(url)} cannot be a warehouse: use duckdb:///path or postgresql://...")
    return CAPABILITIES[kind]

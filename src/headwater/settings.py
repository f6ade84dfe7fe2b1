"""One typed settings object, read from the environment.

The environment picks the adapters: the embedded default (SQLite source, local Parquet lake,
DuckDB warehouse) needs no variable at all; production sets URLs. Secrets (passwords inside
URLs, the Slack webhook) only ever come from the environment or Airflow connections, and
``describe()`` prints them masked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from headwater.errors import ConfigError
from headwater.urls import mask_url, parse_url

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_TARGETS = ("dev", "pro")


@dataclass(frozen=True)
class Settings:
    home: Path
    """Where the embedded default keeps its files: sources/, lake/, warehouse.duckdb, airflow/."""
    warehouse_url: str
    """duckdb:///path (default: <home>/warehouse.duckdb) or postgresql://user@host:port/db."""
    lake_url: str
    """Root of the landing zone: a local folder (default <home>/lake) or s3://bucket/prefix."""
    source_url: str | None
    """Overrides every pipeline's default source URL (e.g. a production Postgres)."""
    dags_folder: Path
    """The folder of thin DAG files Airflow parses."""
    dbt_target: str = "pro"
    """dbt target: pro builds the pipelines' schemas, dev separate <pipeline>_dev_* ones."""

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("HEADWATER_HOME", Path.cwd() / ".headwater")).resolve()
        return cls(
            home=home,
            warehouse_url=os.environ.get("HEADWATER_WAREHOUSE_URL", f"duckdb:///{home / 'warehouse.duckdb'}"),
            lake_url=os.environ.get("HEADWATER_LAKE_URL", str(home / "lake")),
            source_url=os.environ.get("HEADWATER_SOURCE_URL") or None,
            dags_folder=Path(os.environ.get("HEADWATER_DAGS_FOLDER", REPO_ROOT / "dags")),
            dbt_target=_dbt_target(os.environ.get("HEADWATER_DBT_TARGET") or "pro"),
        )

    @property
    def warehouse_kind(self) -> str:
        return parse_url(self.warehouse_url)[0]

    @property
    def airflow_home(self) -> Path:
        return Path(os.environ.get("AIRFLOW_HOME", self.home / "airflow"))

    def describe(self) -> dict[str, str]:
        """Settings as printable strings, secrets masked."""
        return {
            "home": str(self.home),
            "warehouse": mask_url(self.warehouse_url),
            "lake": mask_url(self.lake_url),
            "source override": mask_url(self.source_url) if self.source_url else "(none)",
            "dags folder": str(self.dags_folder),
            "dbt target": self.dbt_target,
        }


def _dbt_target(value: str) -> str:
    if value not in DBT_TARGETS:
        raise ConfigError(f"HEADWATER_DBT_TARGET is {value!r}; expected one of {', '.join(DBT_TARGETS)}")
    return value

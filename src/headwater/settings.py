"""One typed settings object, read from the environment.

The environment picks the adapters: the embedded default (SQLite source, local Parquet lake,
DuckDB warehouse) needs no variable at all; production sets URLs. Secrets (passwords inside
URLs, tokens, the Slack webhook) only ever come from the environment or Airflow connections,
and ``describe()`` prints them masked.

This module is the only place that reads the process environment for configuration: every
variable is a field below (with its docstring) and a row in the README's configuration table.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigError
from headwater.urls import mask_url, parse_url

if TYPE_CHECKING:
    from headwater.spec import PipelineSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_TARGETS = ("dev", "pro")
log = logging.getLogger(__name__)

SOURCE_VAR = re.compile(r"^HEADWATER_SOURCE_([A-Z0-9_]+)_(URL|TOKEN)$")
"""Per-source variables: HEADWATER_SOURCE_<PIPELINE>_<SOURCE>_URL, HEADWATER_SOURCE_<NAME>_TOKEN."""
LEGACY_SOURCE_URL = "HEADWATER_SOURCE_URL"
"""Deprecated: overrode the main source of every pipeline at once."""
_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|WEBHOOK|_KEY)$")


def source_url_variable(pipeline: str, source: str) -> str:
    """The variable that points one pipeline's source elsewhere, e.g. HEADWATER_SOURCE_FLIGHTS_MAIN_URL."""
    return f"HEADWATER_SOURCE_{pipeline.upper()}_{source.upper()}_URL"


def source_token_variable(source: str) -> str:
    """The variable holding an HTTP source's bearer token, e.g. HEADWATER_SOURCE_CURRENCY_TOKEN."""
    return f"HEADWATER_SOURCE_{source.upper()}_TOKEN"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value else default


def _paths(raw: str | None) -> tuple[Path, ...]:
    return tuple(Path(p).expanduser().resolve() for p in (raw or "").split(os.pathsep) if p.strip())


@dataclass(frozen=True)
class Settings:
    home: Path
    """HEADWATER_HOME: where the embedded default keeps its files: sources/, lake/,
    warehouse.duckdb, airflow/, dbt/."""
    warehouse_url: str
    """HEADWATER_WAREHOUSE_URL: duckdb:///path (default: <home>/warehouse.duckdb) or
    postgresql://user@host:port/db."""
    lake_url: str
    """HEADWATER_LAKE_URL: root of the landing zone, a local folder (default <home>/lake) or
    s3://bucket/prefix."""
    source_url: str | None
    """HEADWATER_SOURCE_URL, deprecated: overrides the main source of *every* pipeline. Use
    ``HEADWATER_SOURCE_<PIPELINE>_<SOURCE>_URL`` (see ``source_urls``), which wins over it."""
    dags_folder: Path
    """HEADWATER_DAGS_FOLDER: the folder of thin DAG files Airflow parses."""
    dbt_target: str = "pro"
    """HEADWATER_DBT_TARGET: dbt target, pro (the pipelines' schemas) or dev (separate
    <pipeline>_dev_* schemas), on whichever warehouse."""
    dbt_target_chosen: bool = False
    """Whether HEADWATER_DBT_TARGET was set: then it wins over a pipeline's own default
    (``transform.dbt_target`` in its spec; see :meth:`dbt_target_for`)."""
    dbt_render: str | None = None
    """HEADWATER_DBT_RENDER: steps or per_model, for every pipeline whose DAGs allow it, over
    its spec's ``transform.render`` (a deployment's choice; see :meth:`render_for`)."""
    source_urls: Mapping[str, str] = field(default_factory=dict)
    """HEADWATER_SOURCE_<PIPELINE>_<SOURCE>_URL: one source of one pipeline read from another
    URL (e.g. HEADWATER_SOURCE_FLIGHTS_MAIN_URL=postgresql://…; a ``source:`` is named main).
    Keyed by ``<PIPELINE>_<SOURCE>`` in upper case."""
    source_tokens: Mapping[str, str] = field(default_factory=dict, repr=False)
    """HEADWATER_SOURCE_<NAME>_TOKEN: the bearer token of the HTTP source <NAME> (secret)."""
    pipeline_paths: tuple[Path, ...] = ()
    """HEADWATER_PIPELINE_PATHS: extra pipeline folders (os.pathsep-separated), each holding
    ``<name>/pipeline.yaml`` folders (or being one), found beside the bundled pipelines."""
    retries: int | None = None
    """HEADWATER_RETRIES: overrides every spec's ``retries`` (``headwater run`` sets 0)."""
    load_chunk_rows: int | None = None
    """HEADWATER_LOAD_CHUNK_ROWS: replaces the ``load.chunk_rows`` of every table that declares
    one (tests and benchmarks force many small chunks with it); unset: the spec's."""
    keep_warm_seconds: int = 600
    """HEADWATER_KEEP_WARM_SECONDS: how long the warm Airflow process of one-shot runs waits for
    the next ``headwater run`` after one ended (0: it ends with the command that started it)."""
    retry_delay_seconds: int | None = None
    """HEADWATER_RETRY_DELAY_SECONDS: overrides every spec's ``retry_delay_minutes`` (the
    cluster sets it low: a task lost with its worker is retried within a minute or two)."""
    queues: Mapping[str, str] = field(default_factory=dict)
    """HEADWATER_QUEUE_LOAD / HEADWATER_QUEUE_TRANSFORM: the Celery queue of every pipeline's
    load and dbt tasks, over the spec's ``queues`` (a deployment's choice)."""
    digest_schedule: str = "0 7 * * *"
    """HEADWATER_DIGEST_SCHEDULE: cron schedule of the (paused by default) digest DAG."""
    duckdb_extensions: Path = field(default_factory=lambda: Path.home() / ".headwater-duckdb")
    """HEADWATER_DUCKDB_EXTENSIONS: DuckDB's extension directory (installed from wheels)."""
    duckdb_memory_limit: str = "2GB"
    """HEADWATER_DUCKDB_MEMORY_LIMIT: DuckDB's memory cap per process; beyond it, it spills."""
    duckdb_temp: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "headwater-duckdb")
    """HEADWATER_DUCKDB_TEMP: where DuckDB spills (default: the system temp folder)."""
    http_attempts: int = 6
    """HEADWATER_HTTP_ATTEMPTS: tries per API page (429 and 5xx are retried)."""
    http_backoff: float = 0.5
    """HEADWATER_HTTP_BACKOFF: first wait in seconds between tries (doubles each time)."""
    slack_webhook_url: str | None = field(default=None, repr=False)
    """HEADWATER_SLACK_WEBHOOK_URL: Slack incoming webhook (secret); unset: alerts are logged."""
    alert_suppress_hours: str | None = None
    """HEADWATER_ALERT_SUPPRESS_HOURS: an identical failure within this window is not re-posted
    (raw text: the alerting code validates it and falls back to the Variable, then 6)."""
    dbt_docs_url: str | None = None
    """HEADWATER_DBT_DOCS_URL: where alerts link the dbt docs (default: the local index.html)."""
    airflow_home_dir: Path | None = None
    """AIRFLOW_HOME: Airflow's home (default <home>/airflow)."""
    airflow_api_base_url: str = "http://127.0.0.1:8080"
    """AIRFLOW__API__BASE_URL: the Airflow UI's address, for links in the dashboard."""
    airflow_metadata_url: str | None = field(default=None, repr=False)
    """AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: Airflow's metadata database (default: SQLite in
    AIRFLOW_HOME)."""
    s3_endpoint: str | None = None
    """AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: S3-compatible endpoint (MinIO); unset: AWS."""
    s3_region: str = "us-east-1"
    """AWS_REGION or AWS_DEFAULT_REGION."""
    s3_key_id: str | None = None
    """AWS_ACCESS_KEY_ID."""
    s3_secret: str | None = field(default=None, repr=False)
    """AWS_SECRET_ACCESS_KEY (secret)."""

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("HEADWATER_HOME") or Path.cwd() / ".headwater").resolve()
        per_source: dict[str, dict[str, str]] = {"URL": {}, "TOKEN": {}}
        for name, value in os.environ.items():
            m = SOURCE_VAR.match(name)
            if m and value:
                per_source[m.group(2)][m.group(1)] = value
        retries = _env("HEADWATER_RETRIES")
        airflow_home = _env("AIRFLOW_HOME")
        defaults = cls(home=home, warehouse_url="", lake_url="", source_url=None, dags_folder=home)
        keep_warm = _non_negative_int("HEADWATER_KEEP_WARM_SECONDS", _env("HEADWATER_KEEP_WARM_SECONDS"))
        return cls(
            home=home,
            warehouse_url=_env("HEADWATER_WAREHOUSE_URL") or f"duckdb:///{home / 'warehouse.duckdb'}",
            lake_url=_env("HEADWATER_LAKE_URL") or str(home / "lake"),
            source_url=_env(LEGACY_SOURCE_URL),
            dags_folder=Path(_env("HEADWATER_DAGS_FOLDER") or REPO_ROOT / "dags"),
            source_urls=per_source["URL"],
            source_tokens=per_source["TOKEN"],
            pipeline_paths=_paths(_env("HEADWATER_PIPELINE_PATHS")),
            retries=int(retries) if retries else None,
            load_chunk_rows=_positive_int("HEADWATER_LOAD_CHUNK_ROWS", _env("HEADWATER_LOAD_CHUNK_ROWS")),
            keep_warm_seconds=keep_warm if keep_warm is not None else defaults.keep_warm_seconds,
            retry_delay_seconds=_non_negative_int(
                "HEADWATER_RETRY_DELAY_SECONDS", _env("HEADWATER_RETRY_DELAY_SECONDS")
            ),
            queues={k: v for k in ("load", "transform") if (v := _env(f"HEADWATER_QUEUE_{k.upper()}"))},
            digest_schedule=_env("HEADWATER_DIGEST_SCHEDULE") or defaults.digest_schedule,
            duckdb_extensions=Path(_env("HEADWATER_DUCKDB_EXTENSIONS") or defaults.duckdb_extensions),
            duckdb_memory_limit=_env("HEADWATER_DUCKDB_MEMORY_LIMIT") or defaults.duckdb_memory_limit,
            duckdb_temp=Path(_env("HEADWATER_DUCKDB_TEMP") or defaults.duckdb_temp),
            http_attempts=int(_env("HEADWATER_HTTP_ATTEMPTS") or defaults.http_attempts),
            http_backoff=float(_env("HEADWATER_HTTP_BACKOFF") or defaults.http_backoff),
            slack_webhook_url=_env("HEADWATER_SLACK_WEBHOOK_URL"),
            alert_suppress_hours=_env("HEADWATER_ALERT_SUPPRESS_HOURS"),
            dbt_docs_url=_env("HEADWATER_DBT_DOCS_URL"),
            airflow_home_dir=Path(airflow_home) if airflow_home else None,
            airflow_api_base_url=_env("AIRFLOW__API__BASE_URL") or defaults.airflow_api_base_url,
            airflow_metadata_url=_env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
            s3_endpoint=_env("AWS_ENDPOINT_URL_S3") or _env("AWS_ENDPOINT_URL"),
            s3_region=_env("AWS_REGION") or _env("AWS_DEFAULT_REGION") or defaults.s3_region,
            s3_key_id=_env("AWS_ACCESS_KEY_ID"),
            s3_secret=_env("AWS_SECRET_ACCESS_KEY"),
            dbt_target=_dbt_target(_env("HEADWATER_DBT_TARGET") or "pro"),
            dbt_target_chosen=bool(_env("HEADWATER_DBT_TARGET")),
            dbt_render=_env("HEADWATER_DBT_RENDER"),
        )

    @property
    def warehouse_kind(self) -> str:
        return parse_url(self.warehouse_url)[0]

    @property
    def airflow_home(self) -> Path:
        return self.airflow_home_dir or self.home / "airflow"

    def source_url_for(self, spec: PipelineSpec, name: str | None = None) -> str:
        """Where one of a pipeline's sources is read from.

        ``HEADWATER_SOURCE_<PIPELINE>_<SOURCE>_URL`` wins; then, for a main source only, the
        deprecated ``HEADWATER_SOURCE_URL`` (with a warning naming the new variable); then the
        spec's URL with ``{home}`` filled in.
        """
        source = spec.source if name is None else spec.source_named(name)
        own = self.source_urls.get(f"{spec.name}_{source.name}".upper())
        if own:
            return own
        if self.source_url and source is spec.source:
            log.warning(
                "%s is deprecated (it overrides every pipeline's main source); set %s instead",
                LEGACY_SOURCE_URL,
                source_url_variable(spec.name, source.name),
            )
            return self.source_url
        return spec.source_url(self.home, None, source.name)

    def render_for(self, spec: PipelineSpec) -> str:
        """How the pipeline's dbt part becomes tasks: HEADWATER_DBT_RENDER when set, checked
        against the spec as ``transform.render`` would be, else the spec's own."""
        if not self.dbt_render:
            return spec.dbt_render
        from headwater.shapes import parse_render

        return parse_render(
            {"render": self.dbt_render}, spec.steps, spec.dags, "HEADWATER_DBT_RENDER, for transform"
        )

    def dbt_target_for(self, spec: PipelineSpec) -> str:
        """The dbt target a pipeline builds: HEADWATER_DBT_TARGET when set, else the spec's
        ``transform.dbt_target``, else pro."""
        if self.dbt_target_chosen or spec.dbt_target is None:
            return self.dbt_target
        return spec.dbt_target

    def source_token(self, name: str) -> str | None:
        """The bearer token of the HTTP source ``name`` (HEADWATER_SOURCE_<NAME>_TOKEN)."""
        return self.source_tokens.get(name.upper())

    @staticmethod
    def secret_values() -> list[str]:
        """Every secret in the environment, longest first, for masking in alerts and logs: the
        values of secret-looking variables (…PASSWORD/SECRET/TOKEN/WEBHOOK/_KEY) and the
        passwords inside URLs. Read live: a secret set after start-up is masked too."""
        from headwater.urls import url_secrets

        secrets = set()
        for name, value in os.environ.items():
            if not value or len(value) < 4:
                continue
            if _SECRET_NAME.search(name):
                secrets.add(value)
            elif "://" in value:  # the password as written and percent-decoded (libpq shows that)
                secrets.update(pw for pw in url_secrets(value) if len(pw) >= 4)
        return sorted(secrets, key=len, reverse=True)

    def describe(self) -> dict[str, str]:
        """Settings as printable strings, secrets masked."""
        out = {
            "home": str(self.home),
            "warehouse": mask_url(self.warehouse_url),
            "lake": mask_url(self.lake_url),
            "source override (deprecated)": mask_url(self.source_url) if self.source_url else "(none)",
            "dags folder": str(self.dags_folder),
            "dbt target": self.dbt_target,
            "extra pipeline folders": os.pathsep.join(map(str, self.pipeline_paths)) or "(none)",
        }
        for key, url in sorted(self.source_urls.items()):
            out[f"source {key.lower()}"] = mask_url(url)
        return out


def _non_negative_int(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number of seconds >= 0, not {value!r}")
    return int(value)


def queue_for(settings: Settings, spec: PipelineSpec, kind: str) -> str | None:
    """The Celery queue of a pipeline's ``kind`` of task (load or transform): the deployment's
    setting, else the spec's, else None (Airflow's default queue)."""
    return settings.queues.get(kind) or spec.queues.get(kind)


def _positive_int(name: str, value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{name} is {value!r}; expected a whole number >= 1")
    return int(value)


def _dbt_target(value: str) -> str:
    if value not in DBT_TARGETS:
        raise ConfigError(f"HEADWATER_DBT_TARGET is {value!r}; expected one of {', '.join(DBT_TARGETS)}")
    return value

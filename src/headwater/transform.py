"""Transform: the dbt steps of a pipeline, run in-process with dbt's programmatic runner.

Each step is its own Airflow task (so it can be retried, skipped or switched off), but dbt
runs inside the task's Python process instead of a fresh CLI, which saves dbt's start-up and
parse time on every step. Connection details go to dbt through environment variables read by
the project's profiles.yml: no secret is ever written to a file.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from headwater.errors import ConfigError, TerminalError
from headwater.settings import Settings
from headwater.shapes import DEFAULT_PRESET, PRESETS
from headwater.spec import PipelineSpec
from headwater.urls import mask_url, parse_url

log = logging.getLogger(__name__)

# The standard preset's dbt arguments per step (the dbt benchmark runs them as CLI commands).
# A pipeline's own steps, selectors included, live in its spec (headwater.shapes).
STEP_COMMANDS: dict[str, list[str]] = {s.name: s.args(False) for s in PRESETS[DEFAULT_PRESET]}


def dbt_environment(spec: PipelineSpec, settings: Settings) -> dict[str, str]:
    """Variables the profiles.yml reads, derived from the warehouse URL."""
    kind, target = parse_url(settings.warehouse_url)
    env = {"HEADWATER_DBT_SCHEMA": spec.name, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    if kind == "duckdb":
        env.update(HEADWATER_DBT_TARGET="duckdb", HEADWATER_DUCKDB_PATH=target)
    elif kind == "postgres":
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(target.replace("postgresql+psycopg://", "postgresql://"))
        env.update(
            HEADWATER_DBT_TARGET="postgres",
            HEADWATER_PG_HOST=str(params.get("host") or "127.0.0.1"),
            HEADWATER_PG_PORT=str(params.get("port") or "5432"),
            HEADWATER_PG_USER=str(params.get("user") or "postgres"),
            HEADWATER_PG_PASSWORD=str(params.get("password") or ""),
            HEADWATER_PG_DBNAME=str(params.get("dbname") or "postgres"),
        )
    else:
        raise ConfigError(f"dbt cannot target {mask_url(settings.warehouse_url)}")
    return env


def dbt_paths(spec: PipelineSpec, settings: Settings) -> dict[str, Path]:
    project = spec.dbt_project_dir
    if project is None:
        raise ConfigError(f"pipeline {spec.name} has no dbt project")
    work = settings.home / "dbt" / spec.name
    return {"project": project, "target": work / "target", "logs": work / "logs"}


@contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def dbt_location_args(spec: PipelineSpec, settings: Settings) -> list[str]:
    """The dbt arguments naming the pipeline's project, profiles, target and log folders."""
    paths = dbt_paths(spec, settings)
    return [
        "--project-dir",
        str(paths["project"]),
        "--profiles-dir",
        str(paths["project"]),
        "--target-path",
        str(paths["target"]),
        "--log-path",
        str(paths["logs"]),
        "--no-use-colors",
    ]


def run_step(
    spec: PipelineSpec, step: str, settings: Settings, run_id: str, full_refresh: bool = False
) -> dict[str, Any]:
    """Run one dbt step; record per-node results; raise TerminalError when it fails."""
    from dbt.cli.main import dbtRunner

    if step not in spec.dbt_steps:
        raise ConfigError(f"unknown dbt step {step!r}; {spec.name}'s steps: {list(spec.dbt_steps)}")
    command = spec.step(step)
    args = [*command.args(full_refresh), *dbt_location_args(spec, settings)]
    with _environ(dbt_environment(spec, settings)):
        try:
            result = dbtRunner().invoke(args)
        finally:
            _release_duckdb()
    nodes = node_results(result.result)
    from headwater.warehouse import open_warehouse

    warehouse = open_warehouse(settings.warehouse_url)
    warehouse.record_dbt_results(spec.name, run_id, step, nodes)
    if command.command == (
        "source",
        "freshness",
    ):  # per source table: newest row, age, SLA (for status/metrics)
        from headwater.monitoring.ledger import freshness_rows, record_freshness

        record_freshness(warehouse, spec.name, run_id, freshness_rows(result.result))
    summary = summarize(step, nodes)
    docs = command.command == ("docs", "generate")
    summary["docs"] = str(dbt_paths(spec, settings)["target"] / "index.html") if docs else None
    if not result.success:
        failed = [n for n in nodes if n["status"] in ("error", "fail", "runtime error")]
        detail = "; ".join(
            f"{n['unique_id']}: {n['status']}"
            + (f" ({n['failures']} failing rows)" if n.get("failures") else "")
            for n in failed[:10]
        )
        cause = detail or (str(result.exception) if result.exception else "see the dbt log")
        raise TerminalError(f"dbt step {step} failed: {cause}")
    log.info("dbt %s: %s", step, summary["counts"])
    return summary


def dbt_schema_built(spec: PipelineSpec, settings: Settings) -> bool:
    """Whether the warehouse holds any table or view of the pipeline's dbt schemas.

    dbt writes to its target schema and to ``<target schema>_<custom>`` ones (staging, core,
    ...); none of them holding anything means the dbt project was never built here: a first
    build. Read at run time by the first-build branch, never while a DAG file is parsed.
    """
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS

    schema = dbt_environment(spec, settings)["HEADWATER_DBT_SCHEMA"]
    with open_warehouse(settings.warehouse_url).session(read_only=True) as con:
        row = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
            "AND (schema_name = ? OR starts_with(schema_name, ?))",
            [ALIAS, schema, f"{schema}_"],
        ).fetchone()
        views = con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE database_name = ? "
            "AND (schema_name = ? OR starts_with(schema_name, ?))",
            [ALIAS, schema, f"{schema}_"],
        ).fetchone()
    return bool((row and row[0]) or (views and views[0]))


def _release_duckdb() -> None:
    """Close the DuckDB file dbt-duckdb keeps open in this process.

    dbt-duckdb caches one connection per process; while it lives, nothing else in the process
    (the next load, the ledger writer) can attach the warehouse file.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
        DuckDBConnectionManager.close_all_connections()


def node_results(result: Any) -> list[dict[str, Any]]:
    """Flatten dbt's run results (run, test, seed, snapshot, freshness) into plain dicts."""
    rows: list[dict[str, Any]] = []
    for r in getattr(result, "results", None) or []:
        node = getattr(r, "node", None)
        response = getattr(r, "adapter_response", None) or {}
        rows.append(
            {
                "unique_id": getattr(node, "unique_id", "?"),
                "resource_type": str(getattr(node, "resource_type", "?")),
                "status": str(getattr(r, "status", "?")),
                "execution_time": float(getattr(r, "execution_time", 0.0) or 0.0),
                "rows_affected": response.get("rows_affected") if isinstance(response, dict) else None,
                "failures": getattr(r, "failures", None),
                "message": (str(getattr(r, "message", "") or ""))[:500],
            }
        )
    return rows


def summarize(step: str, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n["status"]] = counts.get(n["status"], 0) + 1
    return {"step": step, "nodes": len(nodes), "counts": counts}

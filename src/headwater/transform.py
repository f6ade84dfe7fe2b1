"""Transform: the dbt steps of a pipeline, run in-process with dbt's programmatic runner.

Each step is its own Airflow task (so it can be retried, skipped or switched off), but dbt
runs inside the task's Python process instead of a fresh CLI, which saves dbt's start-up and
parse time on every step. Connection details go to dbt through environment variables read by
headwater_common's profiles.yml (the one profile of every project): no secret is ever
written to a file. HEADWATER_DBT_TARGET picks the target (dev or pro), independently of the
warehouse adapter.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from headwater import duck
from headwater.errors import ConfigError, TerminalError
from headwater.settings import Settings
from headwater.shapes import DEFAULT_PRESET, PRESETS
from headwater.spec import PipelineSpec
from headwater.urls import mask_url, parse_url

log = logging.getLogger(__name__)

# The standard preset's dbt arguments per step (the dbt benchmark runs them as CLI commands).
# A pipeline's own steps, selectors included, live in its spec (headwater.shapes).
STEP_COMMANDS: dict[str, list[str]] = {s.name: s.args(False) for s in PRESETS[DEFAULT_PRESET]}


DBT_COMMON_DIR = Path(__file__).resolve().parent / "dbt_common"
"""headwater_common, the dbt package every pipeline's project uses; its profiles.yml is the
one profile of every project."""
DBT_COMMON_PACKAGE = "headwater_common"


def dbt_environment(spec: PipelineSpec, settings: Settings) -> dict[str, str]:
    """Every variable headwater_common's profiles.yml and the projects read.

    The target (dev/pro) is the user's setting; the adapter type comes from the warehouse URL.
    The profile reads every connection variable on both adapters, so the ones the adapter does
    not use are set empty.
    """
    kind, target = parse_url(settings.warehouse_url)
    env = {
        "HEADWATER_DBT_TARGET": settings.dbt_target_for(spec),
        "HEADWATER_DBT_SCHEMA_PRO": dbt_schema(spec, "pro"),
        "HEADWATER_DBT_SCHEMA_DEV": dbt_schema(spec, "dev"),
        "HEADWATER_DBT_COMMON": str(DBT_COMMON_DIR),
        "HEADWATER_DBT_PACKAGES": str(dbt_paths(spec, settings)["packages"]),
        "HEADWATER_DUCKDB_PATH": "",
        "HEADWATER_PG_HOST": "",
        "HEADWATER_PG_PORT": "0",
        "HEADWATER_PG_USER": "",
        "HEADWATER_PG_PASSWORD": "",
        "HEADWATER_PG_DBNAME": "",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    if kind == "duckdb":
        # DuckDB allows a single writing process; one thread keeps dbt to one connection.
        env.update(HEADWATER_DBT_ADAPTER="duckdb", HEADWATER_DBT_THREADS="1", HEADWATER_DUCKDB_PATH=target)
    elif kind == "postgres":
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(target.replace("postgresql+psycopg://", "postgresql://"))
        env.update(
            HEADWATER_DBT_ADAPTER="postgres",
            HEADWATER_DBT_THREADS="2",
            HEADWATER_PG_HOST=str(params.get("host") or "127.0.0.1"),
            HEADWATER_PG_PORT=str(params.get("port") or "5432"),
            HEADWATER_PG_USER=str(params.get("user") or "postgres"),
            HEADWATER_PG_PASSWORD=str(params.get("password") or ""),
            HEADWATER_PG_DBNAME=str(params.get("dbname") or "postgres"),
        )
    else:
        raise ConfigError(f"dbt cannot target {mask_url(settings.warehouse_url)}")
    return env


def dbt_schema(spec: PipelineSpec, dbt_target: str) -> str:
    """The target schema of a dbt target; custom schemas get it as a prefix (<schema>_core).

    pro keeps the names dashboards, status and tests read; dev builds beside them.
    """
    return spec.name if dbt_target == "pro" else f"{spec.name}_{dbt_target}"


def target_folder(dbt_target: str) -> str:
    """The folder (under HEADWATER_HOME/dbt/<pipeline>/) of a target's dbt artifacts."""
    return "target" if dbt_target == "pro" else f"target_{dbt_target}"


def dbt_paths(spec: PipelineSpec, settings: Settings) -> dict[str, Path]:
    """Where dbt reads the project and writes its artifacts, all outside the source tree.

    The pro target keeps HEADWATER_HOME/dbt/<pipeline>/target (its manifest names the mart
    relations the dashboards read); dev gets its own target folder, so a dev build never
    replaces pro's manifest or docs.
    """
    project = spec.dbt_project_dir
    if project is None:
        raise ConfigError(f"pipeline {spec.name} has no dbt project")
    work = settings.home / "dbt" / spec.name
    return {
        "project": project,
        "profiles": DBT_COMMON_DIR,
        "target": work / target_folder(settings.dbt_target_for(spec)),
        "logs": work / "logs",
        "packages": work / "dbt_packages",
    }


def install_dbt_packages(spec: PipelineSpec, settings: Settings) -> Path:
    """What `dbt deps` does for the local headwater_common package, without dbt or a network.

    The package is linked into the pipeline's packages-install-path (outside the source tree);
    unlike `dbt deps`, nothing (package-lock.yml) is written into the project folder. Cheap
    and idempotent: a link that already points at this installation is left alone.
    """
    folder = dbt_paths(spec, settings)["packages"]
    link = folder / DBT_COMMON_PACKAGE
    if link.is_symlink() and link.resolve() == DBT_COMMON_DIR:
        return link
    folder.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    try:
        link.symlink_to(DBT_COMMON_DIR, target_is_directory=True)
    except FileExistsError:  # another process of the same pipeline linked it just now
        pass
    except OSError:  # a file system without symlinks: a copy does the same
        shutil.copytree(DBT_COMMON_DIR, link, dirs_exist_ok=True)
    return link


@contextmanager
def environment(values: dict[str, str]):
    """``values`` set in this process's environment for the block, what was there restored
    after (child processes, e.g. Airflow's, inherit them)."""
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


def dbt_location_args(spec: PipelineSpec, settings: Settings, target: Path | None = None) -> list[str]:
    """The dbt arguments naming the pipeline's project, profiles, target and log folders
    (``target`` replaces the target folder, e.g. a per-model task's private one)."""
    paths = dbt_paths(spec, settings)
    return [
        "--project-dir",
        str(paths["project"]),
        "--profiles-dir",
        str(paths["profiles"]),
        "--target-path",
        str(target or paths["target"]),
        "--log-path",
        str(paths["logs"]),
        "--no-use-colors",
    ]


def run_step(
    spec: PipelineSpec, step: str, settings: Settings, run_id: str, full_refresh: bool = False
) -> dict[str, Any]:
    """Run one dbt step; record per-node results; raise TerminalError when it fails."""
    if step not in spec.dbt_steps:
        raise ConfigError(f"unknown dbt step {step!r}; {spec.name}'s steps: {list(spec.dbt_steps)}")
    command = spec.step(step)
    if _sources_tested_this_run(spec, settings, run_id, step):
        command = replace(command, exclude=(*command.exclude, SOURCE_SELECTOR))
    result = invoke_dbt(spec, settings, command.args(full_refresh))
    freshness = command.command == ("source", "freshness")
    summary = record_and_check(spec, settings, run_id, step, [result], freshness)
    docs = command.command == ("docs", "generate")
    summary["docs"] = str(dbt_paths(spec, settings)["target"] / "index.html") if docs else None
    return summary


SOURCE_SELECTOR = "source:*"


def _sources_tested_this_run(spec: PipelineSpec, settings: Settings, run_id: str, step: str) -> bool:
    """Whether ``step`` tests everything (``dbt test`` with no selector) after a step of this
    run already tested the sources and recorded results (it passed: a failure stops the run).
    The loads come before every dbt step, so the sources cannot have changed in between:
    their tests are not run twice (about a third of a second for travel_bookings)."""
    command = spec.step(step)
    if command.command != ("test",) or command.select:
        return False
    earlier = list(spec.dbt_steps)[: list(spec.dbt_steps).index(step)]
    source_test = (("test",), (SOURCE_SELECTOR,))
    tested = [s for s in earlier if (spec.step(s).command, spec.step(s).select) == source_test]
    if not tested:
        return False
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS, META

    [row] = open_warehouse(settings.warehouse_url).query(
        f"SELECT count(*), count_if(status NOT IN ('pass', 'warn')) FROM {ALIAS}.{META}.dbt_results "
        "WHERE pipeline = ? AND run_id = ? AND list_contains(?, step)",
        [spec.name, run_id, tested],
    )
    return bool(row[0]) and not row[1]


def record_and_check(
    spec: PipelineSpec,
    settings: Settings,
    run_id: str,
    step: str,
    results: list[Any],
    freshness: bool = False,
) -> dict[str, Any]:
    """Write the per-node results of a task's dbt calls to the ledger (as ``step``); raise when
    one failed."""
    nodes = [n for result in results for n in node_results(result.result)]
    from headwater.warehouse import open_warehouse

    warehouse = open_warehouse(settings.warehouse_url)
    warehouse.record_dbt_results(spec.name, run_id, step, nodes)
    if freshness:  # per source table: newest row, age, SLA (for status/metrics)
        from headwater.monitoring.ledger import freshness_rows, record_freshness

        record_freshness(warehouse, spec.name, run_id, freshness_rows(results[0].result))
    summary = summarize(step, nodes)
    failed_call = next((r for r in results if not r.success), None)
    if failed_call is not None:
        failed = [n for n in nodes if n["status"] in ("error", "fail", "runtime error")]
        detail = "; ".join(
            f"{n['unique_id']}: {n['status']}"
            + (f" ({n['failures']} failing rows)" if n.get("failures") else "")
            for n in failed[:10]
        )
        cause = detail or (str(failed_call.exception) if failed_call.exception else "see the dbt log")
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

    target = settings.dbt_target_for(spec)
    schema = dbt_schema(spec, target)
    # A dev build (<pipeline>_dev*) says nothing about pro's schemas (NUL: no schema name
    # starts with it, so under dev nothing is excluded).
    other = dbt_schema(spec, "dev") if target == "pro" else "\x00"
    # A SQL source kept in the warehouse's own database (one Postgres for both) may sit in a
    # schema named like the dbt target (the source schema is often the pipeline's name): its
    # tables are the source, not a dbt build.
    sources = [
        s.schema
        for s in spec.sources
        if s.kind == "sql" and s.schema and settings.source_url_for(spec, s.name) == settings.warehouse_url
    ]
    where = (
        "database_name = ? AND (schema_name = ? OR starts_with(schema_name, ?)) "
        "AND NOT starts_with(schema_name, ?) AND NOT list_contains(?, schema_name)"
    )
    params = [ALIAS, schema, f"{schema}_", other, sources]
    with open_warehouse(settings.warehouse_url).session(read_only=True) as con:
        row = duck.run(con, f"SELECT count(*) FROM duckdb_tables() WHERE {where}", params).fetchone()
        views = duck.run(con, f"SELECT count(*) FROM duckdb_views() WHERE {where}", params).fetchone()
    return bool((row and row[0]) or (views and views[0]))


def invoke_dbt(spec: PipelineSpec, settings: Settings, args: list[str], target: Path | None = None) -> Any:
    """One dbt command, in-process, on the pipeline's project: headwater_common installed,
    its profile's variables set for the call only, artifacts outside the source tree
    (in ``target`` when given, instead of the pipeline's target folder). A manifest this
    process parsed ahead (``preparse``) is used while the project is unchanged."""
    from dbt.cli.main import dbtRunner

    install_dbt_packages(spec, settings)
    manifest = None
    if args[:1] != ["parse"]:
        manifest = _preparsed(spec, settings)
        if manifest is None and KEEP_PARSED and preparse(spec, settings):
            manifest = _preparsed(spec, settings)
    with environment(dbt_environment(spec, settings)):
        try:
            runner = dbtRunner(manifest=manifest) if manifest is not None else dbtRunner()
            return runner.invoke([*args, *dbt_location_args(spec, settings, target)])
        finally:
            _release_duckdb()


KEEP_PARSED = False
"""Set by a process that runs many dbt steps itself (the one-shot runner): a project's first
step parses it once (``preparse``), and every later step of every run reuses that manifest
while the project is unchanged, instead of a partial parse per step (about a second each)."""

_PREPARSED: dict[tuple[str, str, str], tuple[str, Any]] = {}
"""(pipeline, dbt target, warehouse) -> (project fingerprint, dbt's parsed manifest), in this
process. A Celery worker fills it before it forks any task (celery_worker), so a dbt step on
a worker no longer parses the project again (about a second per step)."""


def _preparse_key(spec: PipelineSpec, settings: Settings) -> tuple[str, str, str]:
    return spec.name, settings.dbt_target_for(spec), settings.warehouse_url


def parse_folder(spec: PipelineSpec, settings: Settings) -> Path:
    """Where ``preparse`` keeps dbt's parse of the project across processes (its
    ``partial_parse.msgpack``), beside the runs' target folder, never in it: a new runner or
    worker then partially parses (~0.6 s for travel_bookings) instead of parsing it all (~2 s)."""
    return dbt_paths(spec, settings)["logs"].with_name(f"parse_{settings.dbt_target_for(spec)}")


PARSE_LOCK_WAIT_SECONDS = 120
"""How long a parse waits for another one of the same folder (a ``parse_ahead`` still at it)
before it parses into a scratch folder of its own: a stuck parser never holds a run up."""


@contextmanager
def _parse_lock(folder: Path) -> Iterator[bool]:
    """One parser of a project's parse folder at a time (dbt writes its files in place);
    yields whether the lock was had within ``PARSE_LOCK_WAIT_SECONDS``."""
    import fcntl
    import time

    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + PARSE_LOCK_WAIT_SECONDS
    with open(folder / ".lock", "a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True


def preparse(spec: PipelineSpec, settings: Settings) -> bool:
    """Parse the pipeline's project now and keep the manifest for later dbt calls of this
    process (and of the processes it forks). dbt reuses what an earlier parse left in
    ``parse_folder`` (or waits for a ``parse_ahead`` still at it). Returns whether it parsed."""
    import tempfile

    from headwater.transform_gate import project_fingerprint

    if spec.dbt_project_dir is None:
        return False
    fingerprint = project_fingerprint(spec, settings)
    folder = parse_folder(spec, settings)
    with _parse_lock(folder) as locked:
        if locked:
            result = invoke_dbt(spec, settings, ["parse"], target=folder)
        else:
            log.warning("%s: another dbt parse holds %s; parsing apart", spec.name, folder)
            with tempfile.TemporaryDirectory(prefix=f"hw-parse-{spec.name}-") as scratch:
                result = invoke_dbt(spec, settings, ["parse"], target=Path(scratch))
        if not getattr(result, "success", False) or result.result is None:
            return False
        if locked:
            (folder / FINGERPRINT_FILE).write_text(fingerprint)
    _PREPARSED[_preparse_key(spec, settings)] = (fingerprint, result.result)
    return True


FINGERPRINT_FILE = "project_fingerprint"
"""In ``parse_folder``: the project fingerprint its last parse saw."""


def parse_ahead(spec: PipelineSpec, settings: Settings) -> subprocess.Popen | None:
    """Parse the project in a background process when ``parse_folder`` holds no parse of its
    current files, so that the first dbt step of a cold run (a new home, a runner not started
    yet, an edited project) finds a parse to reuse instead of parsing while the run waits.

    Started before the DAG run, it parses on the other core while Airflow starts and the
    extracts and loads run; the step waits on the folder's lock if it gets there first. It
    changes no result: dbt checks a saved parse against the files, variables and profile
    before it reuses any of it."""
    import sys

    from headwater.transform_gate import project_fingerprint

    if spec.dbt_project_dir is None:
        return None
    try:
        kept = (parse_folder(spec, settings) / FINGERPRINT_FILE).read_text()
    except OSError:
        kept = None
    if kept == project_fingerprint(spec, settings):
        return None
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.transform", str(spec.folder)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _AHEAD.append(process)  # kept (not collected while it runs); reaped by the next call
    _AHEAD[:] = [p for p in _AHEAD if p.poll() is None]
    return process


_AHEAD: list[subprocess.Popen] = []


def _preparsed(spec: PipelineSpec, settings: Settings) -> Any:
    """The manifest ``preparse`` kept, if the project has not changed since (else None)."""
    entry = _PREPARSED.get(_preparse_key(spec, settings))
    if entry is None:
        return None
    from headwater.transform_gate import project_fingerprint

    fingerprint, manifest = entry
    if fingerprint != project_fingerprint(spec, settings):
        _PREPARSED.pop(_preparse_key(spec, settings), None)  # edited since: parse as usual
        return None
    return manifest


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


if __name__ == "__main__":  # parse_ahead's process: python -m headwater.transform <spec folder>
    import sys

    from headwater.spec import load_spec_from

    sys.exit(0 if preparse(load_spec_from(Path(sys.argv[1])), Settings.from_env()) else 1)

"""Build a pipeline's Airflow DAGs from its spec.

Default shape (one DAG named after the pipeline): ``plan`` -> ``extract`` (mapped: one per
table; skipped when nothing is new) -> per dependency level, ``batches`` (what the lake holds
for this run) -> ``load`` (mapped: one per batch) -> the dbt steps in the spec's order ->
``report_run`` (always runs: writes the run ledger, posts one Slack alert per failed run or a
"resolved" one, and fails itself when any task failed, so the run's state stays failed).

A spec's ``dags:`` section (see headwater.shapes) can instead split a pipeline into several
DAGs: ingest grouped by source (task groups ``ingest_<source>``), a DAG whose
``publish_assets`` task updates Airflow Assets and a DAG scheduled by them, and a
``first_build_or_regular`` branch decided at run time (does the warehouse hold the pipeline's
dbt schemas yet?) between a ``first_build`` path run with --full-refresh and a
``regular_run`` path. Every DAG ends with ``report_run``. With ``transform.render: per_model``
the node-building steps become one task per dbt node (task group ``nodes``, headwater.dbt_nodes).

Parsing reads only the spec file: no database, no connection, no Variable. Every task body
imports what it needs when it runs.

``HEADWATER_RETRIES`` (environment) overrides the spec's retry count, e.g. 0 for one-shot
local runs where waiting minutes for a retry helps nobody.

Run parameters (Airflow params, editable when triggering):
``full_refresh`` reloads every table and rebuilds incremental models (and takes the
first-build path of a branching DAG); ``tables`` limits the ingest to some tables;
``run_<step>`` switches a dbt step off for this run without touching the dbt project.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headwater.shapes import DagShape
from headwater.spec import PipelineSpec, load_spec
from headwater.transform_gate import FORCE_PARAM

DUCKDB_POOL = "headwater_duckdb"
POSTGRES_POOL = "headwater_postgres"
WAREHOUSE_POOLS = {"duckdb": DUCKDB_POOL, "postgres": POSTGRES_POOL}
"""Every task that touches the warehouse runs in its kind's pool (slots: deploy/airflow/pools.json)."""
BRANCH_TASK = "first_build_or_regular"
PUBLISH_TASK = "publish_assets"
PATH_XCOM = "path"
"""XCom key under which the branch task records the path it chose."""


def _warehouse_pool(settings: Any) -> str:
    """The warehouse's pool: one slot for DuckDB (one writing process), a few for Postgres."""
    return WAREHOUSE_POOLS.get(settings.warehouse_kind, "default_pool")


def _route_queues(dag: Any, spec: PipelineSpec, settings: Any) -> None:
    """Send dbt tasks and load tasks to their Celery queues (when set), so that heavy dbt work
    never holds the workers the loads need. Ignored by LocalExecutor and ``dags test``."""
    from headwater.settings import queue_for

    for kind in ("load", "transform"):
        queue = queue_for(settings, spec, kind)
        if not queue:
            continue
        for task_ in dag.tasks:
            if (kind == "transform") == is_transform_task(task_.task_id):
                task_.queue = queue


def is_transform_task(task_id: str) -> bool:
    """The dbt side of a DAG (``transform`` queue): its steps (in a branch path or not), the
    per-model node tasks and the branch deciding between paths; the rest is ``load``."""
    name = task_id.rsplit(".", 1)[-1]
    return name.startswith("dbt_") or task_id.startswith("nodes.") or task_id == BRANCH_TASK


def _retry_delay(spec: PipelineSpec, settings: Any) -> timedelta:
    seconds = settings.retry_delay_seconds
    return timedelta(minutes=spec.retry_delay_minutes) if seconds is None else timedelta(seconds=seconds)


def _settings():
    from headwater.settings import Settings

    return Settings.from_env()


def _spec(pipeline: str | PipelineSpec) -> PipelineSpec:
    return pipeline if isinstance(pipeline, PipelineSpec) else load_spec(pipeline)


def asset_for(spec: PipelineSpec, name: str):
    """The Airflow Asset of a spec's asset name (namespaced by pipeline: asset names are global)."""
    from airflow.sdk import Asset

    return Asset(name=f"{spec.name}.{name}", uri=f"headwater://{spec.name}/{name}", group="headwater")


def build_dags(pipeline: str | PipelineSpec) -> dict[str, Any]:
    """Every DAG of a pipeline, by dag id (a DAG file puts them in its globals)."""
    spec = _spec(pipeline)
    return {shape.dag_id: build_dag(spec, shape.dag_id) for shape in spec.dags}


def build_dag(pipeline: str | PipelineSpec, dag_id: str | None = None):
    """One DAG of a pipeline: ``dag_id``, or the pipeline's first (by default its only) DAG."""
    from airflow.sdk import DAG, Param

    from headwater.notify import task_failed

    spec = _spec(pipeline)
    shape = spec.dag(dag_id) if dag_id else spec.dags[0]
    settings = _settings()  # read once per DAG: parsing reads the environment, nothing else
    pool = _warehouse_pool(settings)
    override = settings.retries
    retries = spec.retries if override is None else override
    params: dict[str, Any] = {
        "full_refresh": Param(
            False, type="boolean", description="Reload every table in full and rebuild incremental models."
        ),
    }
    if shape.ingest:
        params["tables"] = Param(
            [], type="array", description="Only these tables this run (empty: all, or the Variable's list)."
        )
    if shape.all_steps:
        params[FORCE_PARAM] = Param(
            False,
            type="boolean",
            description="Run the dbt steps even if nothing changed since the last transform.",
        )
    for step in shape.all_steps:
        params[f"run_{step}"] = Param(True, type="boolean", description=f"Run the dbt {step} step.")
    schedule: Any = [asset_for(spec, a) for a in shape.scheduled_by] if shape.scheduled_by else shape.schedule

    with DAG(
        dag_id=shape.dag_id,
        description=shape.description or spec.description,
        doc_md=__doc__,
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # two runs of one pipeline must never interleave their loads
        params=params,
        tags=["headwater", spec.name],
        default_args={
            "retries": retries,
            "retry_delay": _retry_delay(spec, settings),
            "retry_exponential_backoff": True,
            "on_failure_callback": task_failed,
        },
    ) as dag:
        previous: list[Any] = []
        if shape.ingest == "all":
            previous = [_ingest(spec, None, pool)]
        elif shape.ingest == "by_source":
            previous = _ingest_by_source(spec, pool)
        if settings.render_for(spec) == "per_model":
            previous = _per_model_steps(spec, shape, pool, previous)
        else:
            previous = _steps(spec, shape, pool, previous)
        if shape.produces:
            publish = _publish_task(spec, shape)
            previous >> publish
        leaves = [t for t in dag.tasks if not t.downstream_list]
        leaves >> _report_task(spec, pool, bool(shape.all_steps))  # type: ignore[operator]
    _route_queues(dag, spec, settings)
    return dag


def _ingest(spec: PipelineSpec, tables: list[str] | None, pool: str):
    """plan -> mapped extract -> batches/load per dependency level; returns the last load.

    ``tables`` None: every table (the default shape's task ids: plan, extract, load, ...).
    """
    from airflow.sdk import task

    @task(pool=pool)
    def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from headwater import flow
        from headwater.orchestration.options import airflow_variables, run_options

        full, chosen = run_options(spec, params or {}, airflow_variables(spec.name))
        if tables is not None:  # this branch's tables, of those the run asks for
            chosen = [t for t in (chosen if chosen is not None else tables) if t in tables]
        return flow.plan(spec, _settings(), full, chosen)

    @task(map_index_template="{{ table_label }}")
    def extract(table_plan: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from headwater import flow

        get_current_context()["table_label"] = table_plan["table"]  # type: ignore[typeddict-unknown-key]

        batch = flow.extract(spec, table_plan, str(run_id), _settings())
        if batch is None:
            raise AirflowSkipException(f"{table_plan['table']}: nothing new since the last load")
        return batch

    @task(pool=pool, map_index_template="{{ table_label }}")
    def load(batch: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk import get_current_context

        from headwater import flow

        label = batch["table"] + (
            f" chunk {batch['chunk'] + 1}/{batch['chunks']}" if "chunk" in batch else ""
        )
        get_current_context()["table_label"] = label  # type: ignore[typeddict-unknown-key]

        return flow.load(spec, batch, _settings())

    # In the warehouse pool: splitting a batch into chunks prepares the raw table for them.
    @task(pool=pool, trigger_rule="none_failed")
    def batches(level: list[str], run_id: str | None = None) -> list[dict[str, Any]]:
        from headwater import flow

        return flow.batches(spec, level, str(run_id), _settings())

    extracted = extract.expand(table_plan=plan())
    # Loads go level by level so parents land before children (spec depends_on); tables
    # within a level load in parallel where the warehouse allows it.
    levels = [[t for t in level if tables is None or t in tables] for level in spec.load_levels()]
    levels = [level for level in levels if level]
    previous: Any = extracted
    for i, level in enumerate(levels):
        suffix = "" if len(levels) == 1 else f"_{i + 1}"
        found = batches.override(task_id=f"batches{suffix}")(level)
        previous >> found
        previous = load.override(task_id=f"load{suffix}", trigger_rule="none_failed").expand(batch=found)
    return _deletes_after(spec, tables, pool, previous)


def _deletes_after(spec: PipelineSpec, tables: list[str] | None, pool: str, previous: Any) -> Any:
    """``detect_deletes`` after the loads, for tables with ``deletes: detect`` (else nothing).

    One task for the DAG's tables: it compares key sets and marks vanished keys in raw; it is
    skipped (visibly) when no table's ``every_runs`` cadence is due this run.
    """
    from airflow.sdk import task

    if not any(t.deletes is not None and (tables is None or t.name in tables) for t in spec.tables):
        return previous

    @task(task_id="detect_deletes", pool=pool, trigger_rule="none_failed")
    def detect_deletes(
        params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowSkipException

        from headwater.reconcile import deletes

        settings = _settings()
        chosen = deletes.tables_with_deletes(spec, tables)
        asked = (params or {}).get("tables") or None
        if asked:
            chosen = [t for t in chosen if t.name in asked]
        due = deletes.due(spec, chosen, settings)
        if not due:
            raise AirflowSkipException("no table's delete check is due this run (deletes.every_runs)")
        whole = deletes.replaced_this_run(spec, settings, str(run_id))
        due = [t for t in due if t.name not in whole]
        if not due:
            raise AirflowSkipException(
                "every due table was loaded whole (full mode) by this run: gone keys left with the load"
            )
        reports = deletes.detect_deletes(spec, due, settings, str(run_id))
        return [{"table": r.table, "marked": r.marked, "unmarked": r.unmarked} for r in reports]

    task_ = detect_deletes()
    previous >> task_
    return task_


def _ingest_by_source(spec: PipelineSpec, pool: str) -> list[Any]:
    """One visible, parallel task group per source (``ingest_<source>``); their last loads."""
    from airflow.sdk import TaskGroup

    lasts = []
    for source in spec.sources:
        tables = [t.name for t in spec.tables if t.source == source.name]
        if not tables:
            continue
        with TaskGroup(group_id=f"ingest_{source.name}", tooltip=f"extract and load {source.name}"):
            lasts.append(_ingest(spec, tables, pool))
    return lasts


def _steps(spec: PipelineSpec, shape: DagShape, pool: str, previous: list[Any]) -> list[Any]:
    """The DAG's dbt steps after ``previous``; returns the tasks that end them."""
    if not shape.branches:
        for step in shape.steps:
            task = _dbt_task(spec, step, pool)
            previous >> task
            previous = [task]
        return previous

    from airflow.sdk import TaskGroup

    paths = {"first_build": shape.first_build or (), "regular_run": shape.steps}
    branch = _branch_task(spec, pool, {p: f"{p}.dbt_{steps[0]}" for p, steps in paths.items()})
    previous >> branch
    ends = []
    for path, steps in paths.items():
        with TaskGroup(group_id=path):
            last: Any = branch
            for step in steps:
                task = _dbt_task(spec, step, pool, path)
                last >> task
                last = task
        ends.append(last)
    return ends


def _per_model_steps(spec: PipelineSpec, shape: DagShape, pool: str, previous: list[Any]) -> list[Any]:
    """``transform.render: per_model``: the node-building steps become one task per dbt node
    (task group ``nodes``, dependencies from dbt's manifest, see headwater.dbt_nodes); the
    other steps (source freshness, docs) run before or after them, in the spec's order."""
    from airflow.sdk import TaskGroup

    from headwater.dbt_nodes import is_node_step, node_plan

    node_steps = tuple(s for s in shape.steps if is_node_step(spec.step(s)))
    if not node_steps:
        return _steps(spec, shape, pool, previous)
    last = max(shape.steps.index(s) for s in node_steps)
    before = [s for s in shape.steps[:last] if s not in node_steps]
    after = list(shape.steps[last + 1 :])
    for step in before:
        task = _dbt_task(spec, step, pool)
        previous >> task
        previous = [task]
    made: dict[str, Any] = {}
    plan = [t for t in node_plan(spec, _settings()) if any(set(s) & set(node_steps) for _, s in t.members)]
    with TaskGroup(group_id="nodes", tooltip="one task per dbt node, with its tests"):
        for node_task in plan:
            made[node_task.task_id] = _node_task(spec, node_task, node_steps, pool).operator
    for node_task in plan:
        for up in node_task.upstream:
            if up in made:
                made[up] >> made[node_task.task_id]
    roots = [made[t.task_id] for t in plan if not any(u in made for u in t.upstream)]
    for task in previous:
        task >> roots
    previous = [t for t in made.values() if not t.downstream_list] or previous
    for step in after:
        task = _dbt_task(spec, step, pool)
        previous >> task
        previous = [task]
    return previous


def _node_task(spec: PipelineSpec, node_task: Any, node_steps: tuple[str, ...], pool: str):
    from airflow.sdk import task

    # none_failed: a node after a switched-off one still runs; after a failed one it does not.
    @task(task_id=node_task.task_id, pool=pool, trigger_rule="none_failed")
    def dbt_node(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from headwater.dbt_nodes import run_node_task

        params = params or {}
        active = {s for s in node_steps if params.get(f"run_{s}", True)}
        full_refresh = bool(params.get("full_refresh")) and any(
            spec.step(s).full_refresh for _, steps in node_task.members for s in steps if s in active
        )
        mine = sorted({s for _, steps in node_task.members for s in steps if s in active})
        _skip_unless_changed(spec, mine, str(run_id), {**params, "full_refresh": full_refresh})
        summary = run_node_task(spec, node_task, active, _settings(), str(run_id), full_refresh)
        if summary is None:
            owners = sorted({s for _, steps in node_task.members for s in steps})
            raise AirflowSkipException(f"every step that selects it is switched off this run: {owners}")
        return summary

    return dbt_node()


def _branch_task(spec: PipelineSpec, pool: str, first_tasks: dict[str, str]):
    from airflow.sdk import task

    # none_failed: a table with nothing new (skipped load) still leads to the dbt steps.
    @task.branch(task_id=BRANCH_TASK, pool=pool, trigger_rule="none_failed")
    def first_build_or_regular(params: dict[str, Any] | None = None) -> str:
        from airflow.sdk import get_current_context

        from headwater.transform import dbt_schema_built

        if (params or {}).get("full_refresh"):
            path = "first_build"  # a full-refresh run rebuilds like a first build
        else:
            path = "regular_run" if dbt_schema_built(spec, _settings()) else "first_build"
        get_current_context()["ti"].xcom_push(key=PATH_XCOM, value=path)
        return first_tasks[path]

    return first_build_or_regular()


def _publish_task(spec: PipelineSpec, shape: DagShape):
    from airflow.sdk import task

    # none_failed: the Assets are updated once everything before succeeded or had nothing to
    # do; a failure upstream leaves them untouched, so the DAGs they schedule do not start.
    @task(
        task_id=PUBLISH_TASK, trigger_rule="none_failed", outlets=[asset_for(spec, a) for a in shape.produces]
    )
    def publish_assets() -> list[str]:
        return [f"{spec.name}.{a}" for a in shape.produces]

    return publish_assets()


def _report_task(spec: PipelineSpec, pool: str, transforms: bool):
    from airflow.sdk import task

    # all_done: it runs whatever happened upstream; no retries and no failure callback of its
    # own, so one run gives one message.
    @task(task_id="report_run", pool=pool, trigger_rule="all_done", retries=0, on_failure_callback=None)
    def report_run() -> dict[str, Any]:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from headwater.monitoring.run_alerts import facts_from_airflow, finish_run

        context = get_current_context()
        facts = facts_from_airflow(dict(context), spec.name)
        record = finish_run(spec, _settings(), facts, _airflow_base_url())
        if transforms:  # a DAG with dbt steps: how its transform ended decides the next run's
            from headwater import transform_gate

            done = transform_gate.is_complete(spec, context.get("params") or {}, record.outcome == "success")
            transform_gate.finish(spec, _settings(), facts.run_id, done)
        if record.outcome != "success":
            failed = ", ".join(f.label for f in facts.failed) or "upstream tasks"
            raise AirflowFailException(
                f"run failed ({failed}); alert: {record.alert or 'none'}; the run stays failed"
            )
        return {"outcome": record.outcome, "rows_loaded": record.rows_loaded, "alert": record.alert}

    return report_run()


def _airflow_base_url() -> str | None:
    try:
        from airflow.configuration import conf

        return conf.get("api", "base_url", fallback=None)
    except Exception:  # no configuration to read: links are left out
        return None


def _dbt_task(spec: PipelineSpec, step: str, pool: str, path: str | None = None):
    from airflow.sdk import task

    # none_failed: a table skipped for having nothing new, or a step switched off, must not
    # stop the steps after it.
    @task(task_id=f"dbt_{step}", pool=pool, trigger_rule="none_failed")
    def dbt_step(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowSkipException

        from headwater.transform import run_step

        params = params or {}
        full_refresh = bool(params.get("full_refresh"))
        if path is not None:
            # The branch skips only the first task of the path it did not take; with
            # none_failed the later ones would run, so each checks the branch's choice.
            chosen = get_current_context()["ti"].xcom_pull(task_ids=BRANCH_TASK, key=PATH_XCOM)
            if chosen != path:
                raise AirflowSkipException(f"this run took the {chosen or 'other'} path")
            full_refresh = full_refresh or path == "first_build"
        if not params.get(f"run_{step}", True):
            raise AirflowSkipException(f"dbt {step} switched off for this run (param run_{step})")
        _skip_unless_changed(spec, [step], str(run_id), {**params, "full_refresh": full_refresh})
        return run_step(spec, step, _settings(), str(run_id), full_refresh)

    return dbt_step()


def _skip_unless_changed(spec: PipelineSpec, steps: list[str], run_id: str, params: dict[str, Any]) -> None:
    """Skip a task of dbt ``steps`` when the run's transform decision is that nothing changed
    (headwater.transform_gate); source freshness is never skipped for that."""
    from airflow.sdk.exceptions import AirflowSkipException

    from headwater import transform_gate

    if not any(transform_gate.is_gated(spec, s) for s in steps):
        return
    decision = transform_gate.decide(spec, _settings(), run_id, params)
    if not decision.run:
        raise AirflowSkipException(decision.reason)
    if decision.rows_only and not transform_gate.needs_rows(spec, steps):
        raise AirflowSkipException(
            "only rows changed, and this step follows from the dbt project alone (seeds are its "
            "files, docs describe it): it runs again when the project changes or on a full refresh; "
            "the docs are those of the last transform that ran it"
        )

"""Build a pipeline's Airflow DAG from its spec.

Shape: ``plan`` -> ``extract`` (mapped: one per table; skipped when nothing is new) ->
per dependency level, ``batches`` (what the lake holds for this run) -> ``load`` (mapped:
one per batch) -> the dbt steps in the spec's order -> ``report_run`` (always runs: writes the
run ledger, posts one Slack alert per failed run or a "resolved" one, and fails itself when
any task failed, so the run's state stays failed). Parsing reads only the spec file: no database, no
connection, no Variable. Every task body imports what it needs when it runs.

``HEADWATER_RETRIES`` (environment) overrides the spec's retry count, e.g. 0 for one-shot
local runs where waiting minutes for a retry helps nobody.

Run parameters (Airflow params, editable when triggering):
``full_refresh`` reloads every table and rebuilds incremental models;
``run_<step>`` switches a dbt step off for this run without touching the dbt project.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headwater.spec import PipelineSpec, load_spec

DUCKDB_POOL = "headwater_duckdb"


def _warehouse_pool() -> str:
    """DuckDB allows one writing process: every task that writes it shares a one-slot pool."""
    return DUCKDB_POOL if _settings().warehouse_url.startswith("duckdb:") else "default_pool"


def _settings():
    from headwater.settings import Settings

    return Settings.from_env()


def build_dag(pipeline: str):
    from airflow.sdk import DAG, Param, task

    from headwater.notify import task_failed

    spec: PipelineSpec = load_spec(pipeline)
    pool = _warehouse_pool()
    override = _settings().retries
    retries = spec.retries if override is None else override
    params: dict[str, Any] = {
        "full_refresh": Param(
            False, type="boolean", description="Reload every table in full and rebuild incremental models."
        ),
    }
    params["tables"] = Param(
        [], type="array", description="Only these tables this run (empty: all, or the Variable's list)."
    )
    for step in spec.dbt_steps:
        params[f"run_{step}"] = Param(True, type="boolean", description=f"Run the dbt {step} step.")

    with DAG(
        dag_id=spec.name,
        description=spec.description,
        doc_md=__doc__,
        schedule=spec.schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # two runs of one pipeline must never interleave their loads
        params=params,
        tags=["headwater", spec.name],
        default_args={
            "retries": retries,
            "retry_delay": timedelta(minutes=spec.retry_delay_minutes),
            "retry_exponential_backoff": True,
            "on_failure_callback": task_failed,
        },
    ) as dag:

        @task(pool=pool)
        def plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
            from headwater import flow
            from headwater.orchestration.options import airflow_variables, run_options

            full, tables = run_options(spec, params or {}, airflow_variables(spec.name))
            return flow.plan(spec, _settings(), full, tables)

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

            get_current_context()["table_label"] = batch["table"]  # type: ignore[typeddict-unknown-key]

            return flow.load(spec, batch, _settings())

        @task(trigger_rule="none_failed")
        def batches(tables: list[str], run_id: str | None = None) -> list[dict[str, Any]]:
            from headwater import flow

            return flow.batches(spec, tables, str(run_id), _settings())

        extracted = extract.expand(table_plan=plan())
        # Loads go level by level so parents land before children (spec depends_on); tables
        # within a level load in parallel where the warehouse allows it.
        levels = spec.load_levels()
        previous: Any = extracted
        for i, tables in enumerate(levels):
            suffix = "" if len(levels) == 1 else f"_{i + 1}"
            found = batches.override(task_id=f"batches{suffix}")(tables)
            previous >> found
            previous = load.override(task_id=f"load{suffix}", trigger_rule="none_failed").expand(batch=found)

        for step in spec.dbt_steps:
            previous >> _dbt_task(spec, step, pool)  # type: ignore[operator]
            previous = dag.get_task(f"dbt_{step}")
        leaves = [t for t in dag.tasks if not t.downstream_list]
        leaves >> _report_task(spec, pool)  # type: ignore[operator]
    return dag


def _report_task(spec: PipelineSpec, pool: str):
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


def _dbt_task(spec: PipelineSpec, step: str, pool: str):
    from airflow.sdk import task

    # none_failed: a table skipped for having nothing new, or a step switched off, must not
    # stop the steps after it.
    @task(task_id=f"dbt_{step}", pool=pool, trigger_rule="none_failed")
    def dbt_step(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from headwater.transform import run_step

        params = params or {}
        if not params.get(f"run_{step}", True):
            raise AirflowSkipException(f"dbt {step} switched off for this run (param run_{step})")
        return run_step(spec, step, _settings(), str(run_id), bool(params.get("full_refresh")))

    return dbt_step()

"""A one-shot run of every DAG of a pipeline, in dependency order (``headwater run``).

``airflow dags test`` runs one DAG in-process without a scheduler, so an Asset update never
starts the DAGs it schedules. A pipeline with several DAGs is therefore run here DAG by DAG:
producers before the DAGs their Assets schedule; a DAG whose producer failed is not run, as
the scheduler would not start it either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.orchestration.local import RunOutcome, run_dag
from headwater.settings import Settings
from headwater.shapes import DagShape, upstream_dags
from headwater.spec import PipelineSpec
from headwater.transform_gate import FORCE_PARAM

REPORT_TASK = "report_run"


def conf_for(shape: DagShape, conf: dict[str, Any]) -> dict[str, Any]:
    """The part of a pipeline-wide run conf that the DAG has params for."""
    steps = shape.all_steps
    known = {"full_refresh", *(["tables"] if shape.ingest else []), *(f"run_{s}" for s in steps)}
    if steps:
        known.add(FORCE_PARAM)
    return {k: v for k, v in conf.items() if k in known}


def run_pipeline_dags(
    settings: Settings,
    spec: PipelineSpec,
    conf: dict[str, Any] | None = None,
    on_poll: Callable[[str | None, dict[str, str]], None] | None = None,
) -> list[RunOutcome]:
    """Run the pipeline's DAGs in order; one outcome per DAG that ran."""
    if settings.render_for(spec) == "per_model":
        from headwater.dbt_nodes import node_plan

        node_plan(spec, settings)  # parse the dbt project now if needed, not while Airflow parses the DAG
    else:
        from headwater.transform import parse_ahead

        parse_ahead(spec, settings)  # on the other core, while Airflow starts and EL runs
    outcomes: list[RunOutcome] = []
    not_ok: set[str] = set()
    for shape in spec.dags_in_order():
        if upstream_dags(shape, spec.dags) & not_ok:
            not_ok.add(shape.dag_id)  # its Assets were never updated: it would not start
            continue
        outcome = run_dag(settings, shape.dag_id, conf_for(shape, conf or {}), on_poll)
        outcomes.append(outcome)
        if outcome.state != "success":
            not_ok.add(shape.dag_id)
    return outcomes


def combined(outcomes: list[RunOutcome]) -> RunOutcome:
    """One outcome for a summary: a single DAG's as it is, several DAGs' merged.

    Merged: failed if any DAG failed (or a DAG did not run), the first DAG's run id (the
    others' in ``other_run_ids``, so a summary counts every DAG's loads and dbt results), and
    task labels prefixed with their dag id (each DAG's report_run left out: it only mirrors
    the DAG's own state).
    """
    if len(outcomes) == 1:
        return outcomes[0]
    failed = next((o for o in outcomes if o.state != "success"), None)
    tasks = {
        f"{o.dag_id}.{task}": state
        for o in outcomes
        for task, state in o.tasks.items()
        if task != REPORT_TASK
    }
    return RunOutcome(
        dag_id=" -> ".join(o.dag_id for o in outcomes),
        run_id=outcomes[0].run_id if outcomes else None,
        state="success" if outcomes and failed is None else "failed",
        returncode=max((o.returncode for o in outcomes), default=1),
        seconds=sum(o.seconds for o in outcomes),
        log=(failed or outcomes[-1]).log,
        tasks=tasks,
        stale_runs_failed=[r for o in outcomes for r in o.stale_runs_failed],
        other_run_ids=tuple(o.run_id for o in outcomes[1:] if o.run_id),
    )

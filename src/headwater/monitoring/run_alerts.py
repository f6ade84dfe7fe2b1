"""One Slack message per failed DAG run, a "resolved" message when the pipeline recovers.

The DAG's last task (``report_run``, trigger rule ``all_done``) calls :func:`finish_run`:
it reads what Airflow knows about the run (task states and durations, the failures that the
tasks' ``on_failure_callback`` recorded) and what the warehouse knows (rows loaded and
quarantined so far, failed dbt tests with their failing-row counts), writes the run's ledger
row, and decides what to post:

* a failed run posts one message, unless the pipeline already failed the same way (same
  fingerprint: failed tasks + their normalized error lines) within the suppression window;
  a suppressed failure is counted and the count goes into the next message;
* the first successful run after failures posts "resolved";
* a successful run of a healthy pipeline posts nothing (see ``headwater digest``).

Alert state lives in ``headwater.alerts`` in the warehouse, so it survives restarts and is
shared by every worker. The window is ``HEADWATER_ALERT_SUPPRESS_HOURS`` (environment) or the
Airflow Variable ``headwater_alert_suppress_hours``, default 6 hours.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from headwater.monitoring.ledger import AlertState, RunRecord, alert_state, record_run, utcnow
from headwater.notify import redact, send
from headwater.settings import Settings
from headwater.spec import PipelineSpec
from headwater.warehouse.base import ALIAS, META, Warehouse

log = logging.getLogger(__name__)

REPORT_TASK = "report_run"
SUPPRESS_ENV = "HEADWATER_ALERT_SUPPRESS_HOURS"
SUPPRESS_VARIABLE = "headwater_alert_suppress_hours"
DEFAULT_SUPPRESS_HOURS = 6.0
DOCS_URL_ENV = "HEADWATER_DBT_DOCS_URL"
MAX_LISTED = 10


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    map_index: int
    state: str | None
    duration: float | None = None


@dataclass(frozen=True)
class FailedTask:
    label: str
    error: str
    log_url: str | None = None
    try_number: int | None = None


@dataclass
class RunFacts:
    """Everything a message or the ledger row says about one run."""

    pipeline: str
    run_id: str
    logical_date: datetime | None
    started_at: datetime | None
    ended_at: datetime
    tasks: list[TaskOutcome] = field(default_factory=list)
    failed: list[FailedTask] = field(default_factory=list)
    tables: dict[str, dict[str, float]] = field(default_factory=dict)
    """table -> extracted, loaded, quarantined, skipped, bytes, seconds"""
    dbt: list[dict[str, Any]] = field(default_factory=list)
    """unique_id, resource_type, step, status, execution_time, failures"""
    warehouse_error: str | None = None
    dag_id: str | None = None
    """The DAG that ran, when a pipeline has several (None or the pipeline's name otherwise)."""

    @property
    def dag(self) -> str:
        """Alerting unit and Airflow link target: the DAG (one per pipeline by default)."""
        return self.dag_id or self.pipeline

    @property
    def title(self) -> str:
        return self.pipeline if self.dag == self.pipeline else f"{self.pipeline} ({self.dag})"

    @property
    def run_failed(self) -> bool:
        return bool(self.failed) or any(t.state == "upstream_failed" for t in self.tasks)

    def count(self, state: str) -> int:
        return sum(1 for t in self.tasks if t.state == state)

    def total(self, column: str) -> int:
        return int(sum(v.get(column) or 0 for v in self.tables.values()))

    @property
    def failed_tests(self) -> list[dict[str, Any]]:
        return [d for d in self.dbt if d["resource_type"] == "test" and d["status"] in ("fail", "error")]

    def tests(self, status: str) -> int:
        return sum(1 for d in self.dbt if d["resource_type"] == "test" and d["status"] == status)


# -- gathering --------------------------------------------------------------------------------
def failed_tasks(
    tasks: Iterable[TaskOutcome], recorded: dict[tuple[str, int], dict[str, Any]]
) -> list[FailedTask]:
    """The run's failed tasks, each with what its failure callback recorded (if anything)."""
    out = []
    for t in tasks:
        if t.state != "failed" or t.task_id == REPORT_TASK:
            continue
        rec = recorded.get((t.task_id, t.map_index)) or {}
        label = t.task_id if t.map_index < 0 else f"{t.task_id}[{rec.get('label') or t.map_index}]"
        out.append(
            FailedTask(
                label,
                redact(str(rec.get("error") or "(no error recorded: see the task log)")),
                rec.get("log_url"),
                rec.get("try_number"),
            )
        )
    return out


def warehouse_facts(wh: Warehouse, pipeline: str, run_id: str) -> tuple[dict[str, dict[str, float]], list]:
    """Rows per table from the load ledger and per-node dbt results, for one run."""
    with wh.session() as con:
        wh.ensure_metadata(con)
        tables = {
            r[0]: {
                "extracted": r[1],
                "loaded": r[2],
                "quarantined": r[3],
                "skipped": r[4],
                "bytes": r[5],
                "seconds": r[6],
            }
            for r in con.execute(
                "SELECT table_name, sum(rows_in_batch), sum(rows_changed), sum(rows_quarantined), "
                "sum(coalesce(rows_skipped, 0)), sum(coalesce(bytes, 0)), sum(duration_seconds) "
                f"FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? AND run_id = ? GROUP BY table_name "
                "ORDER BY table_name",
                [pipeline, run_id],
            ).fetchall()
        }
        dbt = [
            dict(
                zip(
                    ("unique_id", "resource_type", "step", "status", "execution_time", "failures"),
                    r,
                    strict=True,
                )
            )
            for r in con.execute(
                "SELECT unique_id, resource_type, step, status, execution_time, failures "
                f"FROM {ALIAS}.{META}.dbt_results WHERE pipeline = ? AND run_id = ? ORDER BY unique_id",
                [pipeline, run_id],
            ).fetchall()
        ]
    return tables, dbt


# -- deciding ---------------------------------------------------------------------------------
_VOLATILE = re.compile(r"\d+(\.\d+)?")


def fingerprint(
    pipeline: str, run_id: str, failed: list[FailedTask], failed_tests: list[dict[str, Any]]
) -> str:
    """Same pipeline, same failed tasks, same error lines (numbers and run ids aside) -> same value."""
    parts = [pipeline]
    for f in sorted(failed, key=lambda f: f.label):
        parts.append(f.label + "|" + _VOLATILE.sub("#", f.error.replace(run_id, "<run>")))
    parts += sorted(t["unique_id"] for t in failed_tests)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def decide(
    prev: AlertState, run_id: str, failed: bool, fp: str | None, now: datetime, window: timedelta
) -> tuple[str | None, AlertState]:
    """(action, new state): action is "failure", "suppressed", "resolved" or None."""
    if failed:
        failing = prev.state == "failing"
        if failing and prev.fingerprint == fp and prev.last_posted_at and now - prev.last_posted_at < window:
            return "suppressed", replace(
                prev,
                last_run_id=run_id,
                failed_runs=prev.failed_runs + 1,
                suppressed=prev.suppressed + 1,
                updated_at=now,
            )
        return "failure", AlertState(
            prev.pipeline,
            "failing",
            fp,
            first_failed_run=prev.first_failed_run if failing else run_id,
            first_failed_at=prev.first_failed_at if failing else now,
            last_posted_at=now,
            last_run_id=run_id,
            failed_runs=(prev.failed_runs if failing else 0) + 1,
            suppressed=0,
            updated_at=now,
        )
    action = "resolved" if prev.state == "failing" else None
    return action, AlertState(prev.pipeline, "ok", last_run_id=run_id, updated_at=now)


def suppress_window() -> timedelta:
    raw: str | None = Settings.from_env().alert_suppress_hours
    if raw is None:
        try:
            from airflow.sdk import Variable

            raw = Variable.get(SUPPRESS_VARIABLE, default=None)
        except Exception:  # outside a task, or no Variable: the default
            raw = None
    try:
        hours = float(raw) if raw else DEFAULT_SUPPRESS_HOURS
    except ValueError:
        log.warning("%s=%r is not a number of hours; using %s", SUPPRESS_ENV, raw, DEFAULT_SUPPRESS_HOURS)
        hours = DEFAULT_SUPPRESS_HOURS
    return timedelta(hours=max(hours, 0.0))


# -- messages ---------------------------------------------------------------------------------
def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def airflow_run_url(base_url: str | None, dag_id: str, run_id: str) -> str | None:
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def docs_link(spec: PipelineSpec, settings: Settings) -> str | None:
    base = settings.dbt_docs_url or Settings.from_env().dbt_docs_url  # set after start-up too
    if base:
        return base
    index = settings.home / "dbt" / spec.name / "target" / "index.html"
    return f"file://{index}" if index.exists() else None


def failure_message(
    facts: RunFacts, prev: AlertState, run_url: str | None, docs_url: str | None
) -> dict[str, Any]:
    """The Slack payload (text + blocks) for one failed run: counts and identifiers only."""
    blocked = facts.count("upstream_failed")
    text = (
        f":red_circle: {facts.title}: run {facts.run_id} failed: {len(facts.failed) or 'no'} "
        f"task{'s' if len(facts.failed) != 1 else ''} failed"
        + (f", {blocked} downstream task{'s' if blocked != 1 else ''} not run" if blocked else "")
    )
    fields = [
        f"*Pipeline*\n{facts.title}",
        f"*Run*\n{facts.run_id}",
        f"*Logical date*\n{facts.logical_date or '-'}",
        f"*Started*\n{facts.started_at or '-'}",
    ]
    lines = []
    for f in facts.failed[:MAX_LISTED]:
        log_link = f" <{f.log_url}|task log>" if f.log_url else ""
        attempt = f" (try {f.try_number})" if f.try_number else ""
        lines.append(f"• `{f.label}`{attempt}{log_link}\n   `{f.error}`")
    if len(facts.failed) > MAX_LISTED:
        lines.append(f"… and {len(facts.failed) - MAX_LISTED} more failed tasks")
    blocks: list[dict[str, Any]] = [
        _section(text),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        _section("*Failed tasks*\n" + ("\n".join(lines) or "(none recorded)")),
    ]
    if blocked:
        blocks.append(
            _section(f"*Not run*: {blocked} downstream task{'s' if blocked != 1 else ''} (upstream failed)")
        )
    tests = facts.failed_tests
    if tests:
        listed = [
            f"• `{t['unique_id']}`: {t['status']}"
            + (f", {_rows(t['failures'])}" if t.get("failures") is not None else "")
            for t in tests[:MAX_LISTED]
        ]
        if len(tests) > MAX_LISTED:
            listed.append(f"… and {len(tests) - MAX_LISTED} more")
        blocks.append(_section(f"*dbt tests failed: {len(tests)}*\n" + "\n".join(listed)))
    blocks.append(_section(_rows_line(facts)))
    if prev.state == "failing" and prev.suppressed:
        blocks.append(
            _section(
                f"{prev.suppressed} earlier identical failure{'s' if prev.suppressed != 1 else ''} "
                f"of {facts.title} since {prev.last_posted_at:%Y-%m-%d %H:%M} UTC "
                "were not re-posted (suppression window)"
            )
        )
    links = [f"<{run_url}|Airflow run>"] if run_url else []
    if docs_url:
        links.append(f"<{docs_url}|dbt docs>")
    if links:
        blocks.append(_section(" · ".join(links)))
    return {"text": text, "blocks": blocks}


def _rows(n: Any) -> str:
    return f"{int(n):,} failing row{'s' if int(n) != 1 else ''}"


def _rows_line(facts: RunFacts) -> str:
    if facts.warehouse_error:
        return f"*Rows so far*: unknown (the warehouse could not be read: {facts.warehouse_error})"
    return (
        f"*Rows so far*: {facts.total('loaded'):,} loaded into {len(facts.tables)} "
        f"table{'s' if len(facts.tables) != 1 else ''} ({facts.total('extracted'):,} extracted), "
        f"{facts.total('quarantined'):,} quarantined"
    )


def resolved_message(facts: RunFacts, prev: AlertState, run_url: str | None) -> dict[str, Any]:
    text = (
        f":large_green_circle: {facts.title} resolved: run {facts.run_id} succeeded after "
        f"{prev.failed_runs} failed run{'s' if prev.failed_runs != 1 else ''}"
    )
    since = (
        f"first failure: run {prev.first_failed_run} at {prev.first_failed_at:%Y-%m-%d %H:%M} UTC"
        if (prev.first_failed_at)
        else ""
    )
    detail = [since] if since else []
    if prev.suppressed:
        detail.append(
            f"{prev.suppressed} identical failure alert{'s' if prev.suppressed != 1 else ''} suppressed"
        )
    blocks = [_section(text)]
    if detail:
        blocks.append(_section("; ".join(detail)))
    blocks.append(_section(_rows_line(facts)))
    if run_url:
        blocks.append(_section(f"<{run_url}|Airflow run>"))
    return {"text": text, "blocks": blocks}


# -- the report task --------------------------------------------------------------------------
def finish_run(
    spec: PipelineSpec,
    settings: Settings,
    facts: RunFacts,
    base_url: str | None = None,
) -> RunRecord:
    """Record the run in the ledger and post (or suppress) its alert; return the ledger row."""
    from headwater.warehouse import open_warehouse

    wh = open_warehouse(settings.warehouse_url)
    prev: AlertState | None = None
    try:
        facts.tables, facts.dbt = warehouse_facts(wh, spec.name, facts.run_id)
        prev = alert_state(wh, facts.dag)  # per DAG: one DAG's success must not resolve another's failure
    except Exception as e:  # still alert with what Airflow knows
        facts.warehouse_error = redact(str(e).splitlines()[0] if str(e) else type(e).__name__)[:300]
        log.error("run report: the warehouse could not be read: %s", facts.warehouse_error)
    failed = facts.run_failed
    fp = fingerprint(facts.dag, facts.run_id, facts.failed, facts.failed_tests) if failed else None
    action, state = decide(
        prev or AlertState(facts.dag, "ok"), facts.run_id, failed, fp, facts.ended_at, suppress_window()
    )
    run_url = airflow_run_url(base_url, facts.dag, facts.run_id)
    alert: str | None = None
    if action == "failure":
        delivered = send(
            failure_message(facts, prev or AlertState(facts.dag, "ok"), run_url, docs_link(spec, settings))
        )
        alert = "posted" if delivered else "not delivered"
        if not delivered:
            state = replace(state, last_posted_at=None)  # the next failure tries again
    elif action == "resolved" and prev is not None:
        alert = "resolved" if send(resolved_message(facts, prev, run_url)) else "resolved, not delivered"
    elif action == "suppressed":
        alert = "suppressed"
        log.info(
            "%s failed like before (fingerprint %s): alert suppressed (%d so far)",
            spec.name,
            fp,
            state.suppressed,
        )
    started = facts.started_at
    record = RunRecord(
        pipeline=spec.name,
        run_id=facts.run_id,
        logical_date=facts.logical_date,
        started_at=started,
        ended_at=facts.ended_at,
        outcome="failed" if failed else "success",
        duration_seconds=(facts.ended_at - started).total_seconds() if started else None,
        tasks_failed=len(facts.failed),
        tasks_upstream_failed=facts.count("upstream_failed"),
        tasks_skipped=facts.count("skipped"),
        tables_loaded=len(facts.tables),
        rows_extracted=facts.total("extracted"),
        rows_loaded=facts.total("loaded"),
        rows_quarantined=facts.total("quarantined"),
        rows_skipped=facts.total("skipped"),
        bytes_loaded=facts.total("bytes"),
        el_seconds=sum(t.duration or 0 for t in facts.tasks if _task_name(t).startswith(("extract", "load"))),
        dbt_seconds=sum(t.duration or 0 for t in facts.tasks if _task_name(t).startswith("dbt_")),
        dbt_models_ok=sum(1 for d in facts.dbt if d["resource_type"] == "model" and d["status"] == "success"),
        dbt_tests_passed=facts.tests("pass"),
        dbt_tests_warned=facts.tests("warn"),
        dbt_tests_failed=len(facts.failed_tests),
        alert=alert,
        error="; ".join(f"{f.label}: {f.error}" for f in facts.failed)[:1000] or None,
    )
    if prev is not None:
        try:
            record_run(wh, record, state)
        except Exception as e:
            log.error("run report: the run ledger could not be written: %s", redact(str(e)))
    return record


def _task_name(task: TaskOutcome) -> str:
    """A task's id without its task groups (``ingest_app.load`` -> ``load``)."""
    return task.task_id.rsplit(".", 1)[-1]


def facts_from_airflow(context: dict[str, Any], pipeline: str) -> RunFacts:
    """Task states, durations and recorded failures of the current run, from Airflow."""
    from headwater.notify import FAILURE_XCOM_KEY

    ti = context["ti"]
    dag_run = context["dag_run"]
    run_id = str(dag_run.run_id)
    crumbs = list(ti.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=run_id))
    tasks = [
        TaskOutcome(str(c["task_id"]), int(c.get("map_index", -1)), c.get("state"), c.get("duration"))
        for c in crumbs
        if c["task_id"] != REPORT_TASK
    ]
    recorded: dict[tuple[str, int], dict[str, Any]] = {}
    for t in tasks:
        if t.state == "failed":
            try:
                value = ti.xcom_pull(task_ids=t.task_id, map_indexes=t.map_index, key=FAILURE_XCOM_KEY)
            except Exception as e:
                log.warning("no failure record for %s[%s]: %s", t.task_id, t.map_index, e)
                value = None
            if isinstance(value, dict):
                recorded[(t.task_id, t.map_index)] = value
    started = getattr(dag_run, "start_date", None)
    logical = getattr(dag_run, "logical_date", None) or getattr(dag_run, "run_after", None)
    return RunFacts(
        pipeline=pipeline,
        run_id=run_id,
        logical_date=_naive_utc(logical),
        started_at=_naive_utc(started),
        ended_at=utcnow(),
        tasks=tasks,
        failed=failed_tasks(tasks, recorded),
        dag_id=str(ti.dag_id),
    )


def _naive_utc(value: Any) -> datetime | None:
    from datetime import UTC

    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

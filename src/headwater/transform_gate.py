"""Does this run need its dbt steps? Only when something they read has changed.

The dbt steps are most of an everyday run's time, and a run that loaded nothing would rebuild
the same models from the same rows. So each DAG run decides once, when its first dbt step
starts, and records the decision in ``headwater.transforms``. The steps run when:

- the run asks for it (``full_refresh``, or the ``force_transform`` parameter);
- no transform of the pipeline (and dbt target) has succeeded yet, or its dbt schemas are gone;
- the dbt project changed since the last successful transform (its files, headwater_common's
  and the target: a fingerprint, so an edited model or seed is built with no new data);
- rows changed since then: a load changed or deleted rows, or a delete check marked or
  unmarked some (counted from the load ledger and the reconciliations, which are written in
  the same transaction as the rows themselves, so a change counted here is visible to dbt).

Otherwise every step that builds, tests or documents is skipped, visibly, with the reason.
Seeds and docs follow from the project alone, so changed rows alone do not load the seeds again
or generate the docs again (the docs stay those of the last transform that changed the project;
the skip says so). Source
freshness always runs (the sources age whether or not anything loaded). A transform counts
as done only when the run ended in success with none of its model-building steps switched
off (``report_run`` records that): a failed or partial one leaves the next run to build again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headwater import duck
from headwater.settings import Settings
from headwater.spec import PipelineSpec

FORCE_PARAM = "force_transform"
UNGATED_COMMANDS = (("source", "freshness"),)
"""dbt commands that run whatever changed."""
_SKIP_PARTS = ("target", "dbt_packages", "logs", "__pycache__")


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str

    @property
    def rows_only(self) -> bool:
        """Running only because rows changed: the project, seeds included, is as last built."""
        return self.reason.startswith(ROWS_CHANGED)


ROWS_CHANGED = "rows were loaded or deleted"


BUILDING_COMMANDS = ("run", "seed", "snapshot", "build")
"""dbt commands that change models: a run with one of their steps switched off built a part."""


def is_complete(spec: PipelineSpec, params: dict[str, Any], succeeded: bool) -> bool:
    """A transform is done (later runs may skip theirs) only when the run succeeded with none
    of its model-building steps switched off (``run_<step>``)."""
    building = [s for s in spec.dbt_steps if spec.step(s).command[0] in BUILDING_COMMANDS]
    return succeeded and all(params.get(f"run_{s}", True) for s in building)


def is_gated(spec: PipelineSpec, step: str) -> bool:
    return spec.step(step).command not in UNGATED_COMMANDS


PROJECT_ONLY_COMMANDS = (("seed",), ("docs", "generate"))
"""dbt commands whose output follows from the project alone, not from the rows: seeds are files
of the project; the docs describe its models, columns and tests (their catalog reads column
types, which only the project changes). Changed rows alone do not run them."""


def needs_rows(spec: PipelineSpec, steps: list[str]) -> bool:
    """Whether changed rows alone call for these steps: not for seeds and docs (see
    PROJECT_ONLY_COMMANDS), run again only when the project changed, or on a full refresh."""
    return any(spec.step(s).command not in PROJECT_ONLY_COMMANDS for s in steps)


def project_fingerprint(spec: PipelineSpec, settings: Settings) -> str:
    """A hash of everything dbt builds from: the project's files, headwater_common's, the target."""
    from headwater.transform import DBT_COMMON_DIR

    digest = hashlib.sha256(settings.dbt_target_for(spec).encode())
    for root in (r for r in (spec.dbt_project_dir, DBT_COMMON_DIR) if r is not None):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if set(relative.parts) & set(_SKIP_PARTS):
                continue
            digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _changes_seen(con: Any, pipeline: str) -> int:
    """Ledger rows that changed something: a different count means rows changed since."""
    from headwater.warehouse.base import ALIAS
    from headwater.warehouse.migrations import META

    loads = duck.run(
        con,
        f"SELECT count(*) FROM {ALIAS}.{META}.load_ledger WHERE pipeline = ? "
        "AND (coalesce(rows_changed, 0) > 0 OR coalesce(rows_deleted, 0) > 0)",
        [pipeline],
    ).fetchone()
    deletes = duck.run(
        con,
        f"SELECT count(*) FROM {ALIAS}.{META}.reconciliations WHERE pipeline = ? AND kind = 'deletes' "
        "AND (coalesce(rows_marked_deleted, 0) > 0 OR coalesce(rows_unmarked, 0) > 0)",
        [pipeline],
    ).fetchone()
    return int(loads[0] if loads else 0) + int(deletes[0] if deletes else 0)


def decide(spec: PipelineSpec, settings: Settings, run_id: str, params: dict[str, Any]) -> Decision:
    """This run's decision: made by its first dbt task, read back by the others."""
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS
    from headwater.warehouse.migrations import META

    target = settings.dbt_target_for(spec)
    table = f"{ALIAS}.{META}.transforms"
    warehouse = open_warehouse(settings.warehouse_url)
    with warehouse.session() as con:
        warehouse.ensure_metadata(con)
        made = duck.run(
            con,
            f"SELECT decision, reason FROM {table} WHERE pipeline = ? AND dbt_target = ? AND run_id = ? "
            "ORDER BY decided_at LIMIT 1",
            [spec.name, target, run_id],
        ).fetchone()
        if made:
            return Decision(made[0] == "run", made[1])
        fingerprint = project_fingerprint(spec, settings)
        seen = _changes_seen(con, spec.name)
        last = duck.run(
            con,
            f"SELECT run_id, project_fingerprint, changes_seen FROM {table} "
            "WHERE pipeline = ? AND dbt_target = ? AND decision = 'run' AND outcome = 'success' "
            "ORDER BY decided_at DESC LIMIT 1",
            [spec.name, target],
        ).fetchone()
    decision = _decision(spec, settings, params, last, fingerprint, seen)
    with warehouse.session() as con:
        duck.run(
            con,
            f"INSERT INTO {table} (pipeline, dbt_target, run_id, decided_at, decision, reason, "
            "project_fingerprint, changes_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                spec.name,
                target,
                run_id,
                datetime.now(UTC).replace(tzinfo=None),
                "run" if decision.run else "skip",
                decision.reason,
                fingerprint,
                seen,
            ],
        )
    return decision


def _decision(
    spec: PipelineSpec,
    settings: Settings,
    params: dict[str, Any],
    last: tuple | None,
    fingerprint: str,
    seen: int,
) -> Decision:
    from headwater.transform import dbt_schema_built

    if params.get("full_refresh"):
        return Decision(True, "a full refresh rebuilds every model")
    if params.get(FORCE_PARAM):
        return Decision(True, f"the run asked for it ({FORCE_PARAM})")
    if last is None:
        return Decision(True, "no transform has succeeded yet")
    last_run, last_fingerprint, last_seen = last
    if last_fingerprint != fingerprint:
        return Decision(True, f"the dbt project changed since the last transform ({last_run})")
    if int(last_seen) != seen:
        return Decision(True, f"{ROWS_CHANGED} since the last transform ({last_run})")
    if not dbt_schema_built(spec, settings):
        return Decision(True, "the warehouse holds none of the pipeline's dbt schemas")
    return Decision(
        False,
        f"nothing changed since the last transform ({last_run}): no row loaded or deleted, the "
        f"same dbt project; the {FORCE_PARAM} parameter runs it anyway",
    )


def finish(spec: PipelineSpec, settings: Settings, run_id: str, complete: bool) -> None:
    """Record how the run's transform ended: success only when it ran whole and succeeded."""
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS
    from headwater.warehouse.migrations import META

    warehouse = open_warehouse(settings.warehouse_url)
    with warehouse.session() as con:
        warehouse.ensure_metadata(con)
        duck.run(
            con,
            f"UPDATE {ALIAS}.{META}.transforms SET outcome = ?, finished_at = ? "
            "WHERE pipeline = ? AND dbt_target = ? AND run_id = ? AND outcome IS NULL",
            [
                "success" if complete else "incomplete",
                datetime.now(UTC).replace(tzinfo=None),
                spec.name,
                settings.dbt_target_for(spec),
                run_id,
            ],
        )

"""DAG shapes as data: a pipeline's dbt steps and its DAGs, parsed from ``pipeline.yaml``.

``transform:`` declares the dbt steps, each a dbt command with its own selectors; the eight
steps of seed 000 are the ``standard`` preset, so a spec that lists their names (or nothing)
keeps today's DAG. ``dags:`` splits a pipeline into several DAGs linked by Airflow Assets: a
DAG ``produces`` assets (updated when its work succeeds) and another is ``scheduled_by`` them.
Without ``dags:`` a pipeline has one DAG, named after it, that ingests and then runs every step.

Everything here is pure data and validation: no Airflow import, no database, no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.errors import SpecError
from headwater.identifiers import require_identifier as _identifier

DBT_COMMANDS = ("run", "test", "seed", "snapshot", "build", "compile", "source freshness", "docs generate")
"""dbt sub-commands a step may run (a space separates a two-word command)."""
FULL_REFRESH_COMMANDS = ("run", "seed", "build")
"""The commands that accept ``--full-refresh``."""
SELECT_COMMANDS = ("run", "test", "seed", "snapshot", "build", "compile", "source freshness")
INGEST_KINDS = ("all", "by_source")
RENDERS = ("steps", "per_model")
"""``transform.render``: one task per dbt step (the default) or one task per dbt node."""
NODE_COMMANDS = ("seed", "snapshot", "run", "test", "build")
"""The commands whose steps per-model rendering replaces by node tasks (the others, such as
source freshness and docs generate, stay steps before or after the node tasks)."""
SELECTOR_METHODS = ("tag", "source", "path", "resource_type", "fqn", "package", "config.materialized")
"""Selector methods a per-model step may use: Headwater evaluates them on the manifest."""
BRANCH_PATHS = ("first_build", "regular_run")


@dataclass(frozen=True)
class DbtStep:
    """One dbt invocation, one Airflow task (``dbt_<name>``)."""

    name: str
    command: tuple[str, ...]
    select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    full_refresh: bool = False
    """Pass ``--full-refresh`` on a full-refresh run or a first build."""

    def args(self, full_refresh: bool) -> list[str]:
        """The dbt arguments of this step (without the project/profile location ones)."""
        args = list(self.command)
        if self.select:
            args += ["--select", *self.select]
        if self.exclude:
            args += ["--exclude", *self.exclude]
        if full_refresh and self.full_refresh:
            args.append("--full-refresh")
        return args


PRESETS: dict[str, tuple[DbtStep, ...]] = {
    # Seed 000's eight steps, in order: what travel_bookings and flights run.
    "standard": (
        DbtStep("seed", ("seed",), full_refresh=True),
        DbtStep("source_freshness", ("source", "freshness")),
        DbtStep("source_tests", ("test",), select=("source:*",)),
        DbtStep("staging", ("run",), select=("tag:staging",), full_refresh=True),
        DbtStep("snapshot", ("snapshot",)),
        DbtStep("core", ("run",), select=("tag:core",), full_refresh=True),
        DbtStep("test_all", ("test",)),
        DbtStep("docs", ("docs", "generate")),
    ),
}
DEFAULT_PRESET = "standard"


@dataclass(frozen=True)
class DagShape:
    """One Airflow DAG of a pipeline."""

    dag_id: str
    schedule: str | None = None
    """Cron expression or preset (``@daily``); None with ``scheduled_by`` or for manual runs."""
    scheduled_by: tuple[str, ...] = ()
    """Asset names: the DAG runs when every one of them has been updated."""
    produces: tuple[str, ...] = ()
    """Asset names this DAG updates once its extract/load and steps succeeded."""
    ingest: str | None = None
    """None (no extract/load), ``all`` (one flat ingest) or ``by_source`` (a group per source)."""
    steps: tuple[str, ...] = ()
    """dbt steps in order (the regular-run path when ``first_build`` is set)."""
    first_build: tuple[str, ...] | None = None
    """With a value, the DAG branches at run time: while the warehouse holds nothing of the
    pipeline's dbt schemas these steps run with --full-refresh, afterwards ``steps`` run."""
    description: str = ""

    @property
    def branches(self) -> bool:
        return self.first_build is not None

    @property
    def all_steps(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*(self.first_build or ()), *self.steps)))


def _known_keys(mapping: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A name or a list of names (identifiers), as a tuple."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise SpecError(f"{where} must be a name or a list of names")
    return tuple(_identifier(v, where) for v in items)


def _selectors(value: Any, where: str) -> tuple[str, ...]:
    """dbt selectors: each one argument, so no spaces (list several) and no leading dash."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and s for s in items):
        raise SpecError(f"{where} must be a dbt selector or a list of them, e.g. [tag:core]")
    for s in items:
        if s.startswith("-") or any(c.isspace() for c in s):
            raise SpecError(f"{where}: {s!r} is not one selector (no spaces or leading '-'; list them)")
    return tuple(items)


# -- transform: -------------------------------------------------------------------------------
def parse_steps(transform: dict[str, Any], where: str) -> tuple[DbtStep, ...]:
    """The pipeline's dbt steps from ``transform:`` (``preset`` and/or ``steps``)."""
    has_project = bool(transform.get("dbt_project"))
    preset_name = transform.get("preset", DEFAULT_PRESET)
    if preset_name not in PRESETS:
        raise SpecError(f"{where}.preset: {preset_name!r} is not one of {sorted(PRESETS)}")
    preset = {s.name: s for s in PRESETS[preset_name]}
    if "steps" not in transform:
        steps = tuple(preset.values()) if has_project else ()
    else:
        raw = transform["steps"]
        if not isinstance(raw, list):
            raise SpecError(f"{where}.steps must be a list of step names or step mappings")
        unknown = [s for s in raw if isinstance(s, str) and s not in preset]
        if unknown:
            raise SpecError(
                f"{where}.steps: unknown step(s) {unknown}; the {preset_name} preset's steps: "
                f"{list(preset)} (or declare a step: {{name, command, select, exclude, full_refresh}})"
            )
        steps = tuple(_parse_step(s, preset, f"{where}.steps[{i}]") for i, s in enumerate(raw))
    if steps and not has_project:
        raise SpecError(f"{where}: dbt steps need dbt_project (the dbt project folder)")
    names = [s.name for s in steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{where}.steps: step(s) listed twice: {dupes}")
    return steps


def _parse_step(raw: Any, preset: dict[str, DbtStep], where: str) -> DbtStep:
    if isinstance(raw, str):
        return preset[raw]  # parse_steps has refused unknown names
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a step name or a mapping")
    _known_keys(raw, {"name", "command", "select", "exclude", "full_refresh"}, where)
    name = _identifier(raw.get("name"), f"{where}.name")
    where = f"{where} ({name})"
    command = raw.get("command")
    if command not in DBT_COMMANDS:
        raise SpecError(f"{where}.command: {command!r} is not one of {list(DBT_COMMANDS)}")
    select = _selectors(raw["select"], f"{where}.select") if raw.get("select") else ()
    exclude = _selectors(raw["exclude"], f"{where}.exclude") if raw.get("exclude") else ()
    if (select or exclude) and command not in SELECT_COMMANDS:
        raise SpecError(f"{where}: dbt {command} takes no select/exclude")
    full_refresh = raw.get("full_refresh", command in FULL_REFRESH_COMMANDS)
    if not isinstance(full_refresh, bool):
        raise SpecError(f"{where}.full_refresh must be true or false")
    if full_refresh and command not in FULL_REFRESH_COMMANDS:
        raise SpecError(f"{where}.full_refresh: dbt {command} has no --full-refresh")
    return DbtStep(name, tuple(command.split()), select, exclude, full_refresh)


def unsupported_selector(selector: str) -> str | None:
    """Why per-model rendering cannot evaluate ``selector`` itself, or None when it can."""
    if any(c in selector for c in "+@,") or selector[:1].isdigit():
        return "graph operators (+, @) and intersections (,) are not supported per model"
    method = selector.split(":", 1)[0] if ":" in selector else None
    if method is not None and method not in SELECTOR_METHODS:
        return f"selector method {method!r} is not one of {list(SELECTOR_METHODS)}"
    return None


def parse_render(
    transform: dict[str, Any], steps: tuple[DbtStep, ...], dags: tuple[DagShape, ...], where: str
) -> str:
    """``transform.render``, checked against what per-model rendering can do."""
    render = transform.get("render", "steps")
    if render not in RENDERS:
        raise SpecError(f"{where}.render: {render!r} is not one of {list(RENDERS)}")
    if render == "steps":
        return render
    node_steps = [s for s in steps if " ".join(s.command) in NODE_COMMANDS]
    if not node_steps:
        raise SpecError(f"{where}.render: per_model needs a step running one of {list(NODE_COMMANDS)}")
    for s in node_steps:
        for selector in (*s.select, *s.exclude):
            why = unsupported_selector(selector)
            if why:
                raise SpecError(f"{where}.steps ({s.name}): {selector!r}: {why}")
    branching = [d.dag_id for d in dags if d.branches]
    if branching:
        raise SpecError(
            f"{where}.render: per_model does not render a first_build/regular_run branch "
            f"({branching}); list the steps (a full_refresh run rebuilds everything)"
        )
    return render


# -- dags: ------------------------------------------------------------------------------------
def default_dags(pipeline: str, schedule: str | None, steps: tuple[DbtStep, ...]) -> tuple[DagShape, ...]:
    """Today's shape: one DAG named after the pipeline, ingest then every step."""
    return (DagShape(pipeline, schedule=schedule, ingest="all", steps=tuple(s.name for s in steps)),)


def parse_dags(
    raw: Any,
    pipeline: str,
    schedule: str | None,
    steps: tuple[DbtStep, ...],
    source_of: dict[str, str],
    depends_on: dict[str, tuple[str, ...]],
    where: str,
) -> tuple[DagShape, ...]:
    """The pipeline's DAGs from ``dags:``; ``source_of``/``depends_on`` describe its tables."""
    if raw is None:
        return default_dags(pipeline, schedule, steps)
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}.dags must be a non-empty list of DAGs")
    step_names = [s.name for s in steps]
    dags = tuple(
        _parse_dag(d, pipeline, schedule, step_names, f"{where}.dags[{i}]") for i, d in enumerate(raw)
    )
    ids = [d.dag_id for d in dags]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(f"{where}.dags: dag id(s) listed twice: {dupes}")
    ingesting = [d.dag_id for d in dags if d.ingest]
    if len(ingesting) > 1:
        raise SpecError(f"{where}.dags: only one DAG may ingest (extract and load); found {ingesting}")
    if any(d.ingest == "by_source" for d in dags):
        crossing = [(t, d) for t, deps in depends_on.items() for d in deps if source_of[d] != source_of[t]]
        if crossing:
            raise SpecError(
                f"{where}.dags: ingest by_source loads each source in its own branch, but table(s) "
                f"depend on tables of another source: {crossing}; use ingest: all"
            )
    _check_assets(dags, where)
    return dags


def _parse_dag(raw: Any, pipeline: str, schedule: str | None, known_steps: list[str], where: str) -> DagShape:
    if not isinstance(raw, dict):
        raise SpecError(f"{where} must be a mapping")
    _known_keys(raw, {"id", "description", "schedule", "scheduled_by", "produces", "ingest", "steps"}, where)
    dag_id = _identifier(raw.get("id"), f"{where}.id")
    if dag_id != pipeline and not dag_id.startswith(f"{pipeline}_"):
        # Airflow's dag ids are global: the prefix keeps two pipelines' DAGs apart.
        raise SpecError(f"{where}.id: {dag_id!r} must be {pipeline!r} or start with '{pipeline}_'")
    where = f"{where} ({dag_id})"
    if "schedule" in raw and "scheduled_by" in raw:
        raise SpecError(f"{where}: give schedule (time) or scheduled_by (assets), not both")
    scheduled_by = _names(raw["scheduled_by"], f"{where}.scheduled_by") if raw.get("scheduled_by") else ()
    dag_schedule = None if scheduled_by else raw.get("schedule", schedule)
    if dag_schedule is not None and not isinstance(dag_schedule, str):
        raise SpecError(f"{where}.schedule must be a cron expression or preset such as '@daily'")
    produces = _names(raw["produces"], f"{where}.produces") if raw.get("produces") else ()
    ingest = raw.get("ingest")
    if ingest is True:
        ingest = "all"
    if ingest in (False, None):
        ingest = None
    elif ingest not in INGEST_KINDS:
        raise SpecError(f"{where}.ingest: {ingest!r} is not one of {list(INGEST_KINDS)} (or true/false)")
    steps, first_build = _dag_steps(raw.get("steps"), known_steps, where)
    if not ingest and not steps and first_build is None:
        raise SpecError(f"{where}: a DAG must ingest or run dbt steps")
    return DagShape(
        dag_id=dag_id,
        schedule=dag_schedule,
        scheduled_by=scheduled_by,
        produces=produces,
        ingest=ingest,
        steps=steps,
        first_build=first_build,
        description=str(raw.get("description", "")),
    )


def _dag_steps(raw: Any, known: list[str], where: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """(steps, first_build steps or None) from a list, or a {first_build, regular_run} mapping."""
    if raw is None:
        return (), None
    if isinstance(raw, dict):
        _known_keys(raw, set(BRANCH_PATHS), f"{where}.steps")
        missing = [p for p in BRANCH_PATHS if p not in raw]
        if missing:
            raise SpecError(f"{where}.steps: a first-build branch needs both {list(BRANCH_PATHS)}")
        first = _step_list(raw["first_build"], known, f"{where}.steps.first_build")
        regular = _step_list(raw["regular_run"], known, f"{where}.steps.regular_run")
        if not first or not regular:
            raise SpecError(f"{where}.steps: each branch path needs at least one step")
        return regular, first
    return _step_list(raw, known, f"{where}.steps"), None


def _step_list(raw: Any, known: list[str], where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = _names(raw, where)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SpecError(f"{where}: unknown step(s) {unknown}; the pipeline's steps: {known}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"{where}: step(s) listed twice: {dupes}")
    return names


def _check_assets(dags: tuple[DagShape, ...], where: str) -> None:
    producers: dict[str, str] = {}
    for d in dags:
        for asset in d.produces:
            if asset in producers:
                raise SpecError(
                    f"{where}.dags: asset {asset!r} produced by both {producers[asset]} and {d.dag_id}"
                )
            producers[asset] = d.dag_id
    for d in dags:
        orphans = [a for a in d.scheduled_by if a not in producers]
        if orphans:
            raise SpecError(
                f"{where}.dags ({d.dag_id}): scheduled_by asset(s) {orphans} that no DAG produces; "
                f"produced: {sorted(producers) or 'none'}"
            )
    dag_order(dags, where)  # refuses cycles


def upstream_dags(dag: DagShape, dags: tuple[DagShape, ...]) -> set[str]:
    """The DAGs producing the assets ``dag`` is scheduled by."""
    return {d.dag_id for d in dags if set(d.produces) & set(dag.scheduled_by)}


def dag_order(dags: tuple[DagShape, ...], where: str = "pipeline") -> list[DagShape]:
    """The DAGs with every producer before the DAGs its assets schedule (spec order otherwise)."""
    done: set[str] = set()
    order: list[DagShape] = []
    remaining = list(dags)
    while remaining:
        ready = [d for d in remaining if upstream_dags(d, dags) <= done]
        if not ready:
            raise SpecError(
                f"{where}.dags: scheduled_by/produces form a cycle among {[d.dag_id for d in remaining]}"
            )
        order += ready
        done |= {d.dag_id for d in ready}
        remaining = [d for d in remaining if d.dag_id not in done]
    return order

"""Per-model rendering (``transform.render: per_model``): one Airflow task per dbt node.

The step flow runs a pipeline's dbt project as a few big steps. Rendered per model, every
seed, snapshot and model is its own task, running the node and its tests in one
``dbt build`` call, with the dependencies of dbt's manifest; so a failed model is retried,
cleared or inspected on its own, and independent branches run in parallel.

Where the graph comes from: Headwater's own ``dbt parse`` (in-process, no database) writes the
manifest, and a small node plan derived from it goes to ``HEADWATER_HOME/dbt/<pipeline>/
node_plan.json`` (atomically) by ``headwater run`` and ``headwater ui`` before Airflow starts.
A DAG file reads that plan; only when it is missing or older than the project's files does
parsing the DAG run ``dbt parse`` itself (2-10 s, within Airflow's import timeout on a machine
that is not overloaded). ``dbt ls`` never runs. The plan holds node names and selectors: no
connection detail, so no secret can reach the serialized DAG; every task reads the warehouse
URL from its environment when it runs.

Which nodes a DAG gets is decided by its steps: a node is rendered when a node-building step
(seed, snapshot, run, test, build) selects it, and it runs in a given DAG run when one of
those steps is switched on (``run_<step>``). Tests go with the node they test; a test whose
parents are several nodes goes with the one built last, or, when none of them follows all the
others, becomes a task of its own after all of them. Tests of sources only get a task per
source table.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from headwater.errors import TerminalError
from headwater.settings import Settings
from headwater.shapes import NODE_COMMANDS, DbtStep
from headwater.spec import PipelineSpec

BUILT = ("seed", "snapshot", "model")
TESTS = ("test", "unit_test")
_TYPES_OF = {
    "seed": ("seed",),
    "snapshot": ("snapshot",),
    "run": ("model",),
    "test": TESTS,
    "build": (*BUILT, *TESTS),
}
PLAN_FILE = "node_plan.json"
PLAN_VERSION = 2


@dataclass(frozen=True)
class NodeTask:
    """One Airflow task of a per-model DAG: dbt nodes built by one ``dbt build`` call."""

    task_id: str
    """Task id inside the DAG's node group (starts with ``dbt_``)."""
    unique_id: str
    """The built node (or, for a test task, the test; for a source task, the source)."""
    members: tuple[tuple[str, tuple[str, ...]], ...]
    """(dbt selector, the steps that select it) for the node and each test that goes with it."""
    upstream: tuple[str, ...] = ()
    """Task ids this task waits for."""
    late: tuple[str, ...] = ()
    """Members run by a second call once the first succeeded: unit tests, which (unlike in
    ``dbt build``) run after their model, as in the step flow, because a unit test of an
    incremental model reads the model's relation, which a first build has not made yet."""

    def selectors(self, active_steps: set[str]) -> list[str]:
        """The members some active step selects: what this run builds in this task."""
        return [sel for sel, steps in self.members if active_steps & set(steps)]


def is_node_step(step: DbtStep) -> bool:
    return " ".join(step.command) in NODE_COMMANDS


# -- selectors (the subset of dbt's that shapes.SELECTOR_METHODS allows) --------------------
def _matches(selector: str, node: dict[str, Any]) -> bool:
    method, _, value = selector.rpartition(":")
    if not method:
        method = "path" if ("/" in value or value.endswith((".sql", ".csv", ".py"))) else "fqn"
    if method == "tag":
        return any(fnmatch.fnmatchcase(t, value) for t in node.get("tags") or [])
    if method == "source":
        if node.get("resource_type") != "source":
            return False
        parts = value.split(".")
        names = [node.get("source_name", ""), node.get("name", "")][: len(parts)]
        return all(fnmatch.fnmatchcase(n, p) for n, p in zip(names, parts, strict=True))
    if method == "path":
        path, want = node.get("original_file_path") or "", value.rstrip("/")
        return fnmatch.fnmatchcase(path, want) or path == want or path.startswith(f"{want}/")
    if method == "resource_type":
        return node.get("resource_type") == value
    if method == "package":
        return fnmatch.fnmatchcase(node.get("package_name") or "", value)
    if method == "config.materialized":
        return (node.get("config") or {}).get("materialized") == value
    # fqn (dbt's default method): the node's name, or a dotted prefix of its fully qualified name
    if fnmatch.fnmatchcase(node.get("name") or "", value):
        return True
    fqn, parts = node.get("fqn") or [], value.split(".")
    return len(parts) <= len(fqn) and all(fnmatch.fnmatchcase(f, p) for f, p in zip(fqn, parts, strict=False))


def _selected(step: DbtStep, node: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> bool:
    """Whether ``dbt <step>`` would run ``node`` (tests: eager, selected with any parent)."""
    if node.get("resource_type") not in _TYPES_OF[" ".join(step.command)]:
        return False
    related = [node]
    if node.get("resource_type") in TESTS:
        related += [nodes[p] for p in _parents(node) if p in nodes]

    def hit(selectors: tuple[str, ...]) -> bool:
        return any(_matches(s, n) for s in selectors for n in related)

    return (not step.select or hit(step.select)) and not (step.exclude and hit(step.exclude))


def _parents(node: dict[str, Any]) -> list[str]:
    return list((node.get("depends_on") or {}).get("nodes") or [])


# -- the plan -------------------------------------------------------------------------------
def plan_from_manifest(manifest: dict[str, Any], steps: tuple[DbtStep, ...]) -> list[NodeTask]:
    """The node tasks of the project in ``manifest`` that ``steps`` select, in build order."""
    project = manifest["metadata"].get("project_name")
    nodes: dict[str, dict[str, Any]] = {
        **{k: v for k, v in manifest.get("sources", {}).items()},
        **{k: v for k, v in manifest.get("nodes", {}).items()},
        **{k: {**v, "resource_type": "unit_test"} for k, v in manifest.get("unit_tests", {}).items()},
    }
    node_steps = [s for s in steps if is_node_step(s)]
    owners = {
        uid: tuple(s.name for s in node_steps if _selected(s, n, nodes))
        for uid, n in nodes.items()
        if n.get("resource_type") in (*BUILT, *TESTS) and n.get("package_name") == project
    }
    owners = {uid: s for uid, s in owners.items() if s}
    built = [uid for uid in owners if nodes[uid]["resource_type"] in BUILT]
    ancestors = _ancestors(nodes)

    tasks: dict[str, dict[str, Any]] = {}  # anchor unique_id -> members / upstream
    for uid in built:
        tasks[uid] = {"members": [(_selector(nodes[uid]), owners[uid])], "upstream": set()}
    for uid in [u for u in owners if nodes[u]["resource_type"] in TESTS]:
        parents = [p for p in _parents(nodes[uid]) if nodes.get(p, {}).get("resource_type") in BUILT]
        last = [p for p in parents if all(q == p or q in ancestors[p] for q in parents)]
        if last and last[0] in tasks:
            anchor = last[0]
        elif parents:  # several parents, none after all the others: a task of its own
            anchor = uid
            tasks[uid] = {"members": [], "upstream": set(parents)}
        else:  # tests of sources only: one task per source table
            anchor = min((p for p in _parents(nodes[uid]) if p.startswith("source.")), default=uid)
            tasks.setdefault(anchor, {"members": [], "upstream": set()})
        tasks[anchor]["members"].append((_selector(nodes[uid]), owners[uid]))
    for uid in built:
        tasks[uid]["upstream"] |= set(_parents(nodes[uid]))

    ids = {uid: _task_id(uid, nodes.get(uid, {})) for uid in tasks}
    order = _build_order(tasks, ancestors)
    return [
        NodeTask(
            task_id=ids[uid],
            unique_id=uid,
            members=tuple(tasks[uid]["members"]),
            upstream=tuple(sorted(ids[u] for u in _nearest_rendered(tasks[uid]["upstream"], tasks, nodes))),
            late=tuple(
                _selector(nodes[u])
                for u in owners
                if nodes[u]["resource_type"] == "unit_test"
                and _selector(nodes[u]) in dict(tasks[uid]["members"])
            ),
        )
        for uid in order
    ]


def _selector(node: dict[str, Any]) -> str:
    """A selector naming exactly this node: its fully qualified name (which dbt matches as a
    prefix, so a seed would also name a model folder of the same name) and its type."""
    return "fqn:" + ".".join(node["fqn"]) + f",resource_type:{node['resource_type']}"


def _task_id(uid: str, node: dict[str, Any]) -> str:
    kind = node.get("resource_type")
    if kind == "source":
        name = f"source_{node['source_name']}_{node['name']}"
    elif kind in TESTS:
        name = f"test_{node.get('name') or uid.split('.')[-1]}"
    else:
        name = node["name"]
    return "dbt_" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:200]


def _ancestors(nodes: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def visit(uid: str) -> set[str]:
        if uid not in found:
            found[uid] = set()  # a cycle (dbt refuses them) ends here instead of recursing
            direct = [p for p in _parents(nodes.get(uid, {})) if p in nodes]
            found[uid] = set(direct).union(*(visit(p) for p in direct))
        return found[uid]

    for uid in nodes:
        visit(uid)
    return found


def _nearest_rendered(parents: set[str], tasks: dict[str, Any], nodes: dict[str, Any]) -> set[str]:
    """The rendered tasks among ``parents``, looking through nodes that are not rendered."""
    found: set[str] = set()
    seen: set[str] = set()
    stack = list(parents)
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        if uid in tasks and (tasks[uid]["members"] or uid.startswith("source.")):
            found.add(uid)
        elif nodes.get(uid, {}).get("resource_type") in BUILT:
            stack += _parents(nodes[uid])
    return {u for u in found if u in tasks}


def _build_order(tasks: dict[str, Any], ancestors: dict[str, set[str]]) -> list[str]:
    """Anchors sorted so that every task comes after the nodes it builds on (dbt build order)."""
    return sorted(tasks, key=lambda uid: (len(ancestors.get(uid, ())), uid))


# -- building and reading the plan ----------------------------------------------------------
def _project_fingerprint(spec: PipelineSpec, steps: tuple[DbtStep, ...]) -> str:
    """Changes when a project file, the shared package or the steps change."""
    from headwater.transform import DBT_COMMON_DIR

    digest = hashlib.sha256(json.dumps([asdict(s) for s in steps], sort_keys=True).encode())
    for root in (spec.dbt_project_dir, DBT_COMMON_DIR):
        if root is None:
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and not {"target", "logs", "dbt_packages"} & set(path.relative_to(root).parts):
                stat = path.stat()
                digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def plan_path(spec: PipelineSpec, settings: Settings) -> Path:
    return settings.home / "dbt" / spec.name / PLAN_FILE


def build_node_plan(spec: PipelineSpec, settings: Settings) -> list[NodeTask]:
    """``dbt parse`` the project (in-process, no database) and write its node plan."""
    from headwater.transform import dbt_paths, invoke_dbt

    result = invoke_dbt(spec, settings, ["parse"])
    if not result.success:
        raise TerminalError(f"dbt parse of {spec.name} failed: {result.exception or 'see the dbt log'}")
    manifest = json.loads((dbt_paths(spec, settings)["target"] / "manifest.json").read_text())
    tasks = plan_from_manifest(manifest, spec.steps)
    target = plan_path(spec, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "version": PLAN_VERSION,
        "fingerprint": _project_fingerprint(spec, spec.steps),
        "tasks": [asdict(t) for t in tasks],
    }
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".plan-")
    with os.fdopen(fd, "w") as f:
        json.dump(body, f)
    os.replace(tmp, target)  # a DAG parse never reads half a plan
    return tasks


def node_plan(spec: PipelineSpec, settings: Settings) -> list[NodeTask]:
    """The pipeline's node plan: the stored one while it is current, otherwise built now."""
    path = plan_path(spec, settings)
    try:
        body = json.loads(path.read_text())
        if body.get("version") == PLAN_VERSION and body.get("fingerprint") == _project_fingerprint(
            spec, spec.steps
        ):
            return [
                NodeTask(
                    t["task_id"],
                    t["unique_id"],
                    tuple((m[0], tuple(m[1])) for m in t["members"]),
                    tuple(t["upstream"]),
                    tuple(t.get("late", ())),
                )
                for t in body["tasks"]
            ]
    except (OSError, ValueError, KeyError):
        pass  # missing or unreadable: build it
    return build_node_plan(spec, settings)


def prepare_node_plans(settings: Settings) -> list[str]:
    """Bring the node plan of every per-model pipeline up to date; their names.

    Called before Airflow's processes start (``headwater ui``; ``headwater run`` does it per
    pipeline), so that parsing a DAG file only reads the plan: a ``dbt parse`` inside a DAG
    file counts against Airflow's import timeout (30 s), which a busy machine can exceed.
    """
    from headwater.spec import available_pipelines, load_spec

    names = []
    for name in available_pipelines():
        spec = load_spec(name)
        if settings.render_for(spec) == "per_model":
            node_plan(spec, settings)
            names.append(name)
    return names


# -- running one node task ------------------------------------------------------------------
def run_node_task(
    spec: PipelineSpec,
    task: NodeTask,
    active_steps: set[str],
    settings: Settings,
    run_id: str,
    full_refresh: bool = False,
) -> dict[str, Any] | None:
    """Build one node task's members in one ``dbt build``; None when no active step selects any.

    dbt runs in a private target folder seeded with the project's partial-parse file, so
    parallel node tasks never write the same artifacts and each skips a full parse.
    """
    from headwater.transform import dbt_paths, invoke_dbt, record_and_check

    selectors = task.selectors(active_steps)
    if not selectors:
        return None
    refresh = ["--full-refresh"] if full_refresh else []
    # The first call leaves unit tests to the second (dbt build would run them first).
    calls = [
        [*(s for s in selectors if s not in task.late), "--exclude", "resource_type:unit_test", *refresh],
        [*(s for s in selectors if s in task.late)],
    ]
    shared = dbt_paths(spec, settings)["target"]
    shared.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(dir=shared.parent, prefix=f".{task.task_id[:40]}-"))
    results = []
    try:
        parsed = shared / "partial_parse.msgpack"
        if parsed.exists():
            shutil.copy2(parsed, private / parsed.name)
        for call in calls:
            if not call or call[0] == "--exclude":
                continue  # nothing of this kind is active
            args = ["build", "--indirect-selection", "empty", "--select", *call]
            results.append(invoke_dbt(spec, settings, args, private))
            if not results[-1].success:
                break
    finally:
        shutil.rmtree(private, ignore_errors=True)
    return record_and_check(spec, settings, run_id, task.task_id, results)

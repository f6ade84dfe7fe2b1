"""Where a pipeline's marts live, read from its dbt manifest (never a schema written in code).

dbt decides each model's schema and alias (``+schema`` configs, the dev/pro target), and records
them in ``<HEADWATER_HOME>/dbt/<pipeline>/target/manifest.json`` on every run. Dashboard pages
ask this module for ``wh."<schema>"."<alias>"`` by model name, so a renamed schema or another
target needs no change in any page. A pipeline that has not run has no manifest: its models
are reported missing and the page shows its empty state.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from headwater.dashboard.db import ALIAS
from headwater.duck import qualified
from headwater.settings import Settings
from headwater.transform import target_folder

NOT_BUILT = "(not built yet)"
"""The schema reported for a model the manifest does not list (the pipeline has not run)."""
_RELATION_TYPES = ("model", "snapshot", "seed")


def manifest_path(pipeline: str, home: Path | None = None) -> Path:
    """The manifest of the target the pipeline builds (its spec's default, or
    HEADWATER_DBT_TARGET), so a page reads the marts of the run that built them."""
    settings = Settings.from_env()
    return (
        (home or settings.home)
        / "dbt"
        / pipeline
        / target_folder(_target_of(pipeline, settings))
        / "manifest.json"
    )


def _target_of(pipeline: str, settings: Settings) -> str:
    from headwater import discovery
    from headwater.errors import SpecError

    try:
        return settings.dbt_target_for(discovery.load_spec(pipeline))
    except (SpecError, OSError):  # an unknown pipeline has no manifest either way
        return settings.dbt_target


@cache
def _read(path: Path, mtime_ns: int) -> dict[str, tuple[str, str]]:
    del mtime_ns  # part of the cache key only: a new dbt run rewrites the file
    nodes = json.loads(path.read_text()).get("nodes", {})
    return {
        node["name"]: (node["schema"], node.get("alias") or node["name"])
        for node in nodes.values()
        if node.get("resource_type") in _RELATION_TYPES
    }


def relations(pipeline: str, home: Path | None = None) -> dict[str, tuple[str, str]]:
    """model name -> (schema, relation name) for every model, snapshot and seed dbt built."""
    path = manifest_path(pipeline, home)
    try:
        return _read(path, path.stat().st_mtime_ns)
    except FileNotFoundError:
        return {}


def located(pipeline: str, models: tuple[str, ...]) -> list[tuple[str, str]]:
    """(schema, relation) of each model, ``(NOT_BUILT, model)`` for those dbt never built."""
    known = relations(pipeline)
    return [known.get(m, (NOT_BUILT, m)) for m in models]


class MartMissing(LookupError):
    """A page asked for a model its pipeline's manifest does not list."""


def relation(pipeline: str, model: str, home: Path | None = None) -> str:
    """The model as a quoted relation in the attached warehouse: wh."schema"."name"."""
    found = relations(pipeline, home).get(model)
    if found is None:
        raise MartMissing(f"{pipeline}: dbt has not built {model!r} (no manifest entry); run the pipeline")
    return qualified(ALIAS, *found)

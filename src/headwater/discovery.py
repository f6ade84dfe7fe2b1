"""Pipelines are plug-ins found on disk: no core module names one.

A pipeline is a folder holding ``pipeline.yaml`` (its spec) and, optionally, ``generator.py``
(synthetic source data), ``dashboard.py`` (its dashboard page), ``expectations.py`` (figures
computed from the source that the marts must match) and a dbt project. Folders are found in
the bundled ``headwater/pipelines/`` and in every folder of ``HEADWATER_PIPELINE_PATHS``, so a
team can keep its pipelines in its own repository and install Headwater as a dependency.

Modules are loaded from the folder by path, never by a dotted name written in the spec, so a
pipeline outside the package works the same as a bundled one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from functools import cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import yaml  # type: ignore[import-untyped]

from headwater.errors import SpecError
from headwater.identifiers import valid_identifier
from headwater.spec import PipelineSpec, parse_spec

SPEC_FILE = "pipeline.yaml"


def bundled_root() -> Path:
    """The folder of the pipelines shipped with Headwater."""
    return Path(str(resources.files("headwater.pipelines")))


def _extra_paths() -> tuple[Path, ...]:
    from headwater.settings import Settings

    return Settings.from_env().pipeline_paths


def _folders_in(root: Path) -> list[Path]:
    """``root`` itself when it is a pipeline folder, else its ``*/pipeline.yaml`` folders."""
    if (root / SPEC_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{SPEC_FILE}"))


@cache
def _discover(extra: tuple[Path, ...]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for root in (bundled_root(), *extra):
        if root != bundled_root() and not root.is_dir():
            raise SpecError(f"HEADWATER_PIPELINE_PATHS: {root} is not a folder")
        for folder in _folders_in(root):
            name = folder.name
            if not valid_identifier(name):
                raise SpecError(f"pipeline folder {folder}: {name!r} is not a valid pipeline name")
            if name in found and found[name] != folder:
                raise SpecError(
                    f"two pipelines named {name!r}: {found[name]} and {folder}; rename one folder"
                )
            found[name] = folder
    return found


def pipeline_folders() -> dict[str, Path]:
    """Every discovered pipeline's folder by name: the bundled ones, then the extra folders'."""
    return dict(_discover(_extra_paths()))


def available_pipelines() -> list[str]:
    return sorted(pipeline_folders())


@cache
def _load(folder: Path) -> PipelineSpec:
    with (folder / SPEC_FILE).open() as f:
        spec = parse_spec(yaml.safe_load(f), folder=folder)
    if spec.name != folder.name:
        raise SpecError(
            f"{folder / SPEC_FILE}: name {spec.name!r} must match its folder's name {folder.name!r}"
        )
    return spec


def load_spec(name: str) -> PipelineSpec:
    """Load and validate a discovered pipeline's spec (cached per folder: DAG parsing calls this)."""
    if not valid_identifier(name):
        raise SpecError(f"{name!r} is not a pipeline name")
    folders = pipeline_folders()
    if name not in folders:
        raise SpecError(f"no pipeline named {name!r}; available: {', '.join(sorted(folders)) or 'none'}")
    return _load(folders[name])


def is_bundled(spec: PipelineSpec) -> bool:
    return spec.folder.resolve().parent == bundled_root().resolve()


def external_pipelines() -> list[str]:
    """The pipelines found in HEADWATER_PIPELINE_PATHS (their DAGs: dags/external/pipelines.py)."""
    root = bundled_root().resolve()
    return sorted(n for n, folder in pipeline_folders().items() if folder.resolve().parent != root)


def pipeline_module(spec: PipelineSpec, module: str) -> ModuleType | None:
    """The pipeline folder's ``<module>.py`` (generator, dashboard, expectations), or None.

    Bundled pipelines import under their package name (one module object for tests and CLI);
    a pipeline from an extra folder is loaded from its file under a private name.
    """
    path = spec.folder / f"{module}.py"
    if not path.is_file():
        return None
    if is_bundled(spec):
        return importlib.import_module(f"headwater.pipelines.{spec.name}.{module}")
    qualified = f"headwater_pipeline_{spec.name}.{module}"
    loaded = sys.modules.get(qualified)
    if loaded is not None and Path(loaded.__file__ or "") == path:
        return loaded
    spec_ = importlib.util.spec_from_file_location(qualified, path)
    if spec_ is None or spec_.loader is None:
        raise SpecError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec_)
    sys.modules[qualified] = mod
    try:
        spec_.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(qualified, None)
        raise
    return mod


def generator(spec: PipelineSpec) -> ModuleType:
    """The pipeline's synthetic data generator (``generator.py``: generate() and advance())."""
    mod = pipeline_module(spec, "generator")
    if mod is None:
        raise SpecError(
            f"pipeline {spec.name} has no synthetic data generator ({spec.folder / 'generator.py'})"
        )
    return mod

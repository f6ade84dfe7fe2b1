"""Per-run options of a pipeline: which tables, full or incremental.

Three layers, the most specific wins: the run's params (set when triggering), then Airflow
Variables (``headwater_<pipeline>_mode`` = full|incremental, ``headwater_<pipeline>_tables`` =
JSON list), provisioned from a file with ``airflow variables import``, then the spec. They are
read when the plan task runs, never while the DAG file is parsed.
"""

from __future__ import annotations

import json
from typing import Any

from headwater.errors import SpecError
from headwater.spec import PipelineSpec


def variable_names(pipeline: str) -> tuple[str, str]:
    return f"headwater_{pipeline}_mode", f"headwater_{pipeline}_tables"


def run_options(
    spec: PipelineSpec, params: dict[str, Any], variables: dict[str, Any]
) -> tuple[bool, list[str] | None]:
    """(full_refresh, tables or None for all) for this run, validated against the spec."""
    mode_var, tables_var = variable_names(spec.name)
    mode = variables.get(mode_var) or "incremental"
    if mode not in ("incremental", "full"):
        raise SpecError(f"Airflow Variable {mode_var}={mode!r}: use 'incremental' or 'full'")
    full = bool(params.get("full_refresh")) or mode == "full"

    tables = params.get("tables") or variables.get(tables_var) or None
    if isinstance(tables, str):
        tables = (
            json.loads(tables)
            if tables.strip().startswith("[")
            else [t.strip() for t in tables.split(",") if t.strip()]
        )
    tables = tables or None  # an empty list (a Variable stores "[]" as text) means every table
    if tables is not None:
        known = [t.name for t in spec.tables]
        unknown = [t for t in tables if t not in known]
        if unknown:
            raise SpecError(
                f"{spec.name}: unknown table(s) {unknown} in the run's table list; known: {known}"
            )
    return full, tables


def airflow_variables(pipeline: str) -> dict[str, Any]:
    """The pipeline's Variables, read at run time inside a task."""
    from airflow.sdk import Variable

    return {name: Variable.get(name, default=None) for name in variable_names(pipeline)}

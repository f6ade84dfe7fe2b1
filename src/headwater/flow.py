"""One pipeline run's extract/load steps as plain functions.

Airflow tasks, the CLI and the tests all call these, so the DAG stays thin and the same
logic runs with or without a scheduler. Values passed between steps are small dicts (they
travel through XCom): plans and manifest references, never data.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from headwater.extract import TablePlan, extract_table
from headwater.lake import Lake, Manifest, batch_id_for
from headwater.settings import Settings
from headwater.sources import Source, open_source
from headwater.spec import PipelineSpec
from headwater.warehouse import open_warehouse


def source_for(spec: PipelineSpec, settings: Settings, table: str | None = None) -> Source:
    """The source adapter of ``table`` (default: the pipeline's main source)."""
    name = spec.table(table).source if table else spec.source.name
    return open_source(spec.source_named(name), settings.source_url_for(spec, name))


def plan(
    spec: PipelineSpec, settings: Settings, full_refresh: bool = False, tables: list[str] | None = None
) -> list[dict[str, Any]]:
    """Decide, per table (all, or those listed), full or incremental and from which watermark.

    Also makes sure the lake exists (creates the bucket on S3), once per run.
    """
    Lake(settings.lake_url).ensure()
    states = open_warehouse(settings.warehouse_url).watermarks(spec.name)
    chosen = [t for t in spec.tables if tables is None or t.name in tables]
    return [asdict(TablePlan.decide(t, states.get(t.name), full_refresh)) for t in chosen]


def extract(
    spec: PipelineSpec, table_plan: dict[str, Any], run_id: str, settings: Settings
) -> dict[str, Any] | None:
    """Extract one table into the lake; None when it has nothing new."""
    manifest = extract_table(
        spec,
        TablePlan(**table_plan),
        source_for(spec, settings, table_plan["table"]),
        Lake(settings.lake_url),
        run_id,
        batch_id_for(run_id),
    )
    if manifest is None:
        return None
    return {"table": manifest.table, "batch_id": manifest.batch_id, "rows": manifest.rows}


def batches(spec: PipelineSpec, tables: list[str], run_id: str, settings: Settings) -> list[dict[str, Any]]:
    """The complete lake batches this run wrote for ``tables`` (those with a manifest).

    The lake, not XCom, says what there is to load: a table whose extract was skipped has no
    batch for this run, and a batch counts only once its manifest is written.
    """
    lake = Lake(settings.lake_url)
    batch_id = batch_id_for(run_id)
    found: list[dict[str, Any]] = []
    for table in tables:
        manifest = lake.read_manifest(spec.name, table, batch_id)
        if manifest is None:
            continue
        found.extend(split_for_load(spec, manifest, lake, settings))
    return found


def split_for_load(
    spec: PipelineSpec, manifest: Manifest, lake: Lake, settings: Settings
) -> list[dict[str, Any]]:
    """The loads a batch takes: itself, or its chunks when the table's ``load.chunk_rows`` says
    so (written into the lake, the raw table prepared for them; see headwater.chunking)."""
    from headwater import chunking

    chunk_rows = spec.table(manifest.table).chunk_rows
    if chunk_rows is not None and settings.load_chunk_rows is not None:
        chunk_rows = settings.load_chunk_rows
    chunks = chunking.chunk_count(manifest.rows, chunk_rows)
    if chunks == 1:
        return [{"table": manifest.table, "batch_id": manifest.batch_id, "rows": manifest.rows}]
    rows = chunking.split(lake, manifest, spec.table(manifest.table), chunks)
    open_warehouse(settings.warehouse_url).prepare_chunks(spec, manifest, lake)
    return chunking.batch_refs(manifest, rows)


def load(
    spec: PipelineSpec, batch: dict[str, Any], settings: Settings, force: bool = False
) -> dict[str, Any]:
    """Load one lake batch into the warehouse (idempotent: a loaded batch is a no-op)."""
    lake = Lake(settings.lake_url)
    manifest = lake.read_manifest(spec.name, batch["table"], batch["batch_id"])
    if manifest is None:
        from headwater.errors import TerminalError

        raise TerminalError(
            f"batch {batch['batch_id']} of {spec.name}.{batch['table']} has no manifest in "
            f"{lake.url}: the extract did not finish; re-run the extract task"
        )
    if "chunk" in batch:
        from headwater.chunking import chunk_manifest

        manifest = chunk_manifest(manifest, int(batch["chunk"]), int(batch["chunks"]), int(batch["rows"]))
    result = open_warehouse(settings.warehouse_url).load(spec, manifest, lake, force=force)
    return asdict(result)


def run_el(
    spec: PipelineSpec, settings: Settings, run_id: str, full_refresh: bool = False
) -> dict[str, dict[str, Any] | None]:
    """Extract every table, load in dependency order, then check deletes where the spec asks
    (``deletes: detect``, when due), as the DAG does, without Airflow (tests, replays)."""
    results: dict[str, dict[str, Any] | None] = {}
    for table_plan in plan(spec, settings, full_refresh):
        extract(spec, table_plan, run_id, settings)
        results[table_plan["table"]] = None
    for level in spec.load_levels():
        for batch in batches(spec, level, run_id, settings):
            results[batch["table"]] = load(spec, batch, settings)
    from headwater.reconcile import deletes

    due = deletes.due(spec, deletes.tables_with_deletes(spec), settings)
    if due:
        deletes.detect_deletes(spec, due, settings, run_id)
    return results


def replay(
    spec: PipelineSpec,
    table: str,
    settings: Settings,
    batch_id: str | None = None,
    fill_gaps: bool = False,
) -> list[dict[str, Any]]:
    """Reload a warehouse table from its lake batches (oldest first), without the source.

    Loaded batches are applied again (the upsert makes that safe); the watermark never moves
    backwards. One batch older than the table's last load is refused unless ``fill_gaps``
    (then it only adds what the table lacks). Replaying every batch rebuilds the table: the
    older ones fill gaps, and the newest is applied in full, so the table ends at the newest
    state, never an older one.
    """
    spec.table(table)  # unknown table: clear error
    lake = Lake(settings.lake_url)
    manifests = [m for m in lake.batches(spec.name, table) if batch_id in (None, m.batch_id)]
    if not manifests:
        from headwater.errors import TerminalError

        raise TerminalError(
            f"no batch{' ' + batch_id if batch_id else 'es'} of {spec.name}.{table} in {lake.url}"
        )
    warehouse = open_warehouse(settings.warehouse_url)
    fill = fill_gaps or batch_id is None
    return [asdict(warehouse.load(spec, m, lake, force=True, fill_gaps=fill)) for m in manifests]


def backfill(
    spec: PipelineSpec, table: str, start: str | None, end: str | None, settings: Settings, run_id: str
) -> dict[str, Any] | None:
    """Re-extract and load rows with start <= cursor < end, leaving the watermark where it is."""
    t = spec.table(table)
    if t.cursor is None:
        from headwater.errors import TerminalError

        raise TerminalError(f"{spec.name}.{table} has no cursor column: use a full refresh instead")
    state = open_warehouse(settings.warehouse_url).watermarks(spec.name).get(table)
    plan_ = TablePlan(
        table, "backfill", start, (state.cursor_type if state else None) or "TIMESTAMP", until=end
    )
    batch = extract(spec, asdict(plan_), run_id, settings)
    return load(spec, batch, settings) if batch else None

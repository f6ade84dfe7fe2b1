"""The contract between each pipeline's generator and its pipeline.yaml.

A generator declares its tables once (``SOURCE``); the spec names them again for the EL
engine. Both must agree on the tables (and their order: parents first), primary keys and cursor
columns, and, for file and API tables, on the declared columns; the columns ``advance``
updates must be source columns of the same type. Every bundled pipeline with a generator is
checked, so a new pipeline is held to the contract without editing this file.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from headwater import discovery
from headwater.spec import PipelineSpec, ReadSpec, available_pipelines, load_spec
from headwater.synthetic import Schema

PIPELINES = [p for p in available_pipelines() if (load_spec(p).folder / "generator.py").exists()]


def test_the_bundled_pipelines_have_generators():
    assert {"travel_bookings", "flights"} <= set(PIPELINES)


def contract_problems(spec: PipelineSpec, source: Schema) -> list[str]:
    """Where the spec's tables and the generator's declaration disagree (empty: they agree)."""
    generated = [t for t in spec.tables if t.source == spec.source.name]
    problems = []
    if [t.name for t in generated] != list(source.names):
        problems.append(f"tables: spec {[t.name for t in generated]} != declared {list(source.names)}")
    for table in generated:
        if table.name not in source:
            continue
        declared = source[table.name]
        if tuple(table.primary_key) != declared.key:
            problems.append(f"{table.name}: primary key {table.primary_key} != declared {declared.key}")
        if table.cursor != declared.cursor:
            problems.append(f"{table.name}: cursor {table.cursor} != declared {declared.cursor}")
        if table.read is not None and table.read.column_names != declared.column_names:
            problems.append(
                f"{table.name}: columns {table.read.column_names} != declared {declared.column_names}"
            )
        for parent in table.depends_on:
            if parent in source and source.names.index(parent) > source.names.index(table.name):
                problems.append(f"{table.name}: its parent {parent} is declared after it")
    return problems


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_the_generator_declares_what_the_spec_loads(pipeline):
    spec = load_spec(pipeline)
    module = discovery.generator(spec)
    assert module.TABLES == module.SOURCE.names
    assert module.GENERATOR.pipeline == pipeline
    assert contract_problems(spec, module.SOURCE) == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_advance_updates_only_declared_columns_of_the_same_type(pipeline):
    module = discovery.generator(load_spec(pipeline))
    for update in getattr(module.GENERATOR, "updates", ()):  # file sources have none
        table = module.SOURCE[update.name]
        assert update.key == table.key, update.name
        for column in update.columns:
            assert column == table.column(column.name), (update.name, column.name)
    for name in getattr(module.GENERATOR, "inserts", ()):
        assert name in module.SOURCE


def test_the_contract_check_catches_a_drift():
    """Guards the guard: a key, a cursor, a column list or a table that drifted is reported."""
    spec = load_spec("travel_bookings")
    from headwater.pipelines.travel_bookings.generator import SOURCE

    booking, ticket, *rest = spec.tables
    read = ReadSpec(columns=(("booking_id", "bigint"), ("status", "varchar")))
    drifted = replace(
        spec,
        tables=(
            replace(booking, primary_key=("booking_id", "status"), read=read),
            replace(ticket, cursor="created_at"),
            *rest[:-1],
        ),
    )
    problems = "\n".join(contract_problems(drifted, SOURCE))
    assert "booking: primary key" in problems and "booking: columns" in problems
    assert "ticket: cursor created_at != declared updated_at" in problems
    assert "tables: spec" in problems  # ticket_segment is missing

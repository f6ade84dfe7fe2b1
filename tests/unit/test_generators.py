"""What every synthetic SQL source must do, checked over each pipeline's ``CASE``.

Schema as declared (types, NOT NULL, keys, cursor indexes), returned counts, invariants after
generate and after advance, determinism by seed, argument checks, and a Postgres source equal
row for row to the SQLite one. Pipeline-specific realism lives in test_<pipeline>_generator.py.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import psycopg
import pytest

from tests.unit import (
    test_b2b_generator,
    test_flights_generator,
    test_pacbikes_generator,
    test_travel_generator,
)
from tests.unit.generator_support import (
    AS_OF,
    Case,
    checksums,
    copy_of,
    generate_shared,
    newest,
    scalar,
    sqlite_url,
    table_rows,
    user_tables,
)

CASES = [
    test_travel_generator.CASE,
    test_flights_generator.CASE,
    test_b2b_generator.CASE,
    test_pacbikes_generator.CASE,
]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c.name)
def case(request) -> Case:
    return request.param


@pytest.fixture(scope="module")
def generated(case, tmp_path_factory):
    return generate_shared(case, tmp_path_factory)


# ------------------------------------------------------------------------------------------
# generate


def test_tables_have_exactly_the_declared_schema_and_indexes(case, generated):
    path, _ = generated
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(case.source.names)
        for table in case.source:
            info = con.execute(f"PRAGMA table_info({table.name})").fetchall()
            got = [
                (name, " ".join(decl.lower().split()), bool(notnull)) for _, name, decl, notnull, _, _ in info
            ]
            # NOT NULL on key columns too (SQLite would otherwise accept NULL keys)
            assert got == [(c.name, c.type, not c.nullable) for c in table.columns], table.name
            pk = [name for _, name, _, _, _, pk in sorted(info, key=lambda r: r[5]) if pk]
            assert pk == list(table.key), table.name
            indexed = {
                tuple(col[2] for col in con.execute(f"PRAGMA index_info('{ix[1]}')"))
                for ix in con.execute(f"PRAGMA index_list({table.name})")
            }
            assert (table.cursor,) in indexed, f"no index on {table.name}.{table.cursor}"
            assert set(table.indexes) <= indexed, table.name


def test_counts_match_the_returned_counts(case, generated):
    path, counts = generated
    with sqlite3.connect(path) as con:
        assert {t: scalar(con, f"SELECT count(*) FROM {t}") for t in case.source.names} == counts
    assert all(n > 0 for n in counts.values())


def test_invariants_hold_after_generate(case, generated):
    case.check_invariants(generated[0], AS_OF)


def test_same_seed_and_as_of_give_identical_data_other_seed_differs(case, tmp_path):
    a, b, c = (tmp_path / f"{n}.sqlite" for n in "abc")
    gen = case.module.generate
    counts_a = gen(sqlite_url(a), scale=case.small_scale, seed=3, as_of=AS_OF)
    counts_b = gen(sqlite_url(b), scale=case.small_scale, seed=3, as_of=AS_OF)
    gen(sqlite_url(c), scale=case.small_scale, seed=4, as_of=AS_OF)
    assert counts_a == counts_b
    sums_a = checksums(a, case.source)
    assert sums_a == checksums(b, case.source)
    differing = {t for t, h in checksums(c, case.source).items() if h != sums_a[t]}
    assert differing == set(case.source.names) - case.seed_independent


def test_regenerate_replaces_the_tables_and_aware_as_of_means_utc(case, tmp_path):
    path, reference = tmp_path / "s.sqlite", tmp_path / "r.sqlite"
    case.module.generate(sqlite_url(path), scale=2 * case.small_scale, seed=1, as_of=AS_OF)
    aware = AS_OF.replace(tzinfo=dt.timezone(dt.timedelta(hours=2))) + dt.timedelta(hours=2)
    counts = case.module.generate(sqlite_url(path), scale=case.small_scale, seed=1, as_of=aware)
    assert case.module.generate(sqlite_url(reference), scale=case.small_scale, seed=1, as_of=AS_OF) == counts
    assert checksums(path, case.source) == checksums(reference, case.source)


def test_default_as_of_is_now_in_utc(case, tmp_path):
    path = tmp_path / "now.sqlite"
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    case.module.generate(sqlite_url(path), scale=case.small_scale)
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with sqlite3.connect(path) as con:
        latest = dt.datetime.fromisoformat(newest(con, case.source))
    assert before - dt.timedelta(days=1) <= latest <= after


def test_generate_rejects_bad_arguments(case, tmp_path):
    bad = [
        ({"scale": 0}, "scale"),
        ({"scale": -1}, "scale"),
        ({"scale": True}, "scale"),
        ({"seed": 1.5}, "seed"),
    ]
    if case.max_scale:
        bad.append(({"scale": case.max_scale * 1.01}, "scale"))
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            case.module.generate(sqlite_url(tmp_path / "x.sqlite"), as_of=AS_OF, **kwargs)
    with pytest.raises(ValueError, match="SQLite or Postgres"):
        case.module.generate(f"duckdb:///{tmp_path}/x.duckdb", as_of=AS_OF)
    with pytest.raises(Exception, match="(?i)unsupported|sqlite or postgres"):
        case.module.generate(f"mysql://{tmp_path}/x", as_of=AS_OF)


@pytest.mark.parametrize(
    ("name", "corruption", "rule"),
    [(c.name, sql, rule) for c in CASES for sql, rule in c.corruptions],
)
def test_the_invariant_check_catches_broken_data(tmp_path_factory, tmp_path, name, corruption, rule):
    """Guards the guard: each rule fails on data broken in exactly its way."""
    case = next(c for c in CASES if c.name == name)
    path = copy_of(generate_shared(case, tmp_path_factory)[0], tmp_path, "broken.sqlite")
    with sqlite3.connect(path) as con:
        assert con.execute(corruption).rowcount >= 1
    with pytest.raises(AssertionError, match=rule):
        case.check_invariants(path, AS_OF)


# ------------------------------------------------------------------------------------------
# advance


def test_advance_is_deterministic_repeatable_and_keeps_the_invariants(case, generated, tmp_path):
    a, b, c = (copy_of(generated[0], tmp_path, f"{n}.sqlite") for n in "abc")
    first, second = AS_OF + dt.timedelta(hours=6), AS_OF + case.advance_by + dt.timedelta(days=1)
    for path in (a, b):
        case.module.advance(sqlite_url(path), seed=7, as_of=first, new_fraction=0.5, update_fraction=0.05)
    assert checksums(a, case.source) == checksums(b, case.source)
    case.check_invariants(a, first)
    result = case.module.advance(sqlite_url(a), seed=7, as_of=second)
    assert sum(v for k, v in result.items() if k.startswith("new_")) > 0
    case.check_invariants(a, second)
    with sqlite3.connect(a) as con:
        assert user_tables(con) == set(case.source.names)  # the staging tables are gone
    # another seed, other changes
    case.module.advance(sqlite_url(c), seed=8, as_of=first, new_fraction=0.5, update_fraction=0.05)
    assert checksums(c, case.source) != checksums(b, case.source)


def test_advance_rejects_an_as_of_that_is_not_after_the_data(case, generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "past.sqlite")
    before = checksums(path, case.source)
    with sqlite3.connect(path) as con:
        latest = dt.datetime.fromisoformat(newest(con, case.source))
    for as_of in (AS_OF - dt.timedelta(days=1), latest):
        with pytest.raises(ValueError, match="not after the newest timestamp"):
            case.module.advance(sqlite_url(path), as_of=as_of)
    assert checksums(path, case.source) == before
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(case.source.names)


def test_advance_rejects_bad_fractions_and_a_missing_source(case, generated, tmp_path):
    path = copy_of(generated[0], tmp_path, "f.sqlite")
    later = AS_OF + dt.timedelta(days=1)
    with pytest.raises(ValueError, match="new_fraction"):
        case.module.advance(sqlite_url(path), as_of=later, new_fraction=-0.1)
    with pytest.raises(ValueError, match="update_fraction"):
        case.module.advance(sqlite_url(path), as_of=later, update_fraction=1.5)
    with pytest.raises(Exception, match="generate"):
        case.module.advance(sqlite_url(tmp_path / "empty.sqlite"), as_of=later)


def test_a_failed_advance_leaves_the_source_as_it_was(case, generated, tmp_path, monkeypatch):
    path = copy_of(generated[0], tmp_path, "fail.sqlite")
    before = checksums(path, case.source)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(case.module.GENERATOR), "build_changes", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        case.module.advance(sqlite_url(path), seed=7, as_of=AS_OF + case.advance_by)
    assert checksums(path, case.source) == before
    with sqlite3.connect(path) as con:
        assert user_tables(con) == set(case.source.names)


# ------------------------------------------------------------------------------------------
# Postgres


@pytest.mark.postgres
def test_postgres_source_matches_sqlite_and_advances(case, pg_database, tmp_path):
    schema = f"hw_{case.name}"
    counts = case.module.generate(pg_database, scale=case.small_scale, seed=5, as_of=AS_OF, schema=schema)
    reference = tmp_path / "ref.sqlite"
    assert case.module.generate(sqlite_url(reference), scale=case.small_scale, seed=5, as_of=AS_OF) == counts

    with psycopg.connect(pg_database, autocommit=True) as con:
        for table in case.source:
            rows = con.execute(
                "SELECT column_name, data_type, character_maximum_length, numeric_precision, "
                "numeric_scale, is_nullable FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, table.name),
            ).fetchall()
            got = []
            for name, dtype, length, precision, scale, nullable in rows:
                declared = {"timestamp without time zone": "timestamp", "character varying": "varchar"}.get(
                    dtype, dtype
                )
                if declared == "varchar":
                    declared += f"({length})"
                elif declared == "numeric":
                    declared += f"({precision},{scale})"
                got.append((name, declared, nullable == "NO"))
            assert got == [(c.name, c.type, not c.nullable) for c in table.columns], table.name
            indexed = con.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (schema, table.name),
            ).fetchall()
            assert any(f'("{table.cursor}")' in d or f"({table.cursor})" in d for (d,) in indexed), table.name

        def same_as_reference() -> None:
            with sqlite3.connect(reference) as lite:
                for t in case.source.names:
                    assert table_rows(con, case.source, t, schema) == table_rows(lite, case.source, t), t

        same_as_reference()
        as_of = AS_OF + case.advance_by
        result = case.module.advance(pg_database, seed=5, as_of=as_of, schema=schema)
        assert result == case.module.advance(sqlite_url(reference), seed=5, as_of=as_of)
        assert sum(v for k, v in result.items() if k.startswith("new_")) > 0
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            )
        }
        assert tables == set(case.source.names)
        same_as_reference()
        latest = max(
            con.execute(f'SELECT max("{t.cursor}") FROM "{schema}"."{t.name}"').fetchone()[0]
            for t in case.source
        )
    with pytest.raises(ValueError, match="not after the newest timestamp"):
        case.module.advance(pg_database, seed=5, as_of=latest, schema=schema)

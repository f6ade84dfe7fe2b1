"""Reconciliation and delete detection on real databases.

A table with a composite key and awkward values (NULLs, empty and quoted text, unicode,
negative and fractional decimals, doubles with exponents, booleans, dates, microsecond
timestamps) lives in a SQLite or Postgres source and is loaded into a DuckDB or Postgres
warehouse; the canonical hashes must agree across every pair. Differences are then planted at
the source with its own driver, and reconcile must report exactly them: what is expected is
what the test planted, never what the engine said before.
"""

from __future__ import annotations

import io
import sqlite3
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from headwater import flow
from headwater.errors import SourceError
from headwater.reconcile import reconcile_pipeline, reconcile_table
from headwater.reconcile.deletes import detect_deletes
from headwater.settings import Settings
from headwater.spec import DeletesSpec, PipelineSpec, parse_spec
from headwater.warehouse import open_warehouse

ROWS = 30_000
COLUMNS = (
    "k1 bigint NOT NULL, k2 varchar(8) NOT NULL, amount numeric(12,2), ratio double precision, "
    "flag boolean, day date, at timestamp, note text, updated_at timestamp NOT NULL, PRIMARY KEY (k1, k2)"
)


def _value_rows(n: int) -> list[tuple]:
    """Deterministic awkward rows (built once per test: small Python, not a hot path)."""
    base = datetime(2026, 1, 1, 0, 0, 0)
    notes = (None, "", 'it\'s "quoted"', "ünïcødé ✓", "a,b;c\td", "  padded  ", "NULL", "x" * 300)
    out = []
    for i in range(n):
        out.append(
            (
                i // 3,
                ("a", "B", "c c")[i % 3],
                None if i % 17 == 0 else round((i % 2000 - 1000) * 1.37, 2),
                None if i % 19 == 0 else (i - n / 2) * 1.000001e-3 * (10 ** (i % 9 - 4)),
                None if i % 23 == 0 else i % 2 == 0,
                (base + timedelta(days=i % 400)).date(),
                None if i % 29 == 0 else base + timedelta(seconds=i * 7, microseconds=(i * 37) % 1_000_000),
                notes[i % len(notes)],
                base + timedelta(seconds=i),
            )
        )
    return out


class SourceDb:
    """The test's source, written and changed with its own driver (sqlite3 or psycopg)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgresql")

    def execute(self, sql: str, params: tuple | list = ()) -> None:
        if self.pg:
            import psycopg

            with psycopg.connect(self.url, autocommit=True, options="-c search_path=app") as con:
                con.execute(sql.replace("?", "%s"), params)
        else:
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as con:
                con.execute(sql, params)

    def create(self, rows: list[tuple]) -> None:
        if self.pg:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as con:
                con.execute("CREATE SCHEMA IF NOT EXISTS app")
                con.execute("DROP TABLE IF EXISTS app.things")
                con.execute(f"CREATE TABLE app.things ({COLUMNS})")
                with con.cursor().copy("COPY app.things FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
            return
        with sqlite3.connect(self.url.removeprefix("sqlite:///")) as con:
            con.execute("DROP TABLE IF EXISTS things")
            con.execute(f"CREATE TABLE things ({COLUMNS})")
            con.executemany(
                "INSERT INTO things VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        *r[:5],
                        r[5].isoformat(),
                        r[6].isoformat(sep=" ") if r[6] else None,
                        r[7],
                        r[8].isoformat(sep=" "),
                    )
                    for r in rows
                ],
            )


def _spec(source_url: str, deletes: DeletesSpec | None = None) -> PipelineSpec:
    source = {"kind": "sql", "url": source_url}
    if source_url.startswith("postgresql"):
        source["schema"] = "app"
    spec = parse_spec(
        {
            "name": "recon",
            "source": source,
            "tables": [{"name": "things", "primary_key": ["k1", "k2"], "cursor": "updated_at"}],
        }
    )
    return replace(spec, tables=tuple(replace(t, deletes=deletes) for t in spec.tables))


def _settings(tmp_path: Path, warehouse_url: str) -> Settings:
    return Settings(
        home=tmp_path, warehouse_url=warehouse_url, lake_url=str(tmp_path / "lake"), source_url=None,
        dags_folder=tmp_path,
    )  # fmt: skip


@pytest.fixture(params=["sqlite-duckdb", "sqlite-postgres", "postgres-duckdb", "postgres-postgres"])
def loaded(request, tmp_path):
    """(spec, settings, source) with the source loaded once into the warehouse."""
    source_kind, warehouse_kind = request.param.split("-")
    pg = request.getfixturevalue("pg_database") if "postgres" in request.param else None
    source_url = pg if source_kind == "postgres" else f"sqlite:///{tmp_path / 'src.sqlite'}"
    warehouse_url = pg if warehouse_kind == "postgres" else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    source = SourceDb(source_url)
    source.create(_value_rows(ROWS))
    spec = _spec(source_url)
    settings = _settings(tmp_path, warehouse_url)
    flow.run_el(spec, settings, "run_1")
    return spec, settings, source


def _raw_count(settings: Settings, where: str = "true") -> int:
    wh = open_warehouse(settings.warehouse_url)
    return wh.query(f"SELECT count(*) FROM wh.raw_recon.things WHERE {where}")[0][0]


def test_an_exact_copy_reconciles_to_zero_and_planted_differences_are_found_exactly(loaded, monkeypatch):
    spec, settings, source = loaded
    report = reconcile_table(spec, "things", settings)
    assert report.status == "equal", report.as_dict()
    c = report.comparison
    assert (c.source_rows, c.warehouse_rows, c.missing, c.extra, c.different) == (ROWS, ROWS, 0, 0, 0)
    assert c.levels == 1, "equal tables cost one aggregate per side"

    # plant: 4 rows deleted (extra in the warehouse), 3 inserted (missing), 5 changed
    source.execute("DELETE FROM things WHERE k1 IN (11, 12) AND k2 IN ('a', 'B')")
    for k1 in (900_001, 900_002, 900_003):
        source.execute(
            "INSERT INTO things (k1, k2, updated_at) VALUES (?, 'z', ?)", (k1, datetime(2026, 6, 1))
        )
    source.execute("UPDATE things SET amount = amount + 0.01 WHERE k1 = 100 AND k2 = 'a'")
    source.execute("UPDATE things SET note = 'now set' WHERE k1 = 101 AND k2 = 'B'")  # was NULL
    source.execute("UPDATE things SET ratio = ratio * 1.0000001 WHERE k1 = 102 AND k2 = 'c c'")
    source.execute("UPDATE things SET flag = NOT flag, day = day WHERE k1 = 104 AND k2 = 'c c'")
    source.execute("UPDATE things SET note = 'changed', amount = 0 WHERE k1 = 200 AND k2 = 'B'")

    report = reconcile_table(spec, "things", settings)
    c = report.comparison
    assert report.status == "different"
    assert (c.missing, c.extra, c.different) == (3, 4, 5), report.as_dict()
    assert c.examples["missing"] == ["900001, z", "900002, z", "900003, z"]
    assert c.examples["extra"] == ["11, B", "11, a", "12, B", "12, a"]
    changed = {e["key"]: sorted(e["columns"]) for e in c.examples["different"]}
    assert changed == {
        "100, a": ["amount"],
        "101, B": ["note"],
        "102, c c": ["ratio"],
        "104, c c": ["flag"],
        "200, B": ["amount", "note"],
    }
    assert _raw_count(settings) == ROWS, "reconcile only reads"

    # narrowing over several levels (forced by a small key-level threshold) finds the same
    monkeypatch.setattr(sys.modules["headwater.reconcile.compare"], "KEY_LEVEL_ROWS", 50)
    deeper = reconcile_table(spec, "things", settings).comparison
    assert deeper.levels > 1 and (deeper.missing, deeper.extra, deeper.different) == (3, 4, 5)
    assert deeper.examples == c.examples


def test_the_delete_check_marks_exactly_the_vanished_keys_and_unmarks_ones_that_return(loaded):
    spec, settings, source = loaded
    spec = replace(spec, tables=tuple(replace(t, deletes=DeletesSpec()) for t in spec.tables))
    source.execute("DELETE FROM things WHERE k1 BETWEEN 500 AND 509")  # 10 keys x 3 = 30 rows
    [report] = detect_deletes(spec, list(spec.tables), settings, "check_1")
    assert report.marked == 30 and report.unmarked == 0
    marked = open_warehouse(settings.warehouse_url).query(
        "SELECT DISTINCT k1 FROM wh.raw_recon.things WHERE _deleted_at IS NOT NULL ORDER BY 1"
    )
    assert [r[0] for r in marked] == list(range(500, 510))
    assert reconcile_table(spec, "things", settings).status == "equal", "marked rows count as gone"

    # a deleted key comes back at the source: un-marked (its new content is the next load's job)
    source.execute(
        "INSERT INTO things (k1, k2, updated_at) VALUES (505, 'a', ?)", (datetime(2026, 1, 1, 0, 25, 15),)
    )
    [again] = detect_deletes(spec, list(spec.tables), settings, "check_2")
    assert (again.marked, again.unmarked) == (0, 1)
    assert _raw_count(settings, "_deleted_at IS NOT NULL") == 29
    ledger = open_warehouse(settings.warehouse_url).query(
        "SELECT run_id, rows_marked_deleted, rows_unmarked FROM wh.headwater.reconciliations "
        "WHERE kind = 'deletes' ORDER BY checked_at"
    )
    assert ledger == [("check_1", 30, 0), ("check_2", 0, 1)]

    # the next load sees no schema change in the mark column, and keeps the marks
    source.execute("INSERT INTO things (k1, k2, updated_at) VALUES (999999, 'n', ?)", (datetime(2027, 1, 1),))
    flow.run_el(spec, settings, "run_2")
    changes = open_warehouse(settings.warehouse_url).query(
        "SELECT schema_changes FROM wh.headwater.load_ledger WHERE run_id = 'run_2'"
    )
    assert changes == [(None,)]
    assert _raw_count(settings, "_deleted_at IS NOT NULL") == 29


def test_an_empty_or_unreachable_source_marks_nothing(tmp_path, loaded):
    spec, settings, source = loaded
    spec = replace(spec, tables=tuple(replace(t, deletes=DeletesSpec()) for t in spec.tables))
    source.execute("DELETE FROM things")
    with pytest.raises(SourceError, match="answered with no rows.*nothing was marked deleted"):
        detect_deletes(spec, list(spec.tables), settings, "check_empty")
    assert _raw_count(settings, "true") == ROWS
    wh = open_warehouse(settings.warehouse_url)
    columns = wh.query(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw_recon' AND table_name = 'things'"
    )
    assert "_deleted_at" not in {r[0] for r in columns}, "the raw table was not touched"
    report = reconcile_table(spec, "things", settings)
    assert report.status == "empty_source" and "answered with no rows" in report.message

    allowed = replace(
        spec, tables=tuple(replace(t, deletes=DeletesSpec(allow_empty=True)) for t in spec.tables)
    )
    [report] = detect_deletes(allowed, list(allowed.tables), settings, "check_allowed")
    assert report.marked == ROWS

    gone = replace(spec, sources=(replace(spec.sources[0], url=_unreachable(spec.sources[0].url, tmp_path)),))
    report = reconcile_table(gone, "things", settings)
    assert report.status == "error" and "nothing was compared or changed" in report.message
    assert "Sup3rS3cret" not in report.message
    with pytest.raises(Exception, match="cannot open source|cannot be read"):
        detect_deletes(gone, list(gone.tables), settings, "check_gone")


def _unreachable(url: str, tmp_path: Path) -> str:
    if url.startswith("postgresql"):
        return "postgresql://loader:Sup3rS3cret@127.0.0.1:1/nowhere"
    return f"sqlite:///{tmp_path / 'no_such_dir' / 'gone.sqlite'}"


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_without_the_option_reconcile_reports_exactly_the_purged_keys_as_extra(tmp_path, request, backend):
    """travel_bookings incremental runs over a source that purges: the purged keys stay in raw
    and reconcile names exactly them (computed from the source before and after, sqlite3)."""
    from headwater.pipelines.travel_bookings import generator
    from headwater.spec import load_spec

    spec = load_spec("travel_bookings")
    spec = replace(spec, tables=tuple(replace(t, deletes=None) for t in spec.tables))
    path = tmp_path / "tb.sqlite"
    url = f"sqlite:///{path}"
    as_of = datetime(2026, 3, 1, 12)
    generator.generate(url, scale=0.05, seed=5, as_of=as_of)
    warehouse_url = (
        request.getfixturevalue("pg_database")
        if backend == "postgres"
        else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    )
    settings = Settings(
        home=tmp_path, warehouse_url=warehouse_url, lake_url=str(tmp_path / "lake"), source_url=url,
        dags_folder=tmp_path,
    )  # fmt: skip

    def keys() -> dict[str, set[str]]:
        with sqlite3.connect(path) as con:
            out = {}
            for t in spec.tables:
                cols = " || ', ' || ".join(f'CAST("{c}" AS TEXT)' for c in t.primary_key)
                out[t.name] = {r[0] for r in con.execute(f'SELECT {cols} FROM "{t.name}"')}
            return out

    flow.run_el(spec, settings, "run_1")
    before = keys()
    generator.advance(url, seed=5, as_of=as_of + timedelta(hours=1), new_fraction=0.02, update_fraction=0.05)
    after = keys()
    flow.run_el(spec, settings, "run_2")
    reports = {r.table: r for r in reconcile_pipeline(spec, settings)}
    assert sum(len(before[t] - after[t]) for t in before) > 0, "the advance purged rows"
    for t in spec.tables:
        purged = before[t.name] - after[t.name]
        c = reports[t.name].comparison
        assert (c.extra, c.missing, c.different) == (len(purged), 0, 0), t.name
        assert set(c.examples["extra"]) <= purged and len(c.examples["extra"]) == min(5, len(purged))


def test_a_full_mode_file_table_is_listed_and_reconciled(tmp_path, monkeypatch):
    """CSV files in full mode are the table: reconcile compares them, through the CLI too."""
    import json as json_

    from headwater import cli

    drop = tmp_path / "drop" / "orders"
    drop.mkdir(parents=True)
    lines = ["order_id,customer,amount,ordered_on"] + [
        f"{i},c{i},{i}.50,2026-01-{1 + i % 28:02d}" for i in range(1, 401)
    ]
    (drop / "orders.csv").write_text("\n".join(lines) + "\n")
    spec = parse_spec(
        {
            "name": "recon_files",
            "source": {"kind": "files", "url": "{home}/drop"},
            "tables": [
                {
                    "name": "orders",
                    "primary_key": "order_id",
                    "mode": "full",
                    "read": {
                        "path": "orders/*.csv",
                        "columns": {"order_id": "BIGINT", "customer": "VARCHAR", "amount": "DECIMAL(10,2)",
                                    "ordered_on": "DATE"},
                    },
                }
            ],
        }
    )  # fmt: skip
    settings = _settings(tmp_path, f"duckdb:///{tmp_path / 'wh.duckdb'}")
    flow.run_el(spec, settings, "run_1")
    assert reconcile_table(spec, "orders", settings).status == "equal"

    # the delivery changes: line of order 7 gone, order 9 repriced, order 1000 new
    lines = [ln for ln in lines if not ln.startswith("7,")]
    lines = [ln.replace("9,c9,9.50", "9,c9,9.75") if ln.startswith("9,") else ln for ln in lines]
    (drop / "orders.csv").write_text("\n".join([*lines, "1000,c1000,1.00,2026-02-01"]) + "\n")
    report = reconcile_table(spec, "orders", settings)
    c = report.comparison
    assert (c.missing, c.extra, c.different) == (1, 1, 1)
    assert c.examples == {
        "missing": ["1000"],
        "extra": ["7"],
        "different": [{"key": "9", "columns": ["amount"], "source": {"amount": "9.75"},
                       "warehouse": {"amount": "9.50"}}],
    }  # fmt: skip

    monkeypatch.setattr("headwater.cli.load_spec", lambda name: spec)
    monkeypatch.setattr("headwater.settings.Settings.from_env", classmethod(lambda cls: settings))
    out = io.StringIO()
    monkeypatch.setattr(cli, "console", cli.Console(file=out, width=200))
    assert cli.main(["reconcile", "recon_files", "--json"]) == 1
    [printed] = json_.loads(out.getvalue())
    assert (printed["table"], printed["missing"], printed["extra"], printed["different"]) == (
        "orders",
        1,
        1,
        1,
    )


def _stored(settings: Settings) -> dict[str, int]:
    """Rows of headwater.reconcile_state per pipeline."""
    rows = open_warehouse(settings.warehouse_url).query(
        "SELECT pipeline, count(*) FROM wh.headwater.reconcile_state GROUP BY 1"
    )
    return {r[0]: int(r[1]) for r in rows}


def _plant_in_raw(settings: Settings, statement: str) -> None:
    """Change the warehouse's raw copy directly (a fault behind the loader's back)."""
    wh = open_warehouse(settings.warehouse_url)
    with wh.session() as con:
        con.execute(statement)


def test_stored_fingerprints_vouch_only_for_what_they_saw(loaded):
    """A Postgres source stores per-bucket fast fingerprints: the next reconcile of an unchanged
    table hashes nothing canonically, and a difference planted after that verification on
    either side is still found, exactly. SQLite sources keep the canonical path alone."""
    spec, settings, source = loaded
    first = reconcile_table(spec, "things", settings).comparison
    assert first.equal and first.levels == 1 and first.reused_buckets == 0
    if not source.pg:
        assert _stored(settings) == {}, "no cheap hash at a SQLite source: nothing stored"
        again = reconcile_table(spec, "things", settings).comparison
        assert again.equal and again.levels == 1 and again.reused_buckets == 0
        return
    buckets = _stored(settings)["recon"]
    assert buckets == first.buckets_compared > 1000

    second = reconcile_table(spec, "things", settings).comparison
    assert second.equal and (second.source_rows, second.warehouse_rows) == (ROWS, ROWS)
    assert (second.levels, second.buckets_compared, second.reused_buckets) == (0, 0, buckets)

    # at the source, after the verification: one value changed
    source.execute("UPDATE things SET note = 'after the check' WHERE k1 = 100 AND k2 = 'a'")
    third = reconcile_table(spec, "things", settings).comparison
    assert (third.missing, third.extra, third.different) == (0, 0, 1)
    assert [e["key"] for e in third.examples["different"]] == ["100, a"]
    assert third.reused_buckets == buckets - 1, "only the changed bucket was hashed again"

    # in the warehouse, behind the loader's back: found as well (and the source's still)
    _plant_in_raw(settings, "UPDATE wh.raw_recon.things SET amount = 1234.5 WHERE k1 = 200 AND k2 = 'B'")
    _plant_in_raw(settings, "DELETE FROM wh.raw_recon.things WHERE k1 = 300 AND k2 = 'c c'")
    fourth = reconcile_table(spec, "things", settings).comparison
    assert (fourth.missing, fourth.extra, fourth.different) == (1, 0, 2), fourth
    assert fourth.examples["missing"] == ["300, c c"]
    assert {e["key"]: e["columns"] for e in fourth.examples["different"]} == {
        "100, a": ["note"],
        "200, B": ["amount"],
    }

    # a fresh load repairs the rows: re-verified, then vouched for again
    flow.run_el(
        replace(spec, tables=tuple(replace(t, mode="full") for t in spec.tables)), settings, "run_full"
    )
    assert reconcile_table(spec, "things", settings).status == "equal"
    last = reconcile_table(spec, "things", settings).comparison
    assert last.equal and last.levels == 0 and last.reused_buckets > 1000


def test_stored_fingerprints_count_only_for_their_own_spec_table_and_pipeline(request):
    """A Postgres source and warehouse: a column added without rewriting a row leaves every
    row version as it was on both sides, so only the spec fingerprint (columns, types) keeps
    the old state from vouching for the new column. Another pipeline's state never mixes in."""
    pg = request.getfixturevalue("pg_database")
    tmp_path = request.getfixturevalue("tmp_path")
    source = SourceDb(pg)
    source.create(_value_rows(3_000))
    spec = _spec(pg)
    settings = _settings(tmp_path, pg)
    flow.run_el(spec, settings, "run_1")
    assert reconcile_table(spec, "things", settings).status == "equal"
    assert reconcile_table(spec, "things", settings).comparison.levels == 0

    # a second pipeline over the same source table: its own raw copy and its own state
    other = replace(spec, name="recon_b")
    flow.run_el(other, settings, "run_b")
    source.execute("UPDATE things SET note = 'changed' WHERE k1 = 7 AND k2 = 'a'")
    b = reconcile_table(other, "things", settings).comparison
    assert b.reused_buckets == 0 and b.levels >= 1 and b.different == 1
    a = reconcile_table(spec, "things", settings).comparison
    assert a.different == 1 and a.reused_buckets > 0
    stored = _stored(settings)
    assert set(stored) == {"recon", "recon_b"}

    # a new source column with a constant default: Postgres rewrites no row, so neither
    # side's row versions move; loading it adds the column to raw, NULL for the old rows
    source.execute("UPDATE things SET note = NULL WHERE k1 = 7 AND k2 = 'a'")
    source.execute("ALTER TABLE things ADD COLUMN tier integer DEFAULT 3")
    source.execute("INSERT INTO things (k1, k2, updated_at) VALUES (77777, 'n', ?)", (datetime(2027, 1, 1),))
    flow.run_el(spec, settings, "run_2")
    report = reconcile_table(spec, "things", settings)
    c = report.comparison
    assert c.reused_buckets == 0, "state stored for another column set is not used"
    # every old row differs (tier 3 at the source, NULL in raw) but those the cursor's
    # inclusive window reloaded (the last one)
    assert 2_990 <= c.different < 3_000, report.as_dict()
    assert "tier" in c.examples["different"][0]["columns"]


def test_duckdb_spells_postgres_key_hash_exactly(pg_server):
    """The delete check's ungrouped first level sums Postgres' hashint8extended(k, 0) on one
    side and DuckDB's spelling of it on the other: they must agree on every BIGINT, the
    extremes and negative keys included (a mismatch would only cost a bucketed pass, but the
    totals would never be equal)."""
    import random

    import duckdb
    import psycopg
    import pyarrow as pa

    from headwater.reconcile.sides import key_hash_duckdb

    rng = random.Random(18)
    values = [0, 1, -1, 2, 2**31 - 1, 2**31, -(2**31), 2**32 - 1, 2**32, -(2**32), 2**63 - 1, -(2**63)]
    values += list(range(-500, 500)) + [rng.randint(-(2**63), 2**63 - 1) for _ in range(5_000)]
    values += [rng.randint(0, 10**9) for _ in range(2_000)]
    with psycopg.connect(pg_server) as con:
        expected = dict(
            con.execute(
                "SELECT v, hashint8extended(v, 0) FROM unnest(%s::bigint[]) AS v", [values]
            ).fetchall()
        )
    local = duckdb.connect()
    local.register("keys", pa.table({"v": pa.array(values, pa.int64())}))
    got = dict(local.execute(key_hash_duckdb("SELECT v AS k FROM keys")).fetchall())
    assert {v: got[v] for v in values} == {v: expected[v] for v in values}


@pytest.mark.parametrize("pair", ["postgres-duckdb", "postgres-postgres", "sqlite-duckdb"])
def test_the_delete_check_of_an_integer_key_compares_totals_first_and_still_marks_exactly(
    pair, request, tmp_path
):
    """An integer key set is first compared whole (size, sum, sum of 64-bit key hashes: one
    ungrouped scan per side); only when those differ do the buckets narrow down to the keys."""
    source_kind, warehouse_kind = pair.split("-")
    pg = request.getfixturevalue("pg_database") if "postgres" in pair else None
    url = pg if source_kind == "postgres" else f"sqlite:///{tmp_path / 'items.sqlite'}"
    db = SourceDb(url)
    rows = [(i * 7 - 3_000, f"v{i}", datetime(2026, 1, 1) + timedelta(seconds=i)) for i in range(5_000)]
    if db.pg:
        import psycopg

        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CREATE SCHEMA app")
            con.execute("CREATE TABLE app.items (id bigint PRIMARY KEY, v text, updated_at timestamp)")
            with con.cursor().copy("COPY app.items FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
    else:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
            con.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT, updated_at TIMESTAMP)")
            con.executemany(
                "INSERT INTO items VALUES (?, ?, ?)", [(a, b, c.isoformat(sep=" ")) for a, b, c in rows]
            )
    source = {"kind": "sql", "url": url, **({"schema": "app"} if db.pg else {})}
    spec = parse_spec(
        {"name": "recon_int", "source": source,
         "tables": [{"name": "items", "primary_key": "id", "cursor": "updated_at", "deletes": "detect"}]}
    )  # fmt: skip
    warehouse_url = pg if warehouse_kind == "postgres" else f"duckdb:///{tmp_path / 'wh.duckdb'}"
    settings = _settings(tmp_path, warehouse_url)
    flow.run_el(spec, settings, "run_1")
    [same] = detect_deletes(spec, list(spec.tables), settings, "check_0")
    assert (same.marked, same.unmarked, same.comparison.levels, same.comparison.buckets_compared) == (
        0,
        0,
        1,
        0,
    )
    assert same.comparison.source_rows == same.comparison.warehouse_rows == 5_000

    gone = [-3_000, -4, 10, 31_993]  # keys are 3 mod 7: the smallest, a negative, a positive, the largest
    db.execute(f"DELETE FROM items WHERE id IN ({', '.join(map(str, gone))})")
    [report] = detect_deletes(spec, list(spec.tables), settings, "check_1")
    assert (report.marked, report.unmarked) == (4, 0) and report.comparison.levels >= 2
    marked = open_warehouse(settings.warehouse_url).query(
        "SELECT id FROM wh.raw_recon_int.items WHERE _deleted_at IS NOT NULL ORDER BY 1"
    )
    assert [r[0] for r in marked] == sorted(gone)
    [again] = detect_deletes(spec, list(spec.tables), settings, "check_2")
    assert (again.marked, again.unmarked, again.comparison.buckets_compared) == (0, 0, 0), "totals equal"

    # two keys deleted while two new ones arrive, balancing count and sum (24 + 31 = 27 + 28):
    # only the key hashes tell the sets apart
    db.execute("DELETE FROM items WHERE id IN (24, 31)")
    db.execute(
        "INSERT INTO items (id, v, updated_at) VALUES (27, 'n', '2026-01-01 00:00:00'), "
        "(28, 'n', '2026-01-01 00:00:00')"
    )
    [balanced] = detect_deletes(spec, list(spec.tables), settings, "check_3")
    assert (balanced.marked, balanced.unmarked) == (2, 0), balanced.as_dict()
    assert (balanced.comparison.missing, balanced.comparison.extra) == (2, 2)


def test_a_view_at_the_source_keeps_the_canonical_path(request, tmp_path):
    """A view's rows carry no row-version identity (nor do a foreign table's): nothing is
    stored, every reconcile hashes canonically, and a change is found as before."""
    pg = request.getfixturevalue("pg_database")
    source = SourceDb(pg)
    source.create(_value_rows(600))
    source.execute("CREATE VIEW things_view AS SELECT * FROM things")
    spec = parse_spec(
        {"name": "recon_view", "source": {"kind": "sql", "url": pg, "schema": "app"},
         "tables": [{"name": "things_view", "primary_key": ["k1", "k2"], "cursor": "updated_at"}]}
    )  # fmt: skip
    settings = _settings(tmp_path, f"duckdb:///{tmp_path / 'wh.duckdb'}")
    flow.run_el(spec, settings, "run_1")
    for _ in range(2):
        c = reconcile_table(spec, "things_view", settings).comparison
        assert c.equal and c.levels == 1 and c.reused_buckets == 0
    assert _stored(settings) == {}
    source.execute("UPDATE things SET note = 'changed' WHERE k1 = 5 AND k2 = 'a'")
    c = reconcile_table(spec, "things_view", settings).comparison
    assert c.different == 1 and [e["key"] for e in c.examples["different"]] == ["5, a"]


def test_a_column_dropped_and_added_again_at_the_source_voids_the_state(request, tmp_path):
    """Dropping a column and adding it again (same name, type and place) sets every value to
    NULL without a new row version: the catalog's column numbers are part of the state's key,
    so the next reconcile hashes canonically and finds the rows."""
    pg = request.getfixturevalue("pg_database")
    source = SourceDb(pg)
    source.create(_value_rows(600))
    spec = _spec(pg)
    settings = _settings(tmp_path, f"duckdb:///{tmp_path / 'wh.duckdb'}")
    flow.run_el(spec, settings, "run_1")
    assert reconcile_table(spec, "things", settings).status == "equal"
    assert reconcile_table(spec, "things", settings).comparison.levels == 0, "vouched for"
    # the last column, so the compared columns keep their order, names and types
    source.execute("ALTER TABLE things DROP COLUMN updated_at")
    source.execute("ALTER TABLE things ADD COLUMN updated_at timestamp")
    c = reconcile_table(spec, "things", settings).comparison
    assert c.reused_buckets == 0 and c.different == 600, c

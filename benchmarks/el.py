"""Family "el": Headwater's extract/load against the COPY limit and against bare SQL upserts.

The runner (``benchmarks/run.py``) calls ``prepare_source`` and ``Bench.run``. Every
measurement runs in a fresh child process (this file re-invoked with ``--child``): the child
times only the measured work (after its imports), and the parent reads the child's peak RSS
from ``os.wait4`` (see ``harness.py``). See benchmarks/README.md for what each line means.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from harness import ChildRun, Measurement, Results, log, run_child, target

DEFAULT_SOURCE_URL = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "hw_bench"
WH_DB = "hw_bench_wh"
# Clones of the warehouse (CREATE DATABASE ... TEMPLATE) so compared runs start alike.
ALL_DBS = (WH_DB, f"{WH_DB}_inc", f"{WH_DB}_hw", f"{WH_DB}_bare", f"{WH_DB}_loadlimit")
PIPELINE = "el_bench"
RAW_SCHEMA = f"raw_{PIPELINE}"
GENERATOR_VERSION = 2
FULL_ROWS = 5_000_000

# Targets (reported, never asserted). Extract and incremental: issue 17's (1.6x and 5% before).
TARGET_EXTRACT_X_LIMIT = 1.1
TARGET_INCREMENTAL_SHARE = 0.03
TARGET_INCREMENTAL_X_BARE = 1.5  # what the exactly-once bookkeeping may add to the floor
TARGET_UPSERT_X_BARE = 1.5
TARGET_EXTRACT_RSS_MB = 600
TARGET_SKIP_SECONDS = 5.0
TARGET_LOAD_X_LIMIT = 1.3

# Rows touched by the incremental stages: disjoint, spread evenly over the whole table.
ONE_PCT_WHERE = "booking_id % 100 = 7"
FIVE_PCT_WHERE = "booking_id % 20 = 3"

AIRPORTS = ("LHR CDG AMS FRA MAD FCO JFK SFO NRT SIN DXB IST BCN LIS OSL HEL VIE ZRH PRG WAW").split()


# ------------------------------------------------------------------------------------------
# Source table
# ------------------------------------------------------------------------------------------


def create_table_sql(table: str) -> str:
    return f"""
CREATE TABLE {SCHEMA}.{table} (
    booking_id  bigint        NOT NULL,
    created_at  timestamp     NOT NULL,
    updated_at  timestamp     NOT NULL,
    customer_id bigint        NOT NULL,
    agency_id   integer       NOT NULL,
    status      varchar(16)   NOT NULL,
    channel     varchar(16)   NOT NULL,
    origin      varchar(3)    NOT NULL,
    destination varchar(3)    NOT NULL,
    fare_class  varchar(16)   NOT NULL,
    passengers  smallint      NOT NULL,
    amount      numeric(12,2) NOT NULL,
    currency    varchar(3)    NOT NULL,
    promo_code  varchar(12)
)"""


def fill_table_sql(table: str, rows: int) -> str:
    """Set-based and deterministic; hashes of the id (hashint8extended) stand in for randomness.

    Real hashes rather than arithmetic sequences keep the columns about as compressible as
    real data, which matters for the Parquet side of the extract.
    """
    airports = "ARRAY[" + ",".join(f"'{a}'" for a in AIRPORTS) + "]"
    return f"""
INSERT INTO {SCHEMA}.{table}
SELECT g,
       c.created,
       c.created + (h.h3 % 43200) * interval '1 minute',
       1 + h.h1 % 2000003,
       1 + h.h2 % 500,
       (ARRAY['confirmed','confirmed','confirmed','pending','cancelled','refunded'])[1 + (h.h1 >> 40) % 6],
       (ARRAY['web','mobile','agent','partner_api'])[1 + (h.h1 >> 50) % 4],
       ({airports})[1 + (h.h2 >> 20) % 20],
       ({airports})[1 + (h.h2 >> 30) % 20],
       (ARRAY['economy','economy','premium','business','first'])[1 + (h.h2 >> 40) % 5],
       (1 + (h.h2 >> 50) % 6)::smallint,
       round((29 + ((h.h3 >> 20) % 400000) / 100.0)::numeric, 2),
       (ARRAY['EUR','USD','GBP'])[1 + (h.h3 >> 45) % 3],
       CASE WHEN (h.h3 >> 50) % 10 < 3 THEN 'PROMO' || ((h.h3 >> 8) % 9973) END
FROM generate_series(1::bigint, {int(rows)}::bigint) AS g
CROSS JOIN LATERAL (
    SELECT hashint8extended(g, 1) & 9223372036854775807 AS h1,
           hashint8extended(g, 2) & 9223372036854775807 AS h2,
           hashint8extended(g, 3) & 9223372036854775807 AS h3
) AS h
CROSS JOIN LATERAL (
    SELECT timestamp '2020-01-01' + (g * 25 + (h.h1 >> 24) % 25) * interval '1 second' AS created
) AS c
"""


def table_marker(rows: int) -> str:
    return f"headwater el_bench source v{GENERATOR_VERSION} rows={rows}"


def pg_connect(url: str, autocommit: bool = True):
    import psycopg

    return psycopg.connect(url, autocommit=autocommit)


def to_url(url: str, dbname: str) -> str:
    """Same server and user as ``url``, another database, as a postgresql:// URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def ensure_source(url: str, table: str, rows: int, log) -> dict[str, Any]:
    """Create ``hw_bench.<table>`` with ``rows`` rows unless it already exists with that count."""
    with pg_connect(url) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        marker = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", [f"{SCHEMA}.{table}"]
        ).fetchone()[0]
        generated = None
        if marker != table_marker(rows):
            log(f"generating {SCHEMA}.{table} with {rows:,} rows (was: {marker or 'absent'}) ...")
            t0 = time.perf_counter()
            conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{table}")
            conn.execute(create_table_sql(table))
            conn.execute(fill_table_sql(table, rows))
            conn.execute(f"ALTER TABLE {SCHEMA}.{table} ADD PRIMARY KEY (booking_id)")
            conn.execute(f"CREATE INDEX ON {SCHEMA}.{table} (updated_at)")
            conn.execute(f"COMMENT ON TABLE {SCHEMA}.{table} IS '{table_marker(rows)}'")
            generated = time.perf_counter() - t0
            log(f"  generated in {generated:.1f} s")
        else:
            log(f"reusing {SCHEMA}.{table} ({rows:,} rows)")
        conn.execute(f"VACUUM (ANALYZE) {SCHEMA}.{table}")
        conn.execute("CHECKPOINT")
        heap, total = conn.execute(
            "SELECT pg_relation_size(%s::regclass), pg_total_relation_size(%s::regclass)",
            [f"{SCHEMA}.{table}"] * 2,
        ).fetchone()
        count = conn.execute(f"SELECT count(*) FROM {SCHEMA}.{table}").fetchone()[0]
    return {
        "table": f"{SCHEMA}.{table}",
        "rows": count,
        "heap_bytes": heap,
        "total_bytes": total,
        "generated_seconds": generated,
    }


def touch_rows(url: str, table: str, where: str) -> int:
    """Change a value and move the cursor of the rows matching ``where`` (not timed).

    clock_timestamp() gives every row its own cursor value, as row-by-row application updates
    would; the VACUUM and CHECKPOINT keep autovacuum and checkpoints out of the measurements.
    """
    with pg_connect(url) as conn:
        cur = conn.execute(
            f"UPDATE {SCHEMA}.{table} SET amount = amount + 1, "
            f"updated_at = clock_timestamp()::timestamp WHERE {where}"
        )
        n = cur.rowcount
        conn.execute(f"VACUUM (ANALYZE) {SCHEMA}.{table}")
        conn.execute("CHECKPOINT")
    return n


def checkpoint(url: str) -> None:
    with pg_connect(url) as conn:
        conn.execute("CHECKPOINT")


def recreate_database(url: str, name: str, template: str | None = None) -> None:
    with pg_connect(url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if template:
            # FILE_COPY (Postgres 15+) copies the files: ~1 s for 1 GB instead of WAL-logging it
            major = conn.info.server_version // 10000
            strategy = " STRATEGY FILE_COPY" if major >= 15 else ""
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}{strategy}")
        else:
            conn.execute(f"CREATE DATABASE {name}")


def drop_database(url: str, name: str) -> None:
    with pg_connect(url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def vacuum_raw(wh_url: str, table: str) -> None:
    with pg_connect(wh_url) as conn:
        conn.execute(f"VACUUM (ANALYZE) {RAW_SCHEMA}.{table}")
        conn.execute("CHECKPOINT")


# ------------------------------------------------------------------------------------------
# Child side: one measurement per process
# ------------------------------------------------------------------------------------------


def spec_dict(source_url: str, table: str) -> dict[str, Any]:
    return {
        "name": PIPELINE,
        "description": "extract/load benchmark",
        "source": {"kind": "sql", "url": source_url, "schema": SCHEMA},
        "tables": [{"name": table, "primary_key": ["booking_id"], "cursor": "updated_at"}],
    }


def _headwater(args: dict[str, Any]):
    from headwater.settings import Settings
    from headwater.spec import parse_spec

    work = Path(args["work"])
    settings = Settings(
        home=work,
        warehouse_url=args.get("warehouse_url") or f"duckdb:///{work / 'unused.duckdb'}",
        lake_url=args["lake"],
        source_url=None,
        dags_folder=work,
    )
    return parse_spec(spec_dict(args["source_url"], args["table"]), folder=work), settings


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def child_limit(args: dict[str, Any]) -> dict[str, Any]:
    import psycopg

    n = 0
    t0 = time.perf_counter()
    with psycopg.connect(args["source_url"]) as conn, conn.cursor() as cur, open(os.devnull, "wb") as sink:
        query = f"COPY (SELECT * FROM {SCHEMA}.{args['table']}) TO STDOUT (FORMAT binary)"
        with cur.copy(query) as copy:
            for block in copy:
                sink.write(block)
                n += len(block)
        rows = cur.rowcount
    return {"seconds": time.perf_counter() - t0, "bytes": n, "rows": rows}


def child_baseline(args: dict[str, Any]) -> dict[str, Any]:
    """Imports plus a DuckDB connection with the postgres extension attached: the RSS floor."""
    from headwater import duck
    from headwater.sources import SqlSource

    t0 = time.perf_counter()
    con = duck.connect()
    SqlSource(args["source_url"], SCHEMA).attach(con)
    con.close()
    return {"seconds": time.perf_counter() - t0}


def child_extract(args: dict[str, Any]) -> dict[str, Any]:
    from headwater import flow
    from headwater.extract import TablePlan

    spec, settings = _headwater(args)
    table_plan = asdict(TablePlan(args["table"], "full"))
    t0 = time.perf_counter()
    batch = flow.extract(spec, table_plan, args["run_id"], settings)
    seconds = time.perf_counter() - t0
    assert batch is not None
    folder = Path(args["lake"]) / PIPELINE / args["table"] / f"batch={batch['batch_id']}"
    return {"seconds": seconds, "rows": batch["rows"], "parquet_bytes": dir_bytes(folder), "batch": batch}


def child_el(args: dict[str, Any]) -> dict[str, Any]:
    """plan + extract (+ load unless args['load'] is false), each phase timed."""
    from headwater import flow

    spec, settings = _headwater(args)
    t0 = time.perf_counter()
    plans = flow.plan(spec, settings)
    t_plan = time.perf_counter()
    assert len(plans) == 1
    table_plan = plans[0]
    batch = flow.extract(spec, table_plan, args["run_id"], settings)
    t_extract = time.perf_counter()
    result = None
    if batch is not None and args.get("load", True):
        result = flow.load(spec, batch, settings)
    t_load = time.perf_counter()
    return {
        "seconds": t_load - t0,
        "plan_seconds": t_plan - t0,
        "extract_seconds": t_extract - t_plan,
        "load_seconds": t_load - t_extract,
        "mode": table_plan["mode"],
        "rows": batch["rows"] if batch else 0,
        "batch": batch,
        "changed": result["rows_changed"] if result else 0,
        "skipped": batch is None,
    }


def child_load(args: dict[str, Any]) -> dict[str, Any]:
    from headwater import flow

    spec, settings = _headwater(args)
    t0 = time.perf_counter()
    result = flow.load(spec, args["batch"], settings)
    return {
        "seconds": time.perf_counter() - t0,
        "rows": result["rows_in_batch"],
        "changed": result["rows_changed"],
    }


def _batch_files(args: dict[str, Any]) -> list[str]:
    folder = Path(args["lake"]) / PIPELINE / args["table"] / f"batch={args['batch']['batch_id']}"
    return sorted(str(p) for p in folder.glob("*.parquet"))


SYSTEM = ("_loaded_at", "_run_id")


def _merge_bare_duckdb(con, table: str, rows: str) -> int:
    """One plain MERGE of ``rows`` (a query with the source's columns) into the raw table."""
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    data = [c for c in cols if c not in SYSTEM]
    source = f"(SELECT {', '.join(data)}, now()::TIMESTAMP AS _loaded_at, 'bare' AS _run_id FROM ({rows}))"
    sets = ", ".join(f"{c} = s.{c}" for c in cols if c != "booking_id")
    n = con.execute(  # type: ignore[index]
        f"MERGE INTO {table} AS t USING {source} AS s ON (t.booking_id = s.booking_id) "
        f"WHEN MATCHED THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(cols)}) VALUES ({', '.join('s.' + c for c in cols)})"
    ).fetchone()[0]
    return int(n)


def _raw_columns_postgres(conn, table_name: str) -> tuple[list[str], list[str]]:
    """(every column, the source's columns) of the raw table, in table order."""
    cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s ORDER BY ordinal_position",
            [RAW_SCHEMA, table_name],
        ).fetchall()
    ]
    return cols, [c for c in cols if c not in SYSTEM]


def _upsert_stage_postgres(conn, table: str, cols: list[str], data: list[str]) -> int:
    """INSERT ... ON CONFLICT DO UPDATE of the temp table ``bare_stage`` into the raw table."""
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != "booking_id")
    return conn.execute(
        f"INSERT INTO {table} AS t ({', '.join(cols)}) "
        f"SELECT {', '.join(data)}, now()::timestamp, 'bare' FROM bare_stage "
        f"ON CONFLICT (booking_id) DO UPDATE SET {sets}"
    ).rowcount


def child_bare_duckdb(args: dict[str, Any]) -> dict[str, Any]:
    """The same batch with one plain MERGE from read_parquet (no dedupe, ledger, watermark)."""
    import duckdb

    files = _batch_files(args)
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    table = f'{RAW_SCHEMA}."{args["table"]}"'
    t0 = time.perf_counter()
    con = duckdb.connect(args["path"])
    n = _merge_bare_duckdb(con, table, f"SELECT * FROM read_parquet([{listed}])")
    con.close()
    return {"seconds": time.perf_counter() - t0, "rows": n, "changed": n}


def child_bare_postgres(args: dict[str, Any]) -> dict[str, Any]:
    """COPY of the batch into a temp table, then INSERT ... ON CONFLICT DO UPDATE, one transaction.

    The Parquet batches are turned into CSV by pyarrow (columnar, no Python row loop) and
    streamed into COPY.
    """
    import io

    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    files = _batch_files(args)
    table = f'{RAW_SCHEMA}."{args["table"]}"'
    t0 = time.perf_counter()
    with psycopg.connect(args["warehouse_url"]) as conn:  # one transaction, committed on exit
        cols, data = _raw_columns_postgres(conn, args["table"])
        conn.execute(f"CREATE TEMP TABLE bare_stage (LIKE {table}) ON COMMIT DROP")
        with conn.cursor().copy(f"COPY bare_stage ({', '.join(data)}) FROM STDIN (FORMAT csv)") as copy:
            options = pacsv.WriteOptions(include_header=False)
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=65536, columns=data):
                    buf = io.BytesIO()
                    pacsv.write_csv(pa.Table.from_batches([batch]), buf, options)
                    copy.write(buf.getbuffer())
        n = _upsert_stage_postgres(conn, table, cols, data)
    return {"seconds": time.perf_counter() - t0, "rows": n, "changed": n}


def child_bare_incremental(args: dict[str, Any]) -> dict[str, Any]:
    """The floor of an incremental run: the rows at or past the watermark, straight from the
    source into the warehouse's raw table in one transaction (DuckDB: one MERGE reading the
    source through the postgres extension; Postgres: binary COPY source -> temp table, then
    INSERT ... ON CONFLICT). No lake, plan, dedupe, ledger or watermark."""
    import duckdb
    import psycopg

    from headwater import duck
    from headwater.warehouse import open_warehouse

    wh_url = args["warehouse_url"]
    state = open_warehouse(wh_url).watermarks(PIPELINE)[args["table"]]  # not timed
    source_table = f'{SCHEMA}."{args["table"]}"'
    changed = f"SELECT * FROM {source_table} WHERE updated_at >= '{state.watermark}'::timestamp"
    table = f'{RAW_SCHEMA}."{args["table"]}"'
    t0 = time.perf_counter()
    if args["wh"] == "duckdb":
        con = duckdb.connect(wh_url.removeprefix("duckdb:///"))
        duck.attach(con, args["source_url"], "src", read_only=True)
        n = _merge_bare_duckdb(con, table, f"SELECT * FROM postgres_query('src', {duck.literal(changed)})")
        con.close()
    else:
        with psycopg.connect(args["source_url"]) as src, psycopg.connect(wh_url) as conn:
            cols, data = _raw_columns_postgres(conn, args["table"])
            conn.execute(f"CREATE TEMP TABLE bare_stage (LIKE {table}) ON COMMIT DROP")
            with (
                src.cursor().copy(f"COPY ({changed}) TO STDOUT (FORMAT binary)") as out,
                conn.cursor().copy(f"COPY bare_stage ({', '.join(data)}) FROM STDIN (FORMAT binary)") as into,
            ):
                for chunk in out:
                    into.write(chunk)
            n = _upsert_stage_postgres(conn, table, cols, data)
    return {"seconds": time.perf_counter() - t0, "rows": n, "changed": n}


def child_load_limit(args: dict[str, Any]) -> dict[str, Any]:
    """The warehouse's own load limit for a batch: one bare ``CREATE TABLE AS`` from its
    Parquet files into an empty warehouse (DuckDB natively; Postgres through DuckDB's postgres
    extension, which writes with binary COPY): no staging, dedupe, upsert, ledger or watermark."""
    from headwater import duck

    files = _batch_files(args)
    listed = duck.string_list(files)
    t0 = time.perf_counter()
    if args["wh"] == "duckdb":
        con = duck.connect(args["path"])
        target_table = "limit_load"
    else:
        con = duck.connect()
        duck.attach(con, args["warehouse_url"], "pg")
        target_table = "pg.public.limit_load"
    n = con.execute(f"CREATE TABLE {target_table} AS SELECT * FROM read_parquet({listed})").fetchone()
    t_table = time.perf_counter()
    if args["wh"] == "postgres":
        # the key an upsert needs (ON CONFLICT), built after the bulk copy as Headwater does:
        # the keyed limit is the same run's CTAS plus this
        key = "ALTER TABLE public.limit_load ADD PRIMARY KEY (booking_id)"
        con.execute(f"CALL postgres_execute('pg', {duck.literal(key)})")
    con.close()
    rows = int(n[0]) if n else 0
    done = time.perf_counter()
    return {"seconds": t_table - t0, "keyed_seconds": done - t0, "rows": rows}


CHILDREN = {
    "limit": child_limit,
    "baseline": child_baseline,
    "extract": child_extract,
    "el": child_el,
    "load": child_load,
    "bare_duckdb": child_bare_duckdb,
    "bare_postgres": child_bare_postgres,
    "bare_incremental": child_bare_incremental,
    "load_limit": child_load_limit,
}


def child_main(task: str, params: str, out: str) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="  [child %(name)s] %(message)s")
    result = CHILDREN[task](json.loads(params))
    Path(out).write_text(json.dumps(result, default=str))
    return 0


# ------------------------------------------------------------------------------------------
# Parent side
# ------------------------------------------------------------------------------------------


class Bench:
    """Lines 1-6 of the report: the limit, Headwater's extract/load, incremental, upsert."""

    family = "el"

    def __init__(self, opts: argparse.Namespace, results: Results, work: Path) -> None:
        self.opts = opts
        self.work = work / "el"
        self.work.mkdir(parents=True, exist_ok=True)
        self.lake = self.work / "lake"
        self.results = results
        self.seq = 0
        self.final_locations: dict[str, dict[str, str]] = {}

    def log(self, msg: str) -> None:
        log(msg)

    def add(self, *args: Any, **kwargs: Any) -> Measurement:
        return self.results.add(*args, family=self.family, **kwargs)

    # -- child processes -------------------------------------------------------------------
    def child(self, task: str, **params: Any) -> ChildRun:
        """Run one measurement in a fresh process (this file with ``--child``)."""
        self.seq += 1
        out = self.work / f"child-{self.seq:02d}-{task}.json"
        base = {
            "source_url": self.opts.source_url,
            "table": self.opts.table,
            "work": str(self.work),
            "lake": str(self.lake),
        }
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            task,
            "--child-params",
            json.dumps({**base, **params}),
            "--child-out",
            str(out),
        ]
        return run_child(cmd, out, what=f"el child {task}")

    # -- warehouses ------------------------------------------------------------------------
    def url(self, wh: str, loc: str) -> str:
        """A warehouse URL from a location: a DuckDB file path or a Postgres database name."""
        return f"duckdb:///{loc}" if wh == "duckdb" else to_url(self.opts.source_url, loc)

    def fresh(self, wh: str, name: str) -> str:
        if wh == "duckdb":
            path = self.work / f"{name}.duckdb"
            for p in (path, Path(f"{path}.wal")):
                p.unlink(missing_ok=True)
            return str(path)
        db = f"{WH_DB}{'' if name == 'full' else '_' + name}"
        recreate_database(self.opts.source_url, db)
        return db

    def clone(self, wh: str, base: str, name: str) -> str:
        """A physical copy of a warehouse, so that two measurements start from the same state."""
        if wh == "duckdb":
            path = self.work / f"{name}.duckdb"
            for p in (path, Path(f"{path}.wal")):
                p.unlink(missing_ok=True)
            shutil.copyfile(base, path)
            if Path(f"{base}.wal").exists():
                shutil.copyfile(f"{base}.wal", f"{path}.wal")
            return str(path)
        db = f"{WH_DB}_{name}"
        recreate_database(self.opts.source_url, db, template=base)
        return db

    def quiesce(self, wh: str) -> None:
        """Flush Postgres' dirty pages before a measurement (Postgres serves both roles)."""
        checkpoint(self.opts.source_url)

    # -- the stages ------------------------------------------------------------------------
    def run(self, info: dict[str, Any]) -> None:
        """Measure lines 1-6; ``info["source"]`` comes from ``prepare_source``."""
        o = self.opts
        self.log(f"el: work dir {self.work}")
        for db in ALL_DBS:  # leftovers of an interrupted or --keep run
            drop_database(o.source_url, db)
        src = info["source"]
        rows = src["rows"]
        warehouses = [w for w in ("duckdb", "postgres") if w in o.warehouses]
        R = o.repeat

        self.log("baseline process (imports + DuckDB + postgres extension attached)")
        info["baseline_rss_mb"] = round(self.child("baseline").peak_rss_mb, 1)

        # 1 + 2: the limit and the full extract, interleaved so both see the same machine load
        self.log(f"1+2. limit (binary COPY to /dev/null) and full extract, interleaved, best of {R}")
        self.child("limit")  # warm-up: source pages into the OS cache
        lims, exts = [], []
        for _ in range(R):
            lims.append(self.child("limit"))
            exts.append(self.child("extract", run_id="bench_extract_only"))
        copy_bytes = lims[0].result["bytes"]
        per_row = copy_bytes / rows
        info["source"]["copy_binary_bytes"] = copy_bytes
        self.add(
            "limit",
            "COPY binary -> /dev/null (the limit)",
            lims,
            lambda r: r["rows"],
            lambda r: copy_bytes,
            lambda r: "",
        )
        self.add(
            "extract_full",
            "Headwater full extract -> Parquet",
            exts,
            lambda r: r["rows"],
            lambda r: copy_bytes,
            lambda r: f"Parquet {r['parquet_bytes'] / 1e6:.0f} MB",
        )
        shutil.rmtree(self.lake / PIPELINE / o.table / "batch=bench_extract_only", ignore_errors=True)

        # 3: full extract + load into a fresh warehouse
        base: dict[str, str] = {}
        for wh in warehouses:
            self.log(f"3. full extract + load into a fresh {wh} warehouse, best of {R}")
            runs = []
            for rep in range(R):
                loc = self.fresh(wh, "full")
                self.quiesce(wh)
                runs.append(
                    self.child("el", warehouse_url=self.url(wh, loc), run_id=f"bench_full_{wh}_{rep}")
                )
                assert runs[-1].result["mode"] == "full", runs[-1].result
            base[wh] = loc
            self.add(
                f"el_full_{wh}",
                f"Headwater full extract+load -> {wh}",
                runs,
                lambda r: r["rows"],
                lambda r: copy_bytes,
                phases,
            )
            if wh == "postgres":
                vacuum_raw(self.url(wh, loc), o.table)
            # 3b: the same full batch, bare, into an empty warehouse: the load side's own limit
            batch = {"batch_id": f"bench_full_{wh}_{R - 1}"}
            limits = []
            for _ in range(R):
                bare_loc = self.fresh(wh, "loadlimit")
                self.quiesce(wh)
                where = {"path": bare_loc} if wh == "duckdb" else {"warehouse_url": self.url(wh, bare_loc)}
                limits.append(self.child("load_limit", wh=wh, batch=batch, **where))
            if wh == "postgres":
                drop_database(o.source_url, bare_loc)
            self.add(
                f"load_limit_{wh}",
                f"bare CREATE TABLE AS read_parquet of the full batch -> {wh} (the load limit)",
                limits,
                lambda r: r["rows"],
                lambda r: copy_bytes,
                lambda r: "no staging, upsert, ledger or watermark",
            )
            if wh == "postgres":  # the same runs, with the primary key built after the copy
                keyed = [
                    replace(c, result={**c.result, "seconds": c.result["keyed_seconds"]}) for c in limits
                ]
                self.add(
                    f"load_limit_keyed_{wh}",
                    f"the same bare CTAS + ADD PRIMARY KEY -> {wh} (the limit for a table upserts can use)",
                    keyed,
                    lambda r: r["rows"],
                    lambda r: copy_bytes,
                    lambda r: "the key ON CONFLICT needs; no staging, ledger or watermark",
                )

        # 4: incremental with 1% changed, then with nothing changed (the skip path)
        n1 = touch_rows(o.source_url, o.table, ONE_PCT_WHERE)
        self.log(
            f"4. incremental: {n1:,} rows ({n1 / rows:.1%}) updated in the source; "
            f"each repetition on a fresh copy of the warehouse"
        )
        for wh in warehouses:
            inc1, inc0, bare_inc = [], [], []
            for rep in range(R):
                # the floor first, on its own copy of the same starting state
                bare_loc = self.clone(wh, base[wh], "bare")
                self.quiesce(wh)
                bare_inc.append(self.child("bare_incremental", wh=wh, warehouse_url=self.url(wh, bare_loc)))
                loc = self.clone(wh, base[wh], "inc")
                self.quiesce(wh)
                inc1.append(
                    self.child("el", warehouse_url=self.url(wh, loc), run_id=f"bench_inc1_{wh}_{rep}")
                )
                r = inc1[-1].result
                assert r["mode"] == "incremental" and not r["skipped"], r
                inc0.append(
                    self.child("el", warehouse_url=self.url(wh, loc), run_id=f"bench_inc0_{wh}_{rep}")
                )
            base[wh] = loc
            self.add(
                f"el_inc1_{wh}",
                f"Headwater incremental 1% plan+extract+load -> {wh}",
                inc1,
                lambda r: r["rows"],
                lambda r: r["rows"] * per_row,
                lambda r: f"{r['changed']:,} changed; {phases(r)}",
            )
            self.add(
                f"el_inc1_bare_{wh}",
                f"bare incremental 1% source -> {wh} (the floor)",
                bare_inc,
                lambda r: r["rows"],
                lambda r: r["rows"] * per_row,
                lambda r: "one transaction, no lake, plan, dedupe, ledger or watermark",
            )
            self.add(
                f"el_inc0_{wh}",
                f"Headwater incremental 0% (skip path) -> {wh}",
                inc0,
                lambda r: 0,
                lambda r: None,
                lambda r: (
                    ("skipped" if r["skipped"] else f"NOT skipped: {r['rows']:,} rows") + f"; {phases(r)}"
                ),
            )
            if wh == "postgres":
                vacuum_raw(self.url(wh, loc), o.table)

        # 5: a 5% batch: Headwater's load vs a bare SQL upsert, same batch, same starting state
        n5 = touch_rows(o.source_url, o.table, FIVE_PCT_WHERE)
        self.log(f"5. upsert: {n5:,} rows ({n5 / rows:.1%}) updated in the source")
        for wh in warehouses:
            ex = self.child("el", warehouse_url=self.url(wh, base[wh]), run_id=f"bench_inc5_{wh}", load=False)
            batch = ex.result["batch"]
            assert batch is not None, ex.result
            ex.result["seconds"] = ex.result["plan_seconds"] + ex.result["extract_seconds"]
            self.add(
                f"extract_inc5_{wh}",
                f"Headwater incremental plan+extract of the 5% batch ({wh})",
                [ex],
                lambda r: r["rows"],
                lambda r: r["rows"] * per_row,
                phases,
            )
            hw_runs, bare_runs = [], []
            for rep in range(R):
                hw_loc = self.clone(wh, base[wh], "hw")
                bare_loc = self.clone(wh, base[wh], "bare")
                order = ("hw", "bare") if rep % 2 == 0 else ("bare", "hw")
                for which in order:
                    self.quiesce(wh)
                    if which == "hw":
                        hw_runs.append(self.child("load", warehouse_url=self.url(wh, hw_loc), batch=batch))
                    elif wh == "duckdb":
                        bare_runs.append(self.child("bare_duckdb", path=bare_loc, batch=batch))
                    else:
                        bare_runs.append(
                            self.child("bare_postgres", warehouse_url=self.url(wh, bare_loc), batch=batch)
                        )
            self.final_locations[wh] = {"hw": hw_loc, "bare": bare_loc}
            self.add(
                f"upsert5_hw_{wh}",
                f"Headwater load of the 5% batch -> {wh}",
                hw_runs,
                lambda r: r["rows"],
                lambda r: r["rows"] * per_row,
                lambda r: f"{r['changed']:,} changed",
            )
            how = "MERGE from read_parquet" if wh == "duckdb" else "COPY to temp table + INSERT ON CONFLICT"
            self.add(
                f"upsert5_bare_{wh}",
                f"bare SQL upsert of the same batch -> {wh}",
                bare_runs,
                lambda r, n=batch["rows"]: n,
                lambda r, n=batch["rows"]: n * per_row,
                lambda r, how=how: f"{how}; {r['changed']:,} rows",
            )

        info["consistency"] = self.consistency(warehouses)
        bad = [k for k, v in info["consistency"].items() if isinstance(v, dict) and not v["matches"]]
        if bad:
            raise RuntimeError(f"el: warehouse differs from the source after the upsert: {bad}")

    def consistency(self, warehouses: list[str]) -> dict[str, Any]:
        """Do the warehouses hold what the source holds? (count, sum(amount), max(updated_at))"""
        import duckdb

        q = "SELECT count(*), sum(amount)::VARCHAR, max(updated_at)::VARCHAR FROM {}"
        with pg_connect(self.opts.source_url) as conn:
            expected = list(conn.execute(q.format(f"{SCHEMA}.{self.opts.table}")).fetchone())
        out: dict[str, Any] = {"source": expected}
        table = f'{RAW_SCHEMA}."{self.opts.table}"'
        for wh in warehouses:
            for which, loc in self.final_locations.get(wh, {}).items():
                if wh == "duckdb":
                    con = duckdb.connect(loc, read_only=True)
                    got = list(con.execute(q.format(table)).fetchone() or ())
                    con.close()
                else:
                    with pg_connect(self.url(wh, loc)) as conn:
                        got = list(conn.execute(q.format(table)).fetchone())
                ok = (
                    got[0] == expected[0]
                    and abs(float(got[1]) - float(expected[1])) < 0.005
                    and str(got[2])[:19] == str(expected[2])[:19]
                )
                out[f"{wh} ({'Headwater' if which == 'hw' else 'bare SQL'})"] = {
                    "count_sum_max": got,
                    "matches": ok,
                }
        return out

    def cleanup(self) -> None:
        if self.opts.keep:
            self.log(f"--keep: leaving {self.work} and databases {', '.join(ALL_DBS)}")
            return
        shutil.rmtree(self.work, ignore_errors=True)
        for db in ALL_DBS:
            try:
                drop_database(self.opts.source_url, db)
            except Exception as e:  # noqa: BLE001 - cleanup must not hide the real error
                self.log(f"could not drop {db}: {e}")


def drop_source(opts: argparse.Namespace) -> None:
    with pg_connect(opts.source_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SCHEMA}.{opts.table}")
    log(f"dropped {SCHEMA}.{opts.table}")


def prepare_source(opts: argparse.Namespace) -> dict[str, Any]:
    """The source table (generated or reused) and the server's version and settings."""
    src = ensure_source(opts.source_url, opts.table, opts.rows, log)
    with pg_connect(opts.source_url) as conn:
        src["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
        src["postgres_settings"] = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
                "('shared_buffers', 'max_wal_size', 'synchronous_commit', 'work_mem')"
            ).fetchall()
        )
    return src


def versions() -> dict[str, str]:
    import duckdb
    import psycopg
    import pyarrow

    return {"duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__, "psycopg": psycopg.__version__}


def phases(r: dict[str, Any]) -> str:
    return (
        f"plan {r['plan_seconds']:.2f} + extract {r['extract_seconds']:.2f}"
        + (f" + load {r['load_seconds']:.2f}" if r.get("load_seconds", 0) > 0.0005 else "")
        + " s"
    )


def evaluate(results: Results, warehouses: list[str]) -> list[dict[str, Any] | None]:
    """This family's targets, each with its measured value (nothing asserted)."""
    out: list[dict[str, Any] | None] = []
    lim, ext = results.get("limit"), results.get("extract_full")
    if lim and ext:
        out.append(
            target(
                "full extract vs COPY limit",
                ext.seconds / lim.seconds,
                TARGET_EXTRACT_X_LIMIT,
                "max_x",
                f"{ext.seconds:.2f} s / {lim.seconds:.2f} s",
            )
        )
    for wh in warehouses:
        full, inc = results.get(f"el_full_{wh}"), results.get(f"el_inc1_{wh}")
        if full and inc:
            out.append(
                target(
                    f"incremental 1% vs full extract+load ({wh})",
                    inc.seconds / full.seconds,
                    TARGET_INCREMENTAL_SHARE,
                    "share",
                    f"{inc.seconds:.2f} s / {full.seconds:.2f} s",
                )
            )
    for wh in warehouses:
        full, inc, floor = (results.get(f"{k}_{wh}") for k in ("el_full", "el_inc1", "el_inc1_bare"))
        if full and inc and floor:
            out.append(
                target(
                    f"bare incremental 1% vs full extract+load ({wh}): the floor of the line above",
                    floor.seconds / full.seconds,
                    TARGET_INCREMENTAL_SHARE,
                    "share",
                    f"{floor.seconds:.2f} s / {full.seconds:.2f} s",
                )
            )
            out.append(
                target(
                    f"incremental 1% vs its bare floor ({wh})",
                    inc.seconds / floor.seconds,
                    TARGET_INCREMENTAL_X_BARE,
                    "max_x",
                    f"{inc.seconds:.2f} s / {floor.seconds:.2f} s",
                )
            )
    for wh in warehouses:
        full, bare = results.get(f"el_full_{wh}"), results.get(f"load_limit_{wh}")
        load = full.extra.get("best", {}).get("load_seconds") if full else None
        if full and bare and load:
            out.append(
                target(
                    f"full load alone vs the bare load limit ({wh})",
                    load / bare.seconds,
                    TARGET_LOAD_X_LIMIT,
                    "max_x",
                    f"{load:.2f} s / {bare.seconds:.2f} s",
                )
            )
    full, keyed = results.get("el_full_postgres"), results.get("load_limit_keyed_postgres")
    load = full.extra.get("best", {}).get("load_seconds") if full else None
    if full and keyed and load:
        out.append(
            target(
                "full load alone vs the keyed bare limit (postgres)",
                load / keyed.seconds,
                TARGET_LOAD_X_LIMIT,
                "max_x",
                f"{load:.2f} s / {keyed.seconds:.2f} s",
            )
        )
    for wh in warehouses:
        inc0 = results.get(f"el_inc0_{wh}")
        if inc0:
            out.append(
                target(
                    f"incremental 0% (skip path) EL ({wh})",
                    inc0.seconds,
                    TARGET_SKIP_SECONDS,
                    "s",
                    "plan + extract, nothing to load",
                )
            )
    for wh in warehouses:
        hw, bare = results.get(f"upsert5_hw_{wh}"), results.get(f"upsert5_bare_{wh}")
        if hw and bare:
            out.append(
                target(
                    f"5% upsert vs bare SQL ({wh})",
                    hw.seconds / bare.seconds,
                    TARGET_UPSERT_X_BARE,
                    "max_x",
                    f"{hw.seconds:.2f} s / {bare.seconds:.2f} s",
                )
            )
    if ext:
        out.append(
            target(
                "full extract peak RSS",
                ext.peak_rss_mb,
                TARGET_EXTRACT_RSS_MB,
                "mb",
                "peak RSS of the whole extract process",
            )
        )
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="child side of the el family (started by run.py)")
    ap.add_argument("--child", required=True, choices=sorted(CHILDREN))
    ap.add_argument("--child-params", required=True)
    ap.add_argument("--child-out", required=True)
    a = ap.parse_args()
    sys.exit(child_main(a.child, a.child_params, a.child_out))

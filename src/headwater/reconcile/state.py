"""What reconcile remembers between runs, so an unchanged table costs one cheap scan per side.

The canonical comparison (:mod:`compare`) hashes every row's canonical text on both sides:
exact across engines, but Postgres spends most of a reconcile on it. Each side also has a
*fast* fingerprint per row that is far cheaper but only comparable with itself (see
:meth:`Side.fast_hash`): on Postgres the row version's identity (table oid, ctid, xmin; any
INSERT, UPDATE or DELETE gives a row a new one), on DuckDB ``hash()`` of the compared columns.

When the first canonical level finds a key bucket equal, the sum of the fast fingerprints of
each side's rows in that bucket, read by the same statement as that side's canonical hashes
(one snapshot), is stored here (``headwater.reconcile_state``). The next reconcile first reads
only the fast fingerprints of both sides. A bucket whose source fingerprint and warehouse
fingerprint both equal the stored ones holds what it held when it was verified on each side,
and those contents were equal then: it is equal without hashing its rows again. Every other
bucket (changed on either side, new, or never verified) goes through the canonical,
narrowing comparison as before, and its new fingerprints replace the old.

The stored rows count only under a *spec fingerprint*: the comparison's columns and types,
key, relations, filters, bucket depth, and each side's fast-fingerprint identity. For a
Postgres side that identity includes the server's system identifier, timeline, start time
and database oid: a transaction id (xmin) can only be handed out again with the same ctid
after a restore to an earlier point (a new timeline), a crash that lost asynchronously
committed transactions (a restart) or in another cluster, and each of these voids the state.
A change of columns, types or spec likewise voids it; tables and pipelines never share rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from headwater import duck

if TYPE_CHECKING:
    from headwater.reconcile.sides import Side
    from headwater.settings import Settings

log = logging.getLogger(__name__)

VERSION = 1
"""Bumped whenever what the fast fingerprints or the buckets mean changes."""

VERSION_HASH = "hash_record_extended(row(r.tableoid, r.ctid, r.xmin), 0)"
"""Postgres: a row version's identity, hashed (see :meth:`Side.fast_hash`)."""

Fingerprints = dict[str, tuple[int, str, int, str]]
"""bucket -> (source rows, source fast sum, warehouse rows, warehouse fast sum)."""

_PG_IDENTITY = (
    "SELECT concat_ws(':', (SELECT system_identifier FROM pg_control_system()), "
    "(SELECT timeline_id FROM pg_control_checkpoint()), "
    "extract(epoch FROM pg_postmaster_start_time()), "
    "(SELECT oid FROM pg_database WHERE datname = current_database()), "
    "current_setting('server_version_num')) AS identity"
)


_PG_STORED = (
    "WITH t AS (SELECT to_regclass({relation}) AS oid) "
    "SELECT coalesce(CASE (SELECT relkind FROM pg_class WHERE oid = (SELECT oid FROM t)) "
    "WHEN 'r' THEN NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = (SELECT oid FROM t)) "
    "WHEN 'm' THEN true "
    "WHEN 'p' THEN (SELECT bool_and(c.relkind IN ('r', 'p')) "
    "FROM pg_partition_tree((SELECT oid FROM t)) AS p JOIN pg_class AS c ON c.oid = p.relid) "
    "ELSE false END, false) AS ok"
)
"""Whether every row of the relation lives in a heap of this database, where ctid and xmin
identify a row version: a table (without inheritance children), a materialized view, or a
partitioned table of such partitions. A foreign table's or a view's rows do not qualify."""


_PG_COLUMNS = (
    "SELECT (SELECT oid FROM pg_class WHERE oid = to_regclass({relation})) || '@' || "
    "coalesce(string_agg(concat_ws(':', a.attname, a.attnum, a.atttypid, a.atttypmod, "
    "(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum AS e "
    "WHERE e.enumtypid = coalesce(nullif(t.typbasetype, 0), a.atttypid))), ';' ORDER BY a.attnum), '') "
    "AS columns FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid "
    "WHERE a.attrelid = to_regclass({relation}) AND a.attnum > 0 AND NOT a.attisdropped"
)
"""The relation and its columns as the catalog has them: values can change without a new row
version when a column is dropped and added again (new attnum: every value NULL or the
default) or an enum label is renamed; either changes this text, so the state is void."""


def enable_fast(side: Side) -> None:
    """Give ``side`` its fast fingerprint if its database has one (else leave it without:
    reconcile then takes the canonical path alone, as for SQLite and file sources)."""
    if side.dialect == "duckdb":
        side.fast, side.fast_identity = "content", f"duckdb {duckdb.__version__}"
        return
    relation = side.from_clause.removesuffix(" AS r")
    probe = f"SELECT {VERSION_HASH} AS h FROM {side.from_clause} LIMIT 0"
    try:
        side.fetch(probe)  # a view has no ctid; Postgres before 14 cannot hash a tid
        if not side.fetch(_PG_STORED.format(relation=duck.literal(relation))).column("ok")[0].as_py():
            log.info("the %s side is not stored in plain tables: canonical comparison only", side.name)
            return
        identity = side.fetch(_PG_IDENTITY).column("identity")[0].as_py()
        columns = side.fetch(_PG_COLUMNS.format(relation=duck.literal(relation))).column("columns")[0].as_py()
    except duckdb.Error as e:
        log.info(
            "the %s side has no fast fingerprint (%s): canonical comparison only", side.name, type(e).__name__
        )
        return
    side.fast, side.fast_identity = "version", f"postgres {identity} {columns}"


def spec_fingerprint(
    source: Side, warehouse: Side, key: list[tuple[str, str]], columns: list[tuple[str, str]], depth: int
) -> str:
    described = [
        VERSION,
        depth,
        key,
        columns,
        [(s.dialect, s.from_clause, s.where, s.fast, s.fast_identity) for s in (source, warehouse)],
    ]
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def load(con: duckdb.DuckDBPyConnection, pipeline: str, table: str, fingerprint: str) -> Fingerprints:
    """The stored fingerprints of ``table`` under ``fingerprint`` (none before the first run)."""
    from headwater.warehouse.base import ALIAS, META

    try:
        rows = con.execute(  # literals: no parameter binding, no pandas import (duck.value)
            f"SELECT bucket, source_rows, source_hash, warehouse_rows, warehouse_hash "
            f"FROM {ALIAS}.{META}.reconcile_state WHERE pipeline = {duck.value(pipeline)} "
            f"AND table_name = {duck.value(table)} AND spec_fingerprint = {duck.value(fingerprint)}"
        ).fetchall()
    except duckdb.CatalogException:  # a warehouse not yet migrated: nothing stored
        return {}
    return {r[0]: (int(r[1]), r[2], int(r[3]), r[4]) for r in rows}


def save(settings: Settings, pipeline: str, table: str, fingerprint: str, state: Fingerprints) -> None:
    """Replace ``table``'s stored fingerprints (every spec's) with ``state``, in one transaction."""
    from headwater.warehouse import open_warehouse
    from headwater.warehouse.base import ALIAS, META

    now = datetime.now(UTC).replace(tzinfo=None)
    buckets = sorted(state)
    rows = pa.table(
        {
            "pipeline": [pipeline] * len(buckets),
            "table_name": [table] * len(buckets),
            "spec_fingerprint": [fingerprint] * len(buckets),
            "bucket": buckets,
            "source_rows": pa.array([state[b][0] for b in buckets], pa.int64()),
            "source_hash": [state[b][1] for b in buckets],
            "warehouse_rows": pa.array([state[b][2] for b in buckets], pa.int64()),
            "warehouse_hash": [state[b][3] for b in buckets],
            "verified_at": pa.array([now] * len(buckets), pa.timestamp("us")),
        }
    )
    warehouse = open_warehouse(settings.warehouse_url)
    with warehouse.session() as con:
        warehouse.ensure_metadata(con)
        con.execute("BEGIN")
        try:
            con.execute(
                f"DELETE FROM {ALIAS}.{META}.reconcile_state WHERE pipeline = ? AND table_name = ?",
                [pipeline, table],
            )
            if buckets:
                con.register("hw_reconcile_state", rows)
                con.execute(f"INSERT INTO {ALIAS}.{META}.reconcile_state SELECT * FROM hw_reconcile_state")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def totals(state: Fingerprints) -> tuple[int, int, int, int]:
    """Rows and fast sums of each side over all stored buckets."""
    return (
        sum(v[0] for v in state.values()),
        sum(int(v[1]) for v in state.values()),
        sum(v[2] for v in state.values()),
        sum(int(v[3]) for v in state.values()),
    )


__all__ = ["Fingerprints", "enable_fast", "load", "save", "spec_fingerprint", "totals"]

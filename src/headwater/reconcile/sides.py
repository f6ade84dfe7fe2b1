"""One table as one database holds it: the SQL each side runs, in its own dialect.

A side answers three questions, always inside its own database: counts and hash sums per key
bucket (``buckets``), key and row hashes of the rows in some buckets (``rows``), and the
canonical values of a few keys (``values``). A Postgres side sends the whole query to Postgres
through ``postgres_query`` (so Postgres does the scan and the aggregate; only the buckets
travel); a DuckDB side (a DuckDB warehouse, a SQLite source through DuckDB's scanner, a file
source) runs it in DuckDB next to the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from headwater import duck
from headwater.reconcile.canonical import SEPARATOR, as_text, hash_int, row_text, type_class, value_text

_HEX = re.compile(r"^[0-9a-f]{1,32}$")


@dataclass
class Side:
    name: str
    """source or warehouse: named in messages."""
    con: duckdb.DuckDBPyConnection
    dialect: str
    """duckdb or postgres: the dialect of ``from_clause`` and of the expressions."""
    from_clause: str
    """The relation in the side's dialect, aliased (``... AS r``)."""
    alias: str | None = None
    """Postgres: the attached database to send queries to."""
    where: str = ""
    """A condition in the side's dialect (the warehouse: rows not marked deleted)."""
    fast: str | None = None
    """The side's cheap change fingerprint per row, if it has one (see :mod:`state`):
    ``version`` (Postgres: the row version's identity) or ``content`` (DuckDB: ``hash()``)."""
    fast_identity: str = ""
    """What the fast fingerprints are only comparable within (a server's life, an engine)."""

    def relation(self, native: str) -> str:
        """DuckDB SQL reading the result of ``native`` (run by the side's own database)."""
        if self.dialect == "postgres":
            assert self.alias is not None
            return f"SELECT * FROM postgres_query({duck.literal(self.alias)}, {duck.literal(native)})"
        return native

    def fetch(self, native: str) -> pa.Table:
        return self.con.execute(self.relation(native)).to_arrow_table()

    def _filtered(self, key: list[tuple[str, str]], condition: str | None = None) -> str:
        # A row without its key cannot be loaded (the loader quarantines it with the reason, as
        # a messy file's line without its id): only keyed rows are compared.
        keyed = " AND ".join(f"{duck.quote(n)} IS NOT NULL" for n, _ in key)
        conditions = [c for c in (self.where, keyed, condition) if c]
        return f"FROM {self.from_clause}" + (" WHERE " + " AND ".join(conditions) if conditions else "")

    def buckets(
        self,
        key: list[tuple[str, str]],
        columns: list[tuple[str, str]],
        depth: int,
        within: tuple[int, list[Any]] | None = None,
        fast: bool = False,
    ) -> pa.Table:
        """(bucket, n, s): rows and the sum of row hashes per bucket of ``depth`` hex digits;
        with ``fast``, also ``fs``, the sum of fast fingerprints of the same rows, read in the
        same statement (one snapshot), so a stored pair of them vouches for this very content."""
        d = self.dialect
        condition = in_buckets(d, key, *within) if within else None
        if columns == key and _integer(key):
            rh = f"CAST({duck.quote(key[0][0])} AS BIGINT)"  # a key set: the keys' sum will do
        else:
            rh = hash_int(d, row_text(d, columns))
        fh, fs = (
            (f", {self.fast_hash(columns)} AS fh", f", {as_text(d, 'sum(fh)')} AS fs") if fast else ("", "")
        )
        inner = f"SELECT {bucket_of(d, key, depth)} AS bucket, {rh} AS rh{fh} " + self._filtered(
            key, condition
        )
        native = (
            f"SELECT bucket, count(*) AS n, {as_text(d, 'sum(rh)')} AS s{fs} FROM ({inner}) AS x GROUP BY 1"
        )
        return self.fetch(native)

    def fast_hash(self, columns: list[tuple[str, str]]) -> str:
        """SQL of one row's fast fingerprint (a 64-bit integer), in the side's dialect.

        Postgres: a hash of the row version's identity (table oid, ctid, xmin), which any
        INSERT, UPDATE or DELETE changes and which costs no column decoding; DuckDB: its
        ``hash()`` of the compared columns (vectorized, cheap). Neither is comparable with the
        other side: they are only ever compared with the same side's stored fingerprints.
        """
        if self.fast == "version":
            from headwater.reconcile.state import VERSION_HASH

            return VERSION_HASH
        if self.fast == "content":
            return "hash(" + ", ".join(duck.quote(n) for n, _ in columns) + ")"
        raise ValueError(f"the {self.name} side has no fast fingerprint")

    def fast_buckets(
        self, key: list[tuple[str, str]], columns: list[tuple[str, str]], depth: int
    ) -> pa.Table:
        """(bucket, n, fs): rows and the sum of fast fingerprints per bucket (one cheap scan)."""
        d = self.dialect
        inner = (
            f"SELECT {bucket_of(d, key, depth)} AS bucket, {self.fast_hash(columns)} AS fh "
            + self._filtered(key)
        )
        native = f"SELECT bucket, count(*) AS n, {as_text(d, 'sum(fh)')} AS fs FROM ({inner}) AS x GROUP BY 1"
        return self.fetch(native)

    def fast_totals(self, key: list[tuple[str, str]], columns: list[tuple[str, str]]) -> pa.Table:
        """(n, fs) over the whole table: no grouping, so Postgres may use parallel workers."""
        d = self.dialect
        native = (
            f"SELECT count(*) AS n, {as_text(d, f'sum({self.fast_hash(columns)})')} AS fs "
            + self._filtered(key)
        )
        return self.fetch(native)

    def key_totals(self, key: list[tuple[str, str]]) -> pa.Table:
        """(n, s, hs) of an integer key set, ungrouped: its size, the keys' sum and the sum of
        a 64-bit hash of each key (Postgres' ``hashint8extended(k, 0)``, which DuckDB computes
        with the same arithmetic: :func:`key_hash_duckdb`). No grouping: Postgres may scan in
        parallel, and no per-bucket hash table is built."""
        k = f"CAST({duck.quote(key[0][0])} AS BIGINT)"
        if self.dialect == "postgres":
            native = (
                "SELECT count(*) AS n, CAST(sum(k) AS text) AS s, "
                "CAST(sum(hashint8extended(k, 0)) AS text) AS hs "
                f"FROM (SELECT {k} AS k {self._filtered(key)}) AS x"
            )
        else:
            # h = b2 * 2^32 + c3 as a signed 64-bit value, summed per part (no per-row HUGEINT)
            native = (
                "SELECT count(*) AS n, CAST(sum(k) AS VARCHAR) AS s, CAST(4294967296 * sum(b2) + sum(c3) "
                "- CAST(18446744073709551616 AS HUGEINT) * count_if(b2 >= 2147483648) AS VARCHAR) AS hs "
                f"FROM ({key_hash_duckdb(f'SELECT {k} AS k ' + self._filtered(key), parts=True)}) AS x"
            )
        return self.fetch(native)

    def rows(
        self, key: list[tuple[str, str]], columns: list[tuple[str, str]], depth: int, buckets: list[Any]
    ) -> pa.Table:
        """(kh, rh, key): each row's key identity, row hash and key text, in the given buckets."""
        d = self.dialect
        native = (
            f"SELECT {key_identity(d, key)} AS kh, md5({row_text(d, columns)}) AS rh, "
            f"{key_text(d, key, readable=True)} AS key_text "
            + self._filtered(key, in_buckets(d, key, depth, buckets))
        )
        return self.fetch(native)

    def values(
        self, key: list[tuple[str, str]], columns: list[tuple[str, str]], identities: list[str]
    ) -> pa.Table:
        """(kh, <column>...): the canonical text of every column of the rows with these keys."""
        d = self.dialect
        listed = ", ".join(f"{value_text(d, n, t)} AS {duck.quote(n)}" for n, t in columns)
        native = f"SELECT {key_identity(d, key)} AS kh, {listed} " + self._filtered(
            key, with_identities(d, key, identities)
        )
        return self.fetch(native)


# Keys: one integer column (the common key) is bucketed by its lowest hex digits, a bitwise
# AND: no function call per row, which is what Postgres spends its time on, and consecutive
# ids spread over every bucket. Any other key is bucketed by the leading hex digits of the
# MD5 of its canonical text. Either way a bucket of depth d+2 lies inside one of depth d.
_FITS_BIGINT = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "INT", "INT2", "INT4", "INT8"}  # fmt: skip


def _integer(key: list[tuple[str, str]]) -> bool:
    return len(key) == 1 and type_class(key[0][1]) == "int" and key[0][1].upper() in _FITS_BIGINT


def bucket_of(dialect: str, key: list[tuple[str, str]], depth: int) -> str:
    """SQL of a row's bucket at ``depth`` hex digits (BIGINT for integer keys, else text)."""
    if _integer(key):
        return f"(CAST({duck.quote(key[0][0])} AS BIGINT) & {16 ** int(depth) - 1})"
    return f"substr(md5({key_text(dialect, key)}), 1, {int(depth)})"


def integer_key(key: list[tuple[str, str]]) -> bool:
    """One integer column that fits a BIGINT: bucketed by its low bits, summed as is."""
    return _integer(key)


def bucket_value(key: list[tuple[str, str]], bucket: str) -> Any:
    """A bucket as stored (text) back in the type ``bucket_of`` gives it."""
    return int(bucket) if _integer(key) else bucket


def in_buckets(dialect: str, key: list[tuple[str, str]], depth: int, buckets: list[Any]) -> str:
    """SQL condition: the row lies in one of ``buckets`` (of ``depth`` digits)."""
    return f"{bucket_of(dialect, key, depth)} IN ({_listed(key, buckets)})"


def key_identity(dialect: str, key: list[tuple[str, str]]) -> str:
    """SQL text naming one key, equal on both sides: the integer itself, or its key MD5."""
    if _integer(key):
        return as_text(dialect, f"CAST({duck.quote(key[0][0])} AS BIGINT)")
    return f"md5({key_text(dialect, key)})"


def with_identities(dialect: str, key: list[tuple[str, str]], identities: list[str]) -> str:
    """SQL condition: the row's key is one of ``identities`` (as ``key_identity`` names them);
    an integer key is compared as a number, so an index on it serves the lookup."""
    if _integer(key):
        return f"CAST({duck.quote(key[0][0])} AS BIGINT) IN ({_listed(key, identities)})"
    return f"md5({key_text(dialect, key)}) IN ({_listed(key, identities)})"


def _listed(key: list[tuple[str, str]], values: list[Any]) -> str:
    """A literal list of buckets or identities, each checked: they come from our own queries,
    so anything else is a bug, never something to quote and pass on."""
    if _integer(key):
        return ", ".join(str(int(v)) for v in values)
    for v in values:
        if not isinstance(v, str) or not _HEX.match(v):
            raise ValueError(f"not a key hash: {v!r}")
    return ", ".join(f"'{v}'" for v in values)


def key_text(dialect: str, key: list[tuple[str, str]], readable: bool = False) -> str:
    """The canonical text of a key (its columns never NULL); ``readable`` joins them with ', '."""
    sep = "', '" if readable else SEPARATOR
    return f" || {sep} || ".join(value_text(dialect, n, t) for n, t in key)


# Postgres' hashint8extended(k, 0) (Bob Jenkins' lookup3 final mix of the key's folded low
# word, as Postgres' hashfn.c does it), spelled in DuckDB's arithmetic on 32-bit words held
# in BIGINTs. One layer per step, so no expression is repeated. Checked against Postgres in
# tests/unit/test_reconcile_hash.py and tests/integration/test_reconcile.py.
_M = 0xFFFFFFFF
_INIT = (0x9E3779B9 + 4 + 3923095) & _M


def _rot_py(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M


_C1 = ((_INIT ^ _INIT) - _rot_py(_INIT, 14)) & _M
"""c after the first step: b and c start as constants, so it is one too."""


def _rot(x: str, r: int) -> str:
    x = f"CAST({x} AS BIGINT)"  # a literal would be an INTEGER, whose shift overflows
    return f"((({x} << {r}) | ({x} >> {32 - r})) & {_M})"


def _step(x: str, y: str, r: int) -> str:
    """x ^= y; x -= rot(y, r) (mod 2^32)."""
    return f"((xor({x}, {y}) - {_rot(y, r)}) & {_M})"


def key_hash_duckdb(keys: str, parts: bool = False) -> str:
    """DuckDB SQL: (k, h) for each row of ``keys`` (a query with a BIGINT column k), where h
    equals Postgres' ``hashint8extended(k, 0)``; with ``parts``, (k, b2, c3), its two 32-bit
    halves (h is b2 * 2^32 + c3 read as a signed 64-bit integer)."""
    folded = f"xor(k & {_M}, CASE WHEN k >= 0 THEN (k >> 32) & {_M} ELSE xor((k >> 32) & {_M}, {_M}) END)"
    a0 = f"(({_INIT} + {folded}) & {_M})"
    layers = [
        f"SELECT k, {_step(a0, str(_C1), 11)} AS a1 FROM ({keys}) AS l0",
        f"SELECT k, a1, {_step(str(_INIT), 'a1', 25)} AS b1 FROM ({{}}) AS l1",
        f"SELECT k, a1, b1, {_step(str(_C1), 'b1', 16)} AS c2 FROM ({{}}) AS l2",
        f"SELECT k, b1, c2, {_step('a1', 'c2', 4)} AS a2 FROM ({{}}) AS l3",
        f"SELECT k, c2, {_step('b1', 'a2', 14)} AS b2 FROM ({{}}) AS l4",
        f"SELECT k, b2, {_step('c2', 'b2', 24)} AS c3 FROM ({{}}) AS l5",
        "SELECT k, CAST(b2 AS HUGEINT) * 4294967296 + c3 "
        "- CASE WHEN b2 >= 2147483648 THEN CAST(18446744073709551616 AS HUGEINT) ELSE 0 END AS h "
        "FROM ({}) AS l6",
    ]
    sql = layers[0]
    for layer in layers[1 : -1 if parts else None]:
        sql = layer.replace("({})", f"({sql})", 1)
    return sql

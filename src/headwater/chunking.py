"""Chunked loads: one large lake batch split into chunks that load as separate tasks.

A table with ``load: {chunk_rows: N}`` in its spec has every batch above N rows split, in the
lake beside the batch (``batch=<id>/chunks/chunk-00001.parquet`` and ``_chunks.json``, local or
S3), into about ``rows / N`` chunks **by a hash of the primary key**: every version of a key
lands in the same chunk, so each chunk dedupes and upserts exactly as the whole batch would,
and no two chunks ever touch the same row. Each chunk is then one load (one transaction, its
own ledger row ``<batch>/chunk-0003-of-0016``), mapped to its own Airflow task and run in
parallel where the warehouse allows it (Postgres: chunks of one batch share the table's lock;
DuckDB has one writer: its pool runs them one at a time). A chunk already in the ledger is a
no-op, so a retried or re-run chunk changes nothing; the watermark moves only once every
chunk of the batch is in (see ``Warehouse._finish_chunks``). Keys absent from a chunked full
read are not deleted: no single chunk sees the whole table.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

from headwater import duck
from headwater.lake import Lake, Manifest, parquet_relation
from headwater.spec import TableSpec

CHUNKS_DIR = "chunks"
CHUNKS_INDEX = "_chunks.json"


def chunk_count(rows: int, chunk_rows: int | None) -> int:
    """How many chunks a batch of ``rows`` is split into (1: not split)."""
    if not chunk_rows or rows <= chunk_rows:
        return 1
    return math.ceil(rows / chunk_rows)


def chunk_file(i: int) -> str:
    return f"{CHUNKS_DIR}/chunk-{i + 1:05d}.parquet"


def split(lake: Lake, manifest: Manifest, table: TableSpec, chunks: int) -> list[int]:
    """Write the batch's chunks into the lake (once: a retry finds them); rows per chunk.

    One read of the batch into DuckDB, then one COPY per chunk; the index is written last, so
    chunks count only once all of them are there.
    """
    folder = lake.batch_uri(manifest.pipeline, manifest.table, manifest.batch_id)
    index = _read_index(lake, folder)
    if index and index.get("chunks") == chunks and index.get("extracted_at") == manifest.extracted_at:
        return [int(n) for n in index["rows"]]
    files = [f"{folder}/{f}" for f in manifest.files]
    keys = ", ".join(duck.quote(c) for c in table.primary_key)
    con = duck.connect()
    try:
        lake.configure(con)
        con.execute(
            "CREATE TEMP TABLE __hw_chunked AS SELECT *, "
            f"(hash({keys}) % {int(chunks)})::INTEGER AS __hw_chunk FROM {parquet_relation(files)}"
        )
        rows = [0] * chunks
        for i, n in con.execute("SELECT __hw_chunk, count(*) FROM __hw_chunked GROUP BY 1").fetchall():
            rows[int(i)] = int(n)
        lake.fs.create_dir(f"{folder.removeprefix(lake.scheme)}/{CHUNKS_DIR}", recursive=True)
        for i in range(chunks):
            target = duck.literal(f"{folder}/{chunk_file(i)}")
            con.execute(
                f"COPY (SELECT * EXCLUDE (__hw_chunk) FROM __hw_chunked WHERE __hw_chunk = {i}) "
                f"TO {target} (FORMAT parquet, COMPRESSION zstd)"
            )
    finally:
        con.close()
    _write_index(lake, folder, {"chunks": chunks, "rows": rows, "extracted_at": manifest.extracted_at})
    return rows


def chunk_manifest(parent: Manifest, chunk: int, chunks: int, rows: int) -> Manifest:
    """The manifest one chunk loads with: the batch's, narrowed to the chunk's file and rows.

    The batch's rejected rows (its ``_rejects.parquet``) are quarantined with the first chunk.
    """
    return replace(
        parent,
        files=[chunk_file(chunk)],
        rows=rows,
        rejected=parent.rejected if chunk == 0 else 0,
        extra={**parent.extra, "chunk": chunk, "chunks": chunks},
    )


def batch_refs(manifest: Manifest, rows: list[int]) -> list[dict[str, Any]]:
    """The XCom references of a split batch's chunks (one mapped load task each)."""
    return [
        {"table": manifest.table, "batch_id": manifest.batch_id, "rows": n, "chunk": i, "chunks": len(rows)}
        for i, n in enumerate(rows)
    ]


def _index_path(lake: Lake, folder: str) -> str:
    return f"{folder.removeprefix(lake.scheme)}/{CHUNKS_INDEX}"


def _read_index(lake: Lake, folder: str) -> dict[str, Any] | None:
    from pyarrow import fs as pafs

    path = _index_path(lake, folder)
    if lake.fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with lake.fs.open_input_stream(path) as f:
        data: dict[str, Any] = json.loads(f.read().decode())
        return data


def _write_index(lake: Lake, folder: str, index: dict[str, Any]) -> None:
    with lake.fs.open_output_stream(_index_path(lake, folder)) as out:
        out.write(json.dumps(index).encode())

"""The landing zone: immutable Parquet batches under deterministic, run-keyed paths.

Layout: ``<lake>/<pipeline>/<table>/batch=<batch id>/part-N.parquet`` plus ``_manifest.json``,
where ``<lake>`` is a local folder or ``s3://bucket/prefix`` (S3, MinIO or any S3-compatible
store: endpoint and keys from the standard AWS_* variables). The batch id comes from the
Airflow run id, so a retry of the same run rewrites the same folder instead of adding a second
copy, and a batch counts as written only once its manifest exists (written last; an S3 PUT
and a local rename both make it appear whole or not at all).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
from pyarrow import fs as pafs

REJECTS_FILE = "_rejects.parquet"
MANIFEST = "_manifest.json"
CHUNK_LEDGER_PREFIX = "chunk-"


def batch_id_for(run_id: str) -> str:
    """A path-safe, deterministic batch id for an Airflow run id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_") or "run"


def parquet_relation(paths: list[str]) -> str:
    """DuckDB SQL reading these Parquet files (or globs) as one relation.

    Hive partitioning is off: ``batch=<id>`` in our paths is a folder name, not a column.
    """
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{listed}], hive_partitioning = false)"


@dataclass
class Manifest:
    pipeline: str
    table: str
    run_id: str
    batch_id: str
    mode: str
    rows: int
    files: list[str]
    columns: list[list[str]]
    cursor: str | None = None
    cursor_min: str | None = None
    cursor_max: str | None = None
    watermark_before: str | None = None
    window_count: int | None = None
    window_fingerprint: str | None = None
    extracted_at: str = ""
    rejected: int = 0
    """Rows the source could not read (kept in the batch's _rejects.parquet, then quarantined)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def chunk(self) -> tuple[int, int] | None:
        """(chunk, chunks) when this manifest loads one chunk of a split batch (chunking.py)."""
        if "chunk" not in self.extra:
            return None
        return int(self.extra["chunk"]), int(self.extra["chunks"])

    @property
    def ledger_id(self) -> str:
        """The id the load ledger knows this load by: the batch's, or one chunk of it."""
        if self.chunk is None:
            return self.batch_id
        i, n = self.chunk
        return f"{self.batch_id}/{CHUNK_LEDGER_PREFIX}{i + 1:04d}-of-{n:04d}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class S3Config:
    """Connection to an S3-compatible store, from the standard AWS_* environment variables."""

    endpoint: str | None
    region: str
    key_id: str | None
    secret: str | None

    @classmethod
    def from_env(cls) -> S3Config:
        from headwater.settings import Settings

        s = Settings.from_env()
        return cls(endpoint=s.s3_endpoint, region=s.s3_region, key_id=s.s3_key_id, secret=s.s3_secret)

    @property
    def _host_and_ssl(self) -> tuple[str | None, bool]:
        if not self.endpoint:
            return None, True
        m = re.match(r"^(https?)://(.+?)/?$", self.endpoint)
        if not m:
            return self.endpoint, True
        return m.group(2), m.group(1) == "https"

    def filesystem(self) -> pafs.S3FileSystem:
        host, ssl = self._host_and_ssl
        return pafs.S3FileSystem(
            access_key=self.key_id,
            secret_key=self.secret,
            region=self.region,
            endpoint_override=host,
            scheme="https" if ssl else "http",
            allow_bucket_creation=True,
        )

    def configure_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let DuckDB read and write s3:// paths (httpfs + a session-scoped secret)."""
        from headwater.duck import literal, load_extension

        load_extension(con, "httpfs")
        host, ssl = self._host_and_ssl
        options = {"TYPE": "s3", "REGION": self.region, "USE_SSL": ssl}
        if self.key_id:
            options.update(KEY_ID=self.key_id, SECRET=self.secret or "")
        if host:
            options.update(ENDPOINT=host, URL_STYLE="path")
        # CREATE SECRET takes no prepared parameters; values are quoted literals (quotes
        # doubled), and the secret lives only in this in-memory connection.
        rendered = ", ".join(
            f"{k} {str(v).lower() if isinstance(v, bool) else literal(str(v))}" for k, v in options.items()
        )
        con.execute(f"CREATE OR REPLACE SECRET headwater_lake ({rendered})")


class Lake:
    """A landing zone on a local folder or an S3 bucket, behind one interface."""

    def __init__(self, url: str) -> None:
        if url.startswith("s3://"):
            if "@" in url.split("/", 3)[2]:
                from headwater.errors import ConfigError
                from headwater.urls import mask_url

                # Credentials in the URL would travel into paths, errors and task logs.
                raise ConfigError(
                    f"the lake URL {mask_url(url)} carries credentials: give them as "
                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and the lake as s3://bucket/prefix"
                )
            self.s3: S3Config | None = S3Config.from_env()
            self.fs: pafs.FileSystem = self.s3.filesystem()
            self.root = url[len("s3://") :].rstrip("/")
            self.scheme = "s3://"
        else:
            self.s3 = None
            self.fs = pafs.LocalFileSystem()
            self.root = os.path.abspath(url[len("file://") :] if url.startswith("file://") else url)
            self.scheme = ""

    def __repr__(self) -> str:
        return f"Lake({self.scheme}{self.root})"

    @property
    def url(self) -> str:
        return self.scheme + self.root

    def configure(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make the lake readable/writable from a DuckDB connection."""
        if self.s3 is not None:
            self.s3.configure_duckdb(con)

    def ensure(self) -> None:
        """Create the lake root (the bucket, on S3) if it does not exist yet."""
        self.fs.create_dir(self.root, recursive=True)

    def _dir(self, pipeline: str, table: str, batch_id: str) -> str:
        return f"{self.root}/{pipeline}/{table}/batch={batch_id}"

    def batch_uri(self, pipeline: str, table: str, batch_id: str) -> str:
        """The batch folder as DuckDB addresses it (a path, or an s3:// URL)."""
        return self.scheme + self._dir(pipeline, table, batch_id)

    def prepare_batch(self, pipeline: str, table: str, batch_id: str) -> str:
        """An empty folder for a batch; a previous attempt of the same batch is discarded."""
        self.discard_batch(pipeline, table, batch_id)
        self.fs.create_dir(self._dir(pipeline, table, batch_id), recursive=True)
        return self.batch_uri(pipeline, table, batch_id)

    def discard_batch(self, pipeline: str, table: str, batch_id: str) -> None:
        d = self._dir(pipeline, table, batch_id)
        if self.fs.get_file_info(d).type != pafs.FileType.NotFound:
            self.fs.delete_dir(d)

    def parquet_files(self, pipeline: str, table: str, batch_id: str) -> list[str]:
        """The batch's Parquet files as DuckDB addresses them, sorted."""
        d = self._dir(pipeline, table, batch_id)
        infos = self.fs.get_file_info(pafs.FileSelector(d, allow_not_found=True))
        return sorted(
            self.scheme + i.path
            for i in infos
            if i.base_name.startswith("part-") and i.path.endswith(".parquet")
        )

    def write_manifest(self, manifest: Manifest) -> str:
        d = self._dir(manifest.pipeline, manifest.table, manifest.batch_id)
        data = manifest.to_json().encode()
        if self.s3 is None:
            tmp = f"{d}/{MANIFEST}.tmp"
            with self.fs.open_output_stream(tmp) as out:
                out.write(data)
            self.fs.move(tmp, f"{d}/{MANIFEST}")  # atomic rename: no half-written manifest
        else:
            with self.fs.open_output_stream(f"{d}/{MANIFEST}") as out:
                out.write(data)
        return self.scheme + f"{d}/{MANIFEST}"

    def read_manifest(self, pipeline: str, table: str, batch_id: str) -> Manifest | None:
        path = f"{self._dir(pipeline, table, batch_id)}/{MANIFEST}"
        if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        with self.fs.open_input_stream(path) as f:
            return Manifest.from_json(f.read().decode())

    def batches(self, pipeline: str, table: str) -> list[Manifest]:
        """Every complete batch of a table, oldest first (by extraction time)."""
        base = f"{self.root}/{pipeline}/{table}"
        found = []
        for info in self.fs.get_file_info(pafs.FileSelector(base, allow_not_found=True)):
            if info.type == pafs.FileType.Directory and info.base_name.startswith("batch="):
                m = self.read_manifest(pipeline, table, info.base_name[len("batch=") :])
                if m is not None:
                    found.append(m)
        return sorted(found, key=lambda m: m.extracted_at)

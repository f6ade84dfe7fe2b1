"""The landing zone: immutable Parquet batches under deterministic, run-keyed paths.

Layout: ``<lake>/<pipeline>/<table>/batch=<batch id>/part-N.parquet`` plus ``_manifest.json``.
The batch id comes from the Airflow run id, so a retry of the same run rewrites the same
folder instead of adding a second copy, and a batch counts as written only once its manifest
exists (the manifest is written last).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST = "_manifest.json"


def batch_id_for(run_id: str) -> str:
    """A path-safe, deterministic batch id for an Airflow run id."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("_") or "run"


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
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


def parquet_relation(paths: list[str]) -> str:
    """DuckDB SQL reading these Parquet files (or globs) as one relation.

    Hive partitioning is off: ``batch=<id>`` in our paths is a folder name, not a column.
    """
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"read_parquet([{listed}], hive_partitioning = false)"


class Lake:
    """A local-folder landing zone. (S3 support goes behind this same interface.)"""

    def __init__(self, root: str) -> None:
        if root.startswith("file://"):
            root = root[len("file://") :]
        self.root = Path(root)

    def batch_dir(self, pipeline: str, table: str, batch_id: str) -> Path:
        return self.root / pipeline / table / f"batch={batch_id}"

    def prepare_batch(self, pipeline: str, table: str, batch_id: str) -> Path:
        """An empty folder for a batch; a previous attempt of the same batch is discarded."""
        d = self.batch_dir(pipeline, table, batch_id)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def discard_batch(self, pipeline: str, table: str, batch_id: str) -> None:
        shutil.rmtree(self.batch_dir(pipeline, table, batch_id), ignore_errors=True)

    def write_manifest(self, manifest: Manifest) -> Path:
        d = self.batch_dir(manifest.pipeline, manifest.table, manifest.batch_id)
        tmp = d / (MANIFEST + ".tmp")
        tmp.write_text(manifest.to_json())
        tmp.replace(d / MANIFEST)  # atomic: readers see no manifest or a whole one
        return d / MANIFEST

    def read_manifest(self, pipeline: str, table: str, batch_id: str) -> Manifest | None:
        path = self.batch_dir(pipeline, table, batch_id) / MANIFEST
        if not path.exists():
            return None
        return Manifest.from_json(path.read_text())

    def batches(self, pipeline: str, table: str) -> list[Manifest]:
        """Every complete batch of a table, oldest first (by extraction time)."""
        found = []
        for path in (self.root / pipeline / table).glob(f"batch=*/{MANIFEST}"):
            found.append(Manifest.from_json(path.read_text()))
        return sorted(found, key=lambda m: m.extracted_at)

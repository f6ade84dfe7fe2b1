"""The generate/advance choreography for file and API sources: a folder of generated files.

A generator for a file source (CSV exports, an XLSX workbook, access logs) or an API source
(JSON files the fixture server serves) subclasses :class:`FolderSourceGenerator`, declares its
tables like a SQL generator (the contract test holds the columns against the ``read:`` blocks of
``pipeline.yaml``) and writes two hooks:

- ``write(con, folder, run)``: write the world at ``run.as_of`` into ``folder`` with the sinks
  (:mod:`.files`, :mod:`.xlsx`); return row counts;
- ``write_changes(con, folder, run, since)``: add what happened after ``since`` (new files:
  another chunk, the next day's log) and return counts.

This class checks the arguments, empties the folder's generated files on ``generate``, and keeps
a small manifest (seed, scale, the moment the files reach) so that ``advance`` knows where the
files end and refuses to go back in time. The interface is the one every generator has.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from headwater import duck
from headwater.errors import SourceError
from headwater.synthetic.generator import Run, SourceGenerator, Target

MANIFEST = "_generated.json"


def folder_of(url: str) -> Path:
    """A local folder from ``file:///path`` or a plain path."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if "://" in url:
        raise ValueError(f"a generated file source must be a local folder, not {duck.mask_url(url)}")
    return Path(url)


class FolderSourceGenerator(SourceGenerator):
    new_fraction: ClassVar[float] = 1.0
    update_fraction: ClassVar[float] = 0.0

    def write(self, con: Any, folder: Path, run: Run) -> dict[str, int]:
        raise NotImplementedError

    def write_changes(self, con: Any, folder: Path, run: Run, since: datetime) -> dict[str, int]:
        raise NotImplementedError

    def _target(self, url: str, schema: str | None) -> Target:
        # Files have no database target (``schema`` is for databases): Run carries the URL.
        return Target("files", url, str(folder_of(url)), None, self.pipeline)

    def _generate(self, run: Run) -> dict[str, int]:
        folder = Path(run.target.location)
        _clear(folder)
        folder.mkdir(parents=True, exist_ok=True)
        con = duck.connect()
        try:
            counts = self.write(con, folder, run)
        finally:
            con.close()
        _save_manifest(folder, run)
        return counts

    def _advance(self, run: Run) -> dict[str, int]:
        folder = Path(run.target.location)
        manifest = _load_manifest(folder, self.pipeline)
        run = replace(run, scale=float(manifest["scale"]))
        since = datetime.fromisoformat(manifest["as_of"])
        self.check_forward(run.as_of, since)
        con = duck.connect()
        try:
            counts = self.write_changes(con, folder, run, since)
        finally:
            con.close()
        _save_manifest(folder, run)
        return counts


def _clear(folder: Path) -> None:
    """Remove what an earlier generate wrote (a folder with our manifest), nothing else."""
    if (folder / MANIFEST).is_file():
        shutil.rmtree(folder)


def _save_manifest(folder: Path, run: Run) -> None:
    manifest = {"seed": run.seed, "scale": run.scale, "as_of": run.as_of.isoformat()}
    if (folder / MANIFEST).is_file():
        manifest["scale"] = json.loads((folder / MANIFEST).read_text())["scale"]
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _load_manifest(folder: Path, pipeline: str) -> dict[str, Any]:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceError(
            f"cannot read the {pipeline} files' manifest in {folder} ({type(exc).__name__}); "
            "run generate() first"
        ) from exc

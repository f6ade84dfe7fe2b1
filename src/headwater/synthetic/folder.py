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
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from headwater import duck
from headwater.errors import SourceError
from headwater.synthetic.arguments import check_fraction, check_scale, check_seed, normalise_as_of
from headwater.synthetic.generator import Run, Target
from headwater.synthetic.schema import Schema

MANIFEST = "_generated.json"


def folder_of(url: str) -> Path:
    """A local folder from ``file:///path`` or a plain path."""
    if url.startswith("file://"):
        return Path(url.removeprefix("file://"))
    if "://" in url:
        raise ValueError(f"a generated file source must be a local folder, not {duck.mask_url(url)}")
    return Path(url)


class FolderSourceGenerator:
    pipeline: ClassVar[str]
    source: ClassVar[Schema]
    new_fraction: ClassVar[float] = 1.0
    update_fraction: ClassVar[float] = 0.0
    max_scale: ClassVar[float | None] = None

    def write(self, con: Any, folder: Path, run: Run) -> dict[str, int]:
        raise NotImplementedError

    def write_changes(self, con: Any, folder: Path, run: Run, since: datetime) -> dict[str, int]:
        raise NotImplementedError

    @property
    def tables(self) -> tuple[str, ...]:
        return self.source.names

    def generate(
        self,
        url: str,
        *,
        scale: float = 1.0,
        seed: int = 42,
        as_of: datetime | None = None,
        schema: str | None = None,
    ) -> dict[str, int]:
        """Write the files of the world at ``as_of`` into the folder ``url`` (replacing the
        files an earlier generate wrote there); ``schema`` is ignored (it is for databases)."""
        folder = folder_of(url)
        run = Run(
            self._target(url),
            check_seed(seed),
            normalise_as_of(as_of),
            scale=check_scale(scale, at_most=self.max_scale),
        )
        _clear(folder)
        folder.mkdir(parents=True, exist_ok=True)
        con = duck.connect()
        try:
            counts = self.write(con, folder, run)
        finally:
            con.close()
        _save_manifest(folder, run)
        return counts

    def advance(
        self,
        url: str,
        *,
        seed: int = 42,
        as_of: datetime | None = None,
        new_fraction: float | None = None,
        update_fraction: float | None = None,
        schema: str | None = None,
    ) -> dict[str, int]:
        """Add the files of what happened after the last generate/advance, up to ``as_of``."""
        folder = folder_of(url)
        manifest = _load_manifest(folder, self.pipeline)
        run = Run(
            self._target(url),
            check_seed(seed),
            normalise_as_of(as_of),
            scale=float(manifest["scale"]),
            new_fraction=check_fraction(
                "new_fraction", self.new_fraction if new_fraction is None else new_fraction
            ),
            update_fraction=check_fraction(
                "update_fraction", self.update_fraction if update_fraction is None else update_fraction
            ),
        )
        since = datetime.fromisoformat(manifest["as_of"])
        if run.as_of <= since:
            raise ValueError(
                f"as_of {run.as_of:%Y-%m-%d %H:%M:%S} is not after the newest timestamp already in the "
                f"source ({since:%Y-%m-%d %H:%M:%S}); advance only moves forward in time: pass a later "
                "as_of (or regenerate the source)"
            )
        con = duck.connect()
        try:
            counts = self.write_changes(con, folder, run, since)
        finally:
            con.close()
        _save_manifest(folder, run)
        return counts

    def _target(self, url: str) -> Target:
        # Files have no database target; Run carries the URL for messages only.
        return Target("files", url, str(folder_of(url)), None, self.pipeline)


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

"""A Celery worker or the one-shot runner parses each dbt project once (transform.preparse); its
dbt steps use that manifest only while the project is unchanged. The parse is kept on disk
(transform.parse_folder), so the next process reuses it, and a cold run starts it ahead in a
background process (transform.parse_ahead)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headwater import transform
from headwater.settings import Settings
from headwater.spec import PipelineSpec, load_spec_from

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "tiny_shop"


@pytest.fixture
def shop(hw_home: Path, tmp_path: Path, monkeypatch) -> tuple[Path, PipelineSpec, Settings]:
    """A copy of the tiny_shop example (its files may be edited), its spec and settings, and
    no manifest kept in this process yet."""
    folder = tmp_path / "tiny_shop"
    shutil.copytree(EXAMPLE, folder)
    monkeypatch.setattr(transform, "_PREPARSED", {})
    return folder, load_spec_from(folder), Settings.from_env()


def _assert_kept_manifest(spec: PipelineSpec, settings: Settings):
    manifest = transform._preparsed(spec, settings)
    assert manifest is not None and any(n.startswith("model.") for n in manifest.nodes)
    return manifest


def test_a_preparsed_manifest_is_used_until_the_project_changes(shop, monkeypatch):
    folder, spec, settings = shop
    assert transform.preparse(spec, settings)
    manifest = _assert_kept_manifest(spec, settings)
    # Kept beside the runs' target folder, which the parse did not write.
    kept = transform.parse_folder(spec, settings)
    assert (kept / "partial_parse.msgpack").is_file()
    assert not transform.dbt_paths(spec, settings)["target"].exists()

    import dbt.cli.main as dbt_main  # invoke_dbt imports dbtRunner from here at each call

    seen = []

    class Recording(dbt_main.dbtRunner):
        def __init__(self, manifest=None, **kw):
            seen.append(manifest)
            super().__init__(manifest=manifest, **kw)

    monkeypatch.setattr(dbt_main, "dbtRunner", Recording)
    transform.invoke_dbt(spec, settings, ["ls", "--resource-type", "model"])
    assert seen[-1] is manifest

    model = next((folder / "dbt" / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    assert transform._preparsed(spec, settings) is None  # edited: the step parses again
    transform.invoke_dbt(spec, settings, ["ls", "--resource-type", "model"])
    assert seen[-1] is None


def _dbt_log(spec, settings) -> str:
    log = transform.dbt_paths(spec, settings)["logs"] / "dbt.log"
    return log.read_text() if log.exists() else ""


def test_a_parse_ahead_is_reused_by_the_next_process_and_redone_when_the_project_changes(shop):
    from headwater.transform_gate import project_fingerprint

    folder, spec, settings = shop
    kept = transform.parse_folder(spec, settings)

    ahead = transform.parse_ahead(spec, settings)
    assert ahead is not None, "nothing kept yet: the project is parsed in the background"
    assert ahead.wait(timeout=120) == 0
    assert (kept / transform.FINGERPRINT_FILE).read_text() == project_fingerprint(spec, settings)
    assert transform.parse_ahead(spec, settings) is None, "an up-to-date parse is kept: no second one"

    # This process (a runner's first dbt step) reuses it: dbt finds nothing changed.
    before = len(_dbt_log(spec, settings))
    assert transform.preparse(spec, settings)
    assert "Nothing changed, skipping partial parsing" in _dbt_log(spec, settings)[before:]
    _assert_kept_manifest(spec, settings)

    model = next((folder / "dbt" / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited\n")
    again = transform.parse_ahead(spec, settings)
    assert again is not None, "the project changed: parsed ahead again"
    assert again.wait(timeout=120) == 0
    assert (kept / transform.FINGERPRINT_FILE).read_text() == project_fingerprint(spec, settings)


def test_a_parse_held_up_by_a_stuck_parser_goes_apart_and_still_serves_the_run(shop, monkeypatch):
    import fcntl

    folder, spec, settings = shop
    monkeypatch.setattr(transform, "PARSE_LOCK_WAIT_SECONDS", 0.5)
    kept = transform.parse_folder(spec, settings)
    kept.mkdir(parents=True)
    with open(kept / ".lock", "a") as held:  # another process's parse that never ends
        fcntl.flock(held, fcntl.LOCK_EX)
        assert transform.preparse(spec, settings)
    _assert_kept_manifest(spec, settings)
    assert not (kept / "partial_parse.msgpack").exists(), "the held folder was left alone"

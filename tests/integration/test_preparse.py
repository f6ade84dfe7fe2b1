"""A Celery worker parses each dbt project once (transform.preparse); its forked dbt steps use
that manifest only while the project is unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

from headwater import transform
from headwater.settings import Settings
from headwater.spec import load_spec_from

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "tiny_shop"


def test_a_preparsed_manifest_is_used_until_the_project_changes(hw_home: Path, tmp_path: Path, monkeypatch):
    folder = tmp_path / "tiny_shop"
    shutil.copytree(EXAMPLE, folder)
    spec = load_spec_from(folder)
    settings = Settings.from_env()
    monkeypatch.setattr(transform, "_PREPARSED", {})
    assert transform.preparse(spec, settings)
    manifest = transform._preparsed(spec, settings)
    assert manifest is not None and any(n.startswith("model.") for n in manifest.nodes)
    # The scratch target is gone; the pipeline's own target folder was not written.
    assert not list(Path("/tmp").glob("hw-preparse-tiny_shop-*"))

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

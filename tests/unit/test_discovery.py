"""Pipelines are found on disk (bundled + HEADWATER_PIPELINE_PATHS) and sources addressed by name."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from headwater import discovery
from headwater.errors import SpecError
from headwater.settings import Settings, source_url_variable

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "tiny_shop"


@pytest.fixture
def team_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside the package holding the tiny_shop example, on HEADWATER_PIPELINE_PATHS."""
    repo = tmp_path / "team"
    shutil.copytree(EXAMPLE, repo / "tiny_shop")
    monkeypatch.setenv("HEADWATER_PIPELINE_PATHS", str(repo))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "hw"))
    for var in [v for v in __import__("os").environ if v.startswith("HEADWATER_SOURCE_")]:
        monkeypatch.delenv(var)
    return repo


def test_bundled_pipelines_are_found_without_any_setting(monkeypatch):
    monkeypatch.delenv("HEADWATER_PIPELINE_PATHS", raising=False)
    bundled = {p.parent.name for p in discovery.bundled_root().glob("*/pipeline.yaml")}
    assert set(discovery.available_pipelines()) == bundled and bundled
    assert discovery.external_pipelines() == []


def test_an_outside_folder_adds_its_pipelines(team_repo: Path):
    assert "tiny_shop" in discovery.available_pipelines()
    assert discovery.external_pipelines() == ["tiny_shop"]
    spec = discovery.load_spec("tiny_shop")
    assert spec.folder == team_repo / "tiny_shop" and not discovery.is_bundled(spec)
    assert spec.dbt_project_dir == team_repo / "tiny_shop" / "dbt"


def test_a_path_may_also_be_one_pipeline_folder(team_repo: Path, monkeypatch):
    monkeypatch.setenv("HEADWATER_PIPELINE_PATHS", str(team_repo / "tiny_shop"))
    assert discovery.external_pipelines() == ["tiny_shop"]


def test_the_generator_is_the_folders_file_loaded_by_path(team_repo: Path, tmp_path: Path):
    gen = discovery.generator(discovery.load_spec("tiny_shop"))
    assert Path(gen.__file__) == team_repo / "tiny_shop" / "generator.py"
    counts = gen.generate(f"sqlite:///{tmp_path / 'shop.sqlite'}", scale=0.5, seed=3)
    assert counts == {"customers": 10, "orders": 50}
    assert discovery.pipeline_module(discovery.load_spec("tiny_shop"), "dashboard") is None


def test_two_pipelines_with_one_name_are_refused(team_repo: Path, tmp_path: Path, monkeypatch):
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other / "tiny_shop")
    monkeypatch.setenv("HEADWATER_PIPELINE_PATHS", f"{team_repo}:{other}")
    with pytest.raises(SpecError, match="two pipelines named 'tiny_shop'"):
        discovery.available_pipelines()


def test_a_folder_whose_spec_names_another_pipeline_is_refused(team_repo: Path):
    renamed = team_repo / "tiny_store"
    (team_repo / "tiny_shop").rename(renamed)
    with pytest.raises(SpecError, match="must match its folder's name 'tiny_store'"):
        discovery.load_spec("tiny_store")


def test_a_missing_extra_folder_is_named(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HEADWATER_PIPELINE_PATHS", str(tmp_path / "nowhere"))
    with pytest.raises(SpecError, match="nowhere is not a folder"):
        discovery.available_pipelines()


def test_each_pipeline_source_has_its_own_url_setting(team_repo: Path, monkeypatch):
    shop = discovery.load_spec("tiny_shop")
    flights = discovery.load_spec("flights")
    home = Settings.from_env().home
    assert Settings.from_env().source_url_for(shop) == f"sqlite:///{home}/sources/tiny_shop.sqlite"
    monkeypatch.setenv(source_url_variable("tiny_shop", "main"), "postgresql://u:pw1@db1/shop")
    monkeypatch.setenv("HEADWATER_SOURCE_FLIGHTS_MAIN_URL", "postgresql://u:pw2@db2/air")
    settings = Settings.from_env()
    assert source_url_variable("tiny_shop", "main") == "HEADWATER_SOURCE_TINY_SHOP_MAIN_URL"
    assert settings.source_url_for(shop) == "postgresql://u:pw1@db1/shop"
    assert settings.source_url_for(flights) == "postgresql://u:pw2@db2/air"  # two databases, one deployment
    described = str(settings.describe())
    assert "pw1" not in described and "pw2" not in described and "db1" in described


def test_the_old_source_variable_still_works_with_a_warning_and_loses_to_the_new(
    team_repo: Path, monkeypatch, caplog
):
    shop = discovery.load_spec("tiny_shop")
    monkeypatch.setenv("HEADWATER_SOURCE_URL", "postgresql://old@db/legacy")
    with caplog.at_level(logging.WARNING, logger="headwater.settings"):
        assert Settings.from_env().source_url_for(shop) == "postgresql://old@db/legacy"
    assert "HEADWATER_SOURCE_TINY_SHOP_MAIN_URL" in caplog.text and "deprecated" in caplog.text
    monkeypatch.setenv("HEADWATER_SOURCE_TINY_SHOP_MAIN_URL", "postgresql://new@db/shop")
    assert Settings.from_env().source_url_for(shop) == "postgresql://new@db/shop"


def test_a_spec_may_no_longer_name_a_generator_module():
    from headwater.spec import parse_spec

    spec = {
        "name": "x",
        "source": {"kind": "sql", "url": "sqlite:///x", "generator": "some.module"},
        "tables": [{"name": "t", "primary_key": "id"}],
    }
    with pytest.raises(SpecError, match="unknown field"):
        parse_spec(spec)


def test_settings_read_every_documented_variable(monkeypatch, tmp_path: Path):
    """Each variable in the README's configuration table reaches its typed field."""
    values = {
        "HEADWATER_HOME": str(tmp_path),
        "HEADWATER_RETRIES": "0",
        "HEADWATER_DUCKDB_MEMORY_LIMIT": "1GB",
        "HEADWATER_HTTP_ATTEMPTS": "3",
        "HEADWATER_DIGEST_SCHEDULE": "0 6 * * *",
        "HEADWATER_SOURCE_FX_TOKEN": "tok-123",
        "AWS_REGION": "eu-west-3",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    s = Settings.from_env()
    assert (s.retries, s.duckdb_memory_limit, s.http_attempts, s.digest_schedule) == (
        0,
        "1GB",
        3,
        "0 6 * * *",
    )
    assert s.source_token("fx") == "tok-123" and s.s3_region == "eu-west-3"
    assert "tok-123" in Settings.secret_values() and "tok-123" not in repr(s)


def test_every_settings_variable_is_in_the_readme_table():
    """The variables named by Settings' field docstrings are the README's configuration rows."""
    import re

    import headwater.settings

    root = Path(__file__).resolve().parents[2]
    source = Path(headwater.settings.__file__).read_text()
    documented = set(re.findall(r'^    """((?:HEADWATER|AIRFLOW|AWS)_[A-Z0-9_<>]+)', source, re.M))
    assert len(documented) >= 20, documented
    readme = (root / "README.md").read_text()
    for var in documented:
        assert f"`{var}`" in readme or var.startswith("AWS_") and var in readme, var

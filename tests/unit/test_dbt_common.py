"""headwater_common, the shared dbt package: one env_var()-only profile, one copy of each
macro and generic test, and projects that declare the package instead of copying it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from headwater.settings import Settings
from headwater.spec import available_pipelines, load_spec
from headwater.transform import DBT_COMMON_DIR, dbt_environment, dbt_paths, install_dbt_packages

PROFILE = DBT_COMMON_DIR / "profiles.yml"
# A whole value that is one env_var() call without a default, optionally cast to a number.
PLACEHOLDER = re.compile(r"\{\{\s*env_var\('([A-Z0-9_]+)'\)\s*(\|\s*as_number\s*)?\}\}")
DBT_PIPELINES = [p for p in available_pipelines() if load_spec(p).dbt_project_dir is not None]


def _leaves(node, path="") -> list[tuple[str, object]]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, f"{path}.{k}")]
    if isinstance(node, list):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, node)]


def _profile_variables() -> set[str]:
    return set(re.findall(r"env_var\('([A-Z0-9_]+)'", PROFILE.read_text()))


def test_the_profile_holds_only_env_var_placeholders():
    leaves = _leaves(yaml.safe_load(PROFILE.read_text()))
    assert len(leaves) > 10
    not_placeholders = [(p, v) for p, v in leaves if not (isinstance(v, str) and PLACEHOLDER.fullmatch(v))]
    assert not_placeholders == []
    outputs = yaml.safe_load(PROFILE.read_text())["headwater"]["outputs"]
    assert set(outputs) == {"dev", "pro"}
    assert outputs["dev"]["schema"] != outputs["pro"]["schema"]


@pytest.mark.parametrize(
    "url", ["duckdb:///{home}/w.duckdb", "postgresql://loader:s3cret@db.example:6432/wh"]
)
@pytest.mark.parametrize("target", ["dev", "pro"])
def test_headwater_sets_every_variable_the_profile_reads(tmp_path: Path, url: str, target: str):
    settings = Settings(tmp_path, url.format(home=tmp_path), str(tmp_path / "lake"), None, tmp_path, target)
    env = dbt_environment(load_spec("flights"), settings)
    assert _profile_variables() <= set(env)
    assert env["HEADWATER_DBT_TARGET"] == target
    assert env["HEADWATER_DBT_ADAPTER"] == url.split(":")[0].replace("postgresql", "postgres")
    assert {env["HEADWATER_DBT_SCHEMA_PRO"], env["HEADWATER_DBT_SCHEMA_DEV"]} == {"flights", "flights_dev"}
    if url.startswith("postgresql"):
        assert (env["HEADWATER_PG_HOST"], env["HEADWATER_PG_PORT"], env["HEADWATER_PG_DBNAME"]) == (
            "db.example",
            "6432",
            "wh",
        )
        assert env["HEADWATER_PG_PASSWORD"] == "s3cret"  # to dbt's process only, never a file
    assert "s3cret" not in PROFILE.read_text()


def test_an_unknown_dbt_target_is_refused(monkeypatch: pytest.MonkeyPatch):
    from headwater.errors import ConfigError

    monkeypatch.setenv("HEADWATER_DBT_TARGET", "staging")
    with pytest.raises(ConfigError, match="HEADWATER_DBT_TARGET"):
        Settings.from_env()
    monkeypatch.delenv("HEADWATER_DBT_TARGET")
    assert Settings.from_env().dbt_target == "pro"


def _defined(kind: str, folder: Path) -> list[str]:
    """Names of the macros ({% macro %}) or generic tests ({% test %}) defined below folder."""
    pattern = re.compile(r"\{%-?\s*" + kind + r"\s+(\w+)\s*\(")
    return [name for f in sorted(folder.rglob("*.sql")) for name in pattern.findall(f.read_text())]


def test_each_shared_macro_and_generic_test_is_defined_once():
    macros = _defined("macro", DBT_COMMON_DIR)
    generic = _defined("test", DBT_COMMON_DIR)
    assert len(macros) == len(set(macros)) and len(generic) == len(set(generic))
    assert {"within_sigma", "volume_spike", "relationships_composite", "expression_is_true"} <= set(generic)
    assert {"matches_pattern", "date_dimension", "time_dimension", "incremental_lookback"} <= set(
        macros + generic
    )
    for name in DBT_PIPELINES:
        project = load_spec(name).dbt_project_dir
        assert project is not None
        copied = set(_defined("macro", project) + _defined("test", project)) & set(macros + generic)
        assert copied == set(), f"{name} redefines headwater_common's {sorted(copied)}"
        assert not (project / "profiles.yml").exists(), f"{name} has its own profile"


@pytest.mark.parametrize("name", DBT_PIPELINES)
def test_each_project_declares_the_local_package_and_installs_it_outside_the_tree(tmp_path: Path, name: str):
    spec = load_spec(name)
    project = spec.dbt_project_dir
    assert project is not None
    packages = yaml.safe_load((project / "packages.yml").read_text())["packages"]
    assert packages == [{"local": "{{ env_var('HEADWATER_DBT_COMMON') }}"}]
    assert "env_var('HEADWATER_DBT_PACKAGES')" in (project / "dbt_project.yml").read_text()
    settings = Settings(tmp_path, f"duckdb:///{tmp_path}/w.duckdb", str(tmp_path / "lake"), None, tmp_path)
    link = install_dbt_packages(spec, settings)
    assert link.parent == dbt_paths(spec, settings)["packages"]
    assert link.is_relative_to(tmp_path)
    assert (link / "dbt_project.yml").read_text() == (DBT_COMMON_DIR / "dbt_project.yml").read_text()
    assert install_dbt_packages(spec, settings) == link  # idempotent
    assert dbt_environment(spec, settings)["HEADWATER_DBT_COMMON"] == str(DBT_COMMON_DIR)

"""Run options: params over Airflow Variables over the spec; the example files import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.errors import SpecError
from headwater.orchestration.options import run_options
from headwater.spec import load_spec

SPEC = load_spec("flights")
DEPLOY = Path(__file__).parents[2] / "deploy" / "airflow"


def test_defaults_are_incremental_and_every_table():
    assert run_options(SPEC, {}, {}) == (False, None)


def test_variables_choose_mode_and_tables_and_params_win():
    variables = {"headwater_flights_mode": "full", "headwater_flights_tables": '["flights", "airports"]'}
    assert run_options(SPEC, {}, variables) == (True, ["flights", "airports"])
    assert run_options(SPEC, {"tables": ["bookings"]}, variables) == (True, ["bookings"])
    assert run_options(SPEC, {"full_refresh": True}, {}) == (True, None)
    assert run_options(SPEC, {}, {"headwater_flights_tables": "flights, seats"}) == (
        False,
        ["flights", "seats"],
    )


def test_an_empty_table_list_means_every_table_as_the_example_variables_file_says():
    # `airflow variables import` stores a JSON list as its text: "[]" must not mean "no table".
    assert run_options(SPEC, {}, {"headwater_flights_tables": "[]"}) == (False, None)
    assert run_options(SPEC, {"tables": []}, {"headwater_flights_tables": ""}) == (False, None)


def test_bad_values_are_refused_with_the_name_of_what_is_wrong():
    with pytest.raises(SpecError, match="headwater_flights_mode='sometimes'"):
        run_options(SPEC, {}, {"headwater_flights_mode": "sometimes"})
    with pytest.raises(SpecError, match=r"unknown table\(s\) \['planes'\]"):
        run_options(SPEC, {"tables": ["planes"]}, {})


def test_the_example_files_import_with_the_airflow_cli(tmp_path):
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    for kind, name in (("variables", "variables.example.json"), ("connections", "connections.example.json")):
        proc = subprocess.run(
            [*airflow, kind, "import", str(DEPLOY / name)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
    got = subprocess.run(
        [*airflow, "variables", "get", "headwater_flights_mode"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert got.stdout.strip().splitlines()[-1] == "incremental"
    # Everything reads back as the files say; the example files hold placeholders, never a secret.
    exported = tmp_path / "variables.json"
    subprocess.run([*airflow, "variables", "export", str(exported)], env=env, check=True, timeout=120)
    assert json.loads(exported.read_text()) == json.loads((DEPLOY / "variables.example.json").read_text())
    connections = json.loads((DEPLOY / "connections.example.json").read_text())
    assert all(c["password"].startswith("REPLACE_WITH_") for c in connections.values())
    exported = tmp_path / "connections.json"
    subprocess.run([*airflow, "connections", "export", str(exported)], env=env, check=True, timeout=120)
    back = json.loads(exported.read_text())
    for conn_id, fields in connections.items():
        assert {k: back[conn_id][k] for k in fields} == fields, conn_id

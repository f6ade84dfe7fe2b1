"""The README's "Add a pipeline" steps, followed literally on a pipeline outside the package.

The example pipeline (examples/pipelines/tiny_shop) is copied to a temporary folder that is
not inside Headwater, HEADWATER_PIPELINE_PATHS points at it, and the README's own commands run
as a user would type them (the `headwater` console script, Airflow in-process). The mart is
then compared with figures computed from the SQLite source with sqlite3.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "pipelines" / "tiny_shop"
PATHS_VAR = "HEADWATER_PIPELINE_PATHS"

pytestmark = pytest.mark.e2e


def readme_steps() -> list[str]:
    """The shell lines between the README's add-a-pipeline markers (comments dropped)."""
    text = (REPO / "README.md").read_text()
    block = re.search(
        r"<!-- add-a-pipeline:begin -->\s*```bash\n(.*?)```\s*<!-- add-a-pipeline:end -->", text, re.S
    )
    assert block, "README.md lost its add-a-pipeline section"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def expected_orders(source: Path) -> dict[int, tuple[str, int, Decimal]]:
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        out: dict[int, list] = {
            cid: [name, 0, Decimal(0)] for cid, name in con.execute("SELECT customer_id, name FROM customers")
        }
        for cid, amount in con.execute("SELECT customer_id, CAST(amount AS TEXT) FROM orders"):
            out[cid][1] += 1
            out[cid][2] += Decimal(amount)
    finally:
        con.close()
    return {cid: (name, n, total.quantize(Decimal("0.01"))) for cid, (name, n, total) in out.items()}


def test_the_readme_adds_a_pipeline_from_an_outside_folder(tmp_path: Path):
    team_repo = tmp_path / "team-repo"  # not under src/headwater: a team's own repository
    shutil.copytree(EXAMPLE, team_repo / "tiny_shop")
    home = tmp_path / "hw"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "AIRFLOW"))}
    env["HEADWATER_HOME"] = str(home)
    env["HEADWATER_KEEP_WARM_SECONDS"] = "0"  # no Airflow left running after the test
    headwater = str(Path(sys.executable).parent / "headwater")
    outputs = []
    for step in readme_steps():
        words = shlex.split(step)
        if words[0] == "export":
            name, _, _value = words[1].partition("=")
            assert name == PATHS_VAR, f"unexpected README step: {step}"
            env[name] = str(team_repo)  # the README's folder, here the temporary copy
            continue
        assert words[0] == "headwater", f"unexpected README step: {step}"
        proc = subprocess.run(
            [headwater, *words[1:]], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{step} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        outputs.append(proc.stdout)
    listed, _generated, ran = outputs
    assert "tiny_shop:" in listed and "travel_bookings:" in listed  # bundled and outside, together
    assert "DAG run" in ran and "success" in ran

    expected = expected_orders(home / "sources" / "tiny_shop.sqlite")
    assert len(expected) == 20 and sum(n for _, n, _ in expected.values()) == 100  # scale 1
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        got = {
            cid: (name, n, Decimal(str(total)).quantize(Decimal("0.01")))
            for cid, name, n, total in con.execute(
                "SELECT customer_id, name, orders, amount FROM tiny_shop_core.fct_customer_orders"
            ).fetchall()
        }
        raw = con.execute("SELECT count(*) FROM raw_tiny_shop.orders").fetchone()
    finally:
        con.close()
    assert got == expected
    assert raw == (100,)


def test_the_external_dag_file_builds_one_dag_per_outside_pipeline_without_a_database(tmp_path: Path):
    """dags/external/pipelines.py: parsed with no database reachable, as Airflow parses it."""
    team_repo = tmp_path / "team-repo"
    shutil.copytree(EXAMPLE, team_repo / "tiny_shop")
    probe = r"""
import importlib.util, json, socket, sqlite3, sys
def forbidden(*a, **k):
    raise AssertionError("database or network access while parsing a DAG file")
sqlite3.connect = forbidden
socket.socket.connect = forbidden
import duckdb, psycopg
duckdb.connect = psycopg.connect = forbidden
spec = importlib.util.spec_from_file_location("dagfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
dags = [v for v in vars(module).values() if type(v).__name__ == "DAG"]
print(json.dumps(sorted([d.dag_id, len(d.tasks)] for d in dags)))
"""
    dag_file = REPO / "dags" / "external" / "pipelines.py"
    assert "airflow" in dag_file.read_text().lower(), "Airflow's safe mode skips files without 'airflow'"
    base = {"AIRFLOW_HOME": str(tmp_path), "HEADWATER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    found = {}
    for label, extra in (("with", {PATHS_VAR: str(team_repo)}), ("without", {})):
        proc = subprocess.run(
            [sys.executable, "-c", probe, str(dag_file)],
            env={**base, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        found[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [dag_id for dag_id, _ in found["with"]] == ["tiny_shop"] and found["with"][0][1] > 0
    assert found["without"] == []

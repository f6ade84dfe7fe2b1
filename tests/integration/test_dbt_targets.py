"""The dbt target (dev/pro) is one setting, independent of the warehouse adapter: on DuckDB and
on Postgres, pro builds the pipeline's usual schemas, dev builds its own, and neither touches
the other's relations or artifacts. The expected rows come from the seed CSV itself."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest

from headwater.settings import Settings
from headwater.spec import load_spec
from headwater.transform import run_step
from headwater.warehouse import open_warehouse

SPEC = load_spec("flights")
SEED = "fare_conditions"


def _seed_csv() -> list[tuple[str, int]]:
    assert SPEC.dbt_project_dir is not None
    with (SPEC.dbt_project_dir / "seeds" / f"{SEED}.csv").open() as f:
        return sorted((r["fare_conditions"], int(r["fare_rank"])) for r in csv.DictReader(f))


def _rows(settings: Settings, schema: str) -> list[tuple[str, int]]:
    wh = open_warehouse(settings.warehouse_url)
    return sorted(wh.query(f"SELECT fare_conditions, fare_rank FROM wh.{schema}.{SEED}"))


def _add_marker_row(settings: Settings, schema: str) -> None:
    wh = open_warehouse(settings.warehouse_url)
    with wh.session() as con:
        con.execute(f"INSERT INTO wh.{schema}.{SEED} (fare_conditions, fare_rank) VALUES ('Marker', 99)")


def _seed_schemas(target_dir: Path) -> set[str]:
    nodes = json.loads((target_dir / "manifest.json").read_text())["nodes"].values()
    return {n["schema"] for n in nodes if n["resource_type"] == "seed"}


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, hw_home: Path) -> Settings:
    base = Settings.from_env()
    if request.param == "postgres":
        base = replace(base, warehouse_url=request.getfixturevalue("pg_database"))
    return base


def test_dev_and_pro_build_separate_schemas_and_leave_each_other_alone(settings: Settings):
    pro, dev = replace(settings, dbt_target="pro"), replace(settings, dbt_target="dev")
    expected = _seed_csv()

    run_step(SPEC, "seed", pro, run_id="pro_1")
    assert _rows(pro, "flights_seeds") == expected  # pro keeps today's relation names
    _add_marker_row(pro, "flights_seeds")

    run_step(SPEC, "seed", dev, run_id="dev_1")
    assert _rows(dev, "flights_dev_seeds") == expected
    # dev did not rebuild pro's seed: the row only pro's table has is still there
    assert _rows(pro, "flights_seeds") == sorted([*expected, ("Marker", 99)])

    _add_marker_row(dev, "flights_dev_seeds")
    run_step(SPEC, "seed", pro, run_id="pro_2")
    assert _rows(pro, "flights_seeds") == expected
    assert _rows(dev, "flights_dev_seeds") == sorted([*expected, ("Marker", 99)])

    # Each target keeps its own artifacts; pro's stay where the dashboards read them.
    work = settings.home / "dbt" / "flights"
    assert _seed_schemas(work / "target") == {"flights_seeds"}
    assert _seed_schemas(work / "target_dev") == {"flights_dev_seeds"}

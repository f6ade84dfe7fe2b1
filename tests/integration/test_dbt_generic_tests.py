"""headwater_common's generic tests, run by dbt on DuckDB and Postgres against seeded data.

A throwaway dbt project (the way a pipeline's project uses the package) seeds deterministic
data with planted faults; every test's failing-row count is compared with the count this file
computes from the same rows in Python.
"""

from __future__ import annotations

import csv
import random
import statistics
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from headwater.settings import Settings
from headwater.spec import PipelineSpec
from headwater.transform import invoke_dbt, node_results

PROJECT = "generic_tests"
RNG_SEED = 20261201


def _write_csv(path: Path, header: list[str], rows: list[tuple]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def make_data(rng: random.Random) -> dict[str, list[tuple]]:
    """Rows with faults planted at random places (None is SQL null)."""
    amounts = []
    for i in range(300):
        group = "ab"[i % 2]
        value = round(rng.gauss(100 if group == "a" else 500, 10), 2)
        if rng.random() < 0.02:
            value = round(value * rng.choice([3, -2]), 2)  # outliers, some negative
        amounts.append((i, group, None if i % 37 == 0 else value))
    codes = [(i, rng.choice(["EUR", "USD", "eur", "EU", "EURO", "GBP", None])) for i in range(60)]
    start = date(2026, 1, 1)
    events = []
    for day in range(40):
        n = rng.randint(8, 12) * (rng.choice([1, 1, 1, 3]) if day > 3 else 1)
        events += [(len(events), start + timedelta(days=day)) for _ in range(n)]
    parents = [(a, b) for a in range(8) for b in range(4)]
    children = [(i, rng.randint(0, 6), rng.choice([0, 1, 2, 3, 4, None])) for i in range(80)]
    spans = []
    for i in range(50):
        begin = start + timedelta(days=rng.randint(0, 30))
        spans.append((i, begin, begin + timedelta(days=rng.choice([-1, 0, 1, 2, 3]))))
    return {
        "amounts": amounts,
        "codes": codes,
        "events": events,
        "parents": parents,
        "children": children,
        "spans": spans,
    }


def expected_failures(data: dict[str, list[tuple]]) -> dict[str, int]:
    """Each test's failing rows, computed in Python from the seeded rows."""
    amounts = data["amounts"]
    outliers = 0
    for group in "ab":
        values = [v for _, g, v in amounts if g == group and v is not None]
        mean, sd = statistics.mean(values), statistics.stdev(values)
        outliers += sum(1 for v in values if sd > 0 and abs(v - mean) > 2 * sd)
    per_day = Counter(d for _, d in data["events"])
    first = min(per_day)
    spikes = 0
    for day, count in per_day.items():
        window = [per_day.get(day - timedelta(days=k), 0) for k in range(1, 8)]
        if day >= first + timedelta(days=7) and count > 1.5 * (sum(window) / 7) and count >= 5:
            spikes += 1
    parents = set(data["parents"])
    child_keys = [(a, b) for _, a, b in data["children"]]
    orphans = [(a, b) for a, b in child_keys if b is not None and (a, b) not in parents]
    codes = [c for _, c in data["codes"] if c is not None]
    spans = data["spans"]
    return {
        "amount_within_2_sigma": outliers,
        "events_volume_spike": spikes,
        "children_relationships_composite": len(orphans),
        "amount_expression_is_true": sum(1 for _, _, v in amounts if v is None or v < 0),
        "amount_expression_null_passes": sum(1 for _, _, v in amounts if v is not None and v < 0),
        "code_matches_pattern": sum(1 for c in codes if not (len(c) == 3 and c.isupper())),
        "code_is_currency_code": sum(1 for c in codes if not (len(c) == 3 and c.isupper())),
        "spans_ordered": sum(1 for _, b, e in spans if b > e),
        "spans_ordered_strict": sum(1 for _, b, e in spans if b >= e),
        "amount_positive": sum(1 for _, _, v in amounts if v is not None and v <= 0),
        "parents_have_children": sum(1 for a, _ in parents if a not in {a for a, _ in child_keys}),
        "children_unique_pair": sum(1 for n in Counter(child_keys).values() if n > 1),
    }


SCHEMA_YML = """
version: 2
seeds:
  - name: amounts
    config: {column_types: {id: integer, grp: varchar, amount: double precision}}
    columns:
      - name: amount
        data_tests:
          - headwater_common.within_sigma:
              name: amount_within_2_sigma
              arguments: {sigmas: 2, group_by: [grp]}
          - headwater_common.positive:
              name: amount_positive
    data_tests:
      - headwater_common.expression_is_true:
          name: amount_expression_is_true
          arguments: {expression: "amount >= 0"}
      - headwater_common.expression_is_true:
          name: amount_expression_null_passes
          arguments: {expression: "amount >= 0", null_passes: true}
  - name: codes
    config: {column_types: {id: integer, code: varchar}}
    columns:
      - name: code
        data_tests:
          - headwater_common.matches_pattern:
              name: code_matches_pattern
              arguments: {pattern: "[A-Z]{3}"}
          - headwater_common.is_currency_code:
              name: code_is_currency_code
  - name: events
    config: {column_types: {id: integer, event_day: date}}
    columns:
      - name: event_day
        data_tests:
          - headwater_common.volume_spike:
              name: events_volume_spike
              arguments: {factor: 1.5, window_days: 7, min_count: 5}
  - name: parents
    config: {column_types: {a: integer, b: integer}}
    columns:
      - name: a
        data_tests:
          - headwater_common.has_related_rows:
              name: parents_have_children
              arguments: {to: ref('children'), field: a}
  - name: children
    config: {column_types: {id: integer, a: integer, b: integer}}
    data_tests:
      - headwater_common.relationships_composite:
          name: children_relationships_composite
          arguments: {columns: [a, b], to: ref('parents'), fields: [a, b]}
      - headwater_common.unique_combination_of_columns:
          name: children_unique_pair
          arguments: {combination: [a, b]}
  - name: spans
    config: {column_types: {id: integer, begins: date, ends: date}}
    data_tests:
      - headwater_common.ordered_timestamps:
          name: spans_ordered
          arguments: {earlier: begins, later: ends}
      - headwater_common.ordered_timestamps:
          name: spans_ordered_strict
          arguments: {earlier: begins, later: ends, strict: true}
"""

HEADERS = {
    "amounts": ["id", "grp", "amount"],
    "codes": ["id", "code"],
    "events": ["id", "event_day"],
    "parents": ["a", "b"],
    "children": ["id", "a", "b"],
    "spans": ["id", "begins", "ends"],
}


def make_project(folder: Path, data: dict[str, list[tuple]]) -> PipelineSpec:
    """A dbt project that uses headwater_common exactly as the pipelines' projects do."""
    project = folder / "dbt"
    (project / "seeds").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        f"name: {PROJECT}\nversion: '1.0.0'\nprofile: headwater\nseed-paths: [seeds]\n"
        "packages-install-path: \"{{ env_var('HEADWATER_DBT_PACKAGES') }}\"\n"
    )
    (project / "packages.yml").write_text("packages:\n  - local: \"{{ env_var('HEADWATER_DBT_COMMON') }}\"\n")
    (project / "seeds" / "_seeds.yml").write_text(SCHEMA_YML)
    for name, rows in data.items():
        _write_csv(project / "seeds" / f"{name}.csv", HEADERS[name], rows)
    return PipelineSpec(name=PROJECT, description="", sources=(), tables=(), dbt_project="dbt", folder=folder)


def dbt_build(spec: PipelineSpec, settings: Settings) -> dict[str, int | None]:
    """Failing rows per test name, from dbt's own results."""
    result = invoke_dbt(spec, settings, ["build"])
    assert result.exception is None, result.exception
    nodes = node_results(result.result)
    assert {n["status"] for n in nodes if n["resource_type"] == "seed"} == {"success"}
    prefix = f"test.{PROJECT}."
    return {
        n["unique_id"][len(prefix) :].rsplit(".", 1)[0]: n["failures"]
        for n in nodes
        if n["unique_id"].startswith(prefix)
    }


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request, hw_home: Path) -> Settings:
    url = f"duckdb:///{hw_home}/warehouse.duckdb"
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
    return Settings(hw_home, url, str(hw_home / "lake"), None, hw_home)


def test_every_generic_test_fails_exactly_on_the_planted_rows(settings: Settings, tmp_path: Path):
    data = make_data(random.Random(RNG_SEED))
    expected = expected_failures(data)
    # The data must exercise every test, or equality would prove nothing.
    assert all(n > 0 for name, n in expected.items()), expected
    assert dbt_build(make_project(tmp_path, data), settings) == expected

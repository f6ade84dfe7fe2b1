"""How a one-shot run of several DAGs passes its options on and sums up (no Airflow needed)."""

from __future__ import annotations

import copy
from pathlib import Path

from headwater.orchestration.local import RunOutcome
from headwater.orchestration.pipeline_run import combined, conf_for
from headwater.spec import parse_spec
from tests.unit.test_dag_shapes_spec import BASE


def test_each_dag_gets_only_the_options_it_has_params_for():
    ingest, warehouse = parse_spec(copy.deepcopy(BASE)).dags
    conf = {"full_refresh": True, "tables": ["orders"], "run_seed": False, "run_test_all": False}
    conf["force_transform"] = True
    assert conf_for(ingest, conf) == {"full_refresh": True, "tables": ["orders"]}
    assert conf_for(warehouse, conf) == {
        "full_refresh": True,
        "force_transform": True,
        "run_seed": False,
        "run_test_all": False,
    }


def _outcome(dag_id: str, state: str, tasks: dict[str, str]) -> RunOutcome:
    return RunOutcome(
        dag_id, f"manual__{dag_id}", state, 0 if state == "success" else 1, 2.0, Path(dag_id), tasks
    )


def test_one_dag_is_its_own_summary_and_several_are_merged_with_dag_prefixes():
    one = _outcome("shop", "success", {"plan": "success", "report_run": "success"})
    assert combined([one]) is one
    ingest = _outcome("shop_ingest", "success", {"ingest_app.plan": "success", "report_run": "success"})
    warehouse = _outcome(
        "shop_warehouse", "failed", {"regular_run.dbt_bronze": "failed", "report_run": "failed"}
    )
    merged = combined([ingest, warehouse])
    assert (merged.state, merged.run_id, merged.log, merged.seconds) == (
        "failed", "manual__shop_ingest", Path("shop_warehouse"), 4.0
    )  # fmt: skip
    assert merged.tasks == {
        "shop_ingest.ingest_app.plan": "success",
        "shop_warehouse.regular_run.dbt_bronze": "failed",
    }
    assert combined([ingest, _outcome("shop_warehouse", "success", {})]).state == "success"

"""deploy/: Prometheus config and rules pass promtool, the compose stack validates, and every
Grafana panel / alert rule names only metrics that really exist (Headwater's endpoint or the
statsd-exporter mapping of Airflow's StatsD metrics)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from headwater.monitoring.metrics import METRICS, exported_names
from tests.monitoring.promserver import PROMTOOL, require

DEPLOY = Path(__file__).parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "sum", "avg", "min", "max", "count", "topk", "bottomk", "rate", "increase", "irate",
    "histogram_quantile", "clamp_min", "clamp_max", "time", "absent", "label_values", "abs", "le",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (label matchers, strings, ranges and keywords removed)."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"\d+|e\d*", n)}


def statsd_names() -> set[str]:
    mapping = yaml.safe_load((DEPLOY / "statsd" / "mapping.yml").read_text())
    names = set()
    for m in mapping["mappings"]:
        if m.get("action") == "drop":
            continue
        assert re.fullmatch(r"airflow_[a-z0-9_]+", m["name"]), m
        assert m["match"].startswith("airflow."), m
        names |= {m["name"], m["name"] + "_bucket", m["name"] + "_sum", m["name"] + "_count"}
    return names


def known_names() -> set[str]:
    return exported_names() | statsd_names() | {"up"}


def test_prometheus_config_and_rules_pass_promtool():
    promtool = require(PROMTOOL)
    for args in (["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                 ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")]):  # fmt: skip
        proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "SUCCESS" in proc.stdout + proc.stderr


def test_alert_rules_cover_the_issue_and_name_real_metrics():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    by_name = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    for required in ("HeadwaterPipelineFailed", "HeadwaterDataStale", "HeadwaterQuarantineRateHigh",
                     "AirflowSchedulerDown"):  # fmt: skip
        assert required in by_name
    for name, expr in by_name.items():
        unknown = metric_names(expr) - known_names()
        assert not unknown, f"{name}: {unknown}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure_and_every_query_names_an_exported_metric(path):
    board = json.loads(path.read_text())
    assert board["uid"] and board["title"] and isinstance(board["panels"], list) and board["panels"]
    datasource_uid = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]["uid"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for var in board.get("templating", {}).get("list", []):
        assert not metric_names(var["definition"].replace("label_values", "")) - known_names() - {"pipeline"}
    used: set[str] = set()
    for panel in board["panels"]:
        assert panel["type"] in ("timeseries", "stat", "table", "gauge", "bargauge"), panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys() and panel["gridPos"]["w"] <= 24
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource_uid
            names = metric_names(target["expr"])
            assert names, f"{panel['title']}: no metric in {target['expr']}"
            unknown = names - known_names()
            assert not unknown, f"{panel['title']}: {unknown} is exported by nothing"
            used |= names
    if path.name == "pipeline_health.json":
        headwater = {n for n in METRICS if not n.startswith("headwater_airflow")}
        missing = {n for n in headwater if not any(u.startswith(n) for u in used)}
        assert not missing, f"pipeline metrics shown nowhere: {missing}"


def test_grafana_provisioning_points_at_the_dashboards():
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "headwater.yml").read_text()
    )
    compose = (DEPLOY / "compose.yaml").read_text()
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in compose


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_stack_validates_and_publishes_only_on_loopback():
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client (docker compose plugin or Debian docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEADWATER", "POSTGRES"))}
    proc = subprocess.run(
        [*command, "-f", str(DEPLOY / "compose.yaml"), "--env-file", str(DEPLOY / ".env.example"), "config"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config = yaml.safe_load(proc.stdout)
    services = config["services"]
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
                 "postgres", "redis", "minio", "statsd-exporter", "prometheus", "grafana",
                 "headwater-metrics"):  # fmt: skip
        assert name in services, name
    published = 0
    for name, service in services.items():
        for port in service.get("ports", []):
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", (name, port)
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)
    assert published >= 4
    airflow = services["airflow-scheduler"]["environment"]
    assert airflow["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    # the compose file itself holds no secret: they all come from the env file
    example = dict(
        line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines() if "=" in line
    )
    text = (DEPLOY / "compose.yaml").read_text()
    secrets = [v for v in example.values() if v.startswith("change-me")]
    assert len(secrets) >= 7
    for value in secrets:
        assert value not in text


def test_the_compose_stack_refuses_to_start_without_secrets(tmp_path):
    command = _compose_command()
    if command is None:
        pytest.skip("no docker compose client (docker compose plugin or Debian docker-compose)")
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEADWATER", "POSTGRES"))}
    proc = subprocess.run(
        [*command, "-f", str(DEPLOY / "compose.yaml"), "--env-file", str(empty), "config"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert proc.returncode != 0 and "deploy/.env" in proc.stderr

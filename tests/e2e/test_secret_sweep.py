"""Planted secrets never reach any output (issue 12, class 8).

A secret is planted in every setting that can hold one: the warehouse, source and lake URLs,
the S3 keys, the Slack webhook and an API token. Runs are then made to fail in several ways
through real Airflow (``headwater run``): an unreachable Postgres warehouse, an unreachable
Postgres source, an unreachable S3 lake. Every output is searched for every form of every
secret (as written and percent-decoded): the commands' stdout/stderr, every file under the
Headwater home (Airflow task and run logs, dbt artifacts and logs, the Airflow metadata
database), the metadata tables of the warehouse, the Slack alerts, `headwater status` and
the metrics exposition.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from headwater.pipelines.travel_bookings import generator
from headwater.spec import load_spec
from headwater.warehouse import open_warehouse
from tests.slack_receiver import SlackReceiver

pytestmark = pytest.mark.e2e
SPEC = load_spec("travel_bookings")

# Each secret has characters a URL must percent-encode, so both forms are looked for.
SECRETS = {
    "warehouse password": "Wh@rePw#4417q",
    "source password": "S0urce@Pw!8812",
    "lake password": "L4ke:Pw@5530",
    "s3 secret key": "s3SecretKey/Zz9931xyz",
    "s3 key id": "AKIAPLANTED7731",
    "slack webhook": "slackHookSecret6620",
    "api token": "apiTokenSecret3391",
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again once this returns: nothing listens there


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def _leaks(text: str) -> list[str]:
    return [f"{name} ({form!r})" for name, s in SECRETS.items() for form in _forms(s) if form in text]


def _run(args: list[str], env: dict[str, str]) -> str:
    cli = Path(sys.executable).parent / "headwater"
    done = subprocess.run(
        [str(cli), *args], env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL
    )
    return done.stdout + done.stderr


def test_no_planted_secret_reaches_any_output(hw_home: Path, pg_database: str, monkeypatch):
    source = SPEC.source_url(hw_home)
    generator.generate(source, scale=0.01, seed=3)
    dead = _closed_port()
    # Postgres here trusts local connections, so a password in a working URL is ignored by the
    # server but still travels through every setting, DSN, profile and log like a real one.
    warehouse = _with_password(pg_database, SECRETS["warehouse password"])
    unreachable_warehouse = _with_password(
        f"postgresql://postgres@127.0.0.1:{dead}/nowhere", SECRETS["warehouse password"]
    )
    unreachable_source = _with_password(
        f"postgresql://postgres@127.0.0.1:{dead}/source", SECRETS["source password"]
    )
    outputs: dict[str, str] = {}
    with SlackReceiver() as slack:
        env = dict(os.environ)
        env.update(
            {
                "HEADWATER_SLACK_WEBHOOK_URL": slack.url + "/" + SECRETS["slack webhook"],
                "AWS_ACCESS_KEY_ID": SECRETS["s3 key id"],
                "AWS_SECRET_ACCESS_KEY": SECRETS["s3 secret key"],
                "HEADWATER_SOURCE_BOOKINGS_API_TOKEN": SECRETS["api token"],
                "HEADWATER_RETRIES": "0",
            }
        )
        failures = {
            "unreachable warehouse": {"HEADWATER_WAREHOUSE_URL": unreachable_warehouse},
            "unreachable source": {
                "HEADWATER_WAREHOUSE_URL": warehouse,
                "HEADWATER_SOURCE_URL": unreachable_source,
            },
            "unreachable lake": {
                "HEADWATER_WAREHOUSE_URL": warehouse,
                "HEADWATER_LAKE_URL": "s3://lake/prefix",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead}",
            },
            "lake URL with credentials": {
                "HEADWATER_WAREHOUSE_URL": warehouse,
                "HEADWATER_LAKE_URL": _with_password("s3://lakeuser@lake/prefix", SECRETS["lake password"]),
            },
        }
        for name, extra in failures.items():
            out = _run(["run", "travel_bookings", "--quiet"], {**env, **extra})
            outputs[f"`headwater run` with an {name}"] = out
            assert "failed" in out or "error" in out, out[-2000:]
        env["HEADWATER_WAREHOUSE_URL"] = warehouse
        outputs["`headwater status`"] = _run(["status"], env)
        outputs["`headwater quarantine`"] = _run(["quarantine"], env)
        outputs["alerts"] = "\n".join(str(p["json"]) for p in slack.posts)  # not the path: it is the hook
    assert slack.posts, "the failing runs sent alerts (so the alerts were searched)"

    from prometheus_client import CollectorRegistry, generate_latest

    from headwater.monitoring.metrics import HeadwaterCollector

    registry = CollectorRegistry(auto_describe=False)
    airflow_db = f"sqlite:///{hw_home / 'airflow' / 'airflow.db'}"
    for url in (warehouse, unreachable_warehouse):
        registry = CollectorRegistry(auto_describe=False)
        registry.register(HeadwaterCollector(url, airflow_db))
        outputs[f"metrics ({'down' if url == unreachable_warehouse else 'up'})"] = generate_latest(
            registry
        ).decode()

    wh = open_warehouse(warehouse)
    tables = [r[0] for r in wh.query(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh' AND schema_name = 'headwater'"
    )]  # fmt: skip
    assert {"runs", "load_ledger", "quarantine"} <= set(tables)
    for t in tables:
        outputs[f"warehouse table headwater.{t}"] = str(wh.query(f'SELECT * FROM wh.headwater."{t}"'))

    files = [p for p in hw_home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files), "task logs were written (so they were searched)"
    for path in files:
        outputs[str(path)] = path.read_bytes().decode("utf-8", errors="replace")

    leaks = {where: found for where, text in outputs.items() if (found := _leaks(text))}
    assert not leaks, leaks

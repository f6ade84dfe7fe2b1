"""``headwater ui``: Airflow's components started one by one, every server on 127.0.0.1.

``airflow standalone`` cannot be used: the scheduler and triggerer it starts run Airflow's
log server (serve-logs), which binds every interface (0.0.0.0 and [::], ports 8793/8794)
and would hand task logs to the network. Here task logs are local files the api-server
reads itself, so the log servers are not started at all (``--skip-serve-logs``), and the
api-server binds 127.0.0.1. The components are stopped together with every process they
started (see :mod:`headwater.orchestration.processes`).
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from headwater.orchestration.local import airflow_environ, ensure_airflow
from headwater.orchestration.processes import ProcessTree
from headwater.settings import Settings

HOST = "127.0.0.1"
SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


def components(port: int) -> dict[str, list[str]]:
    """The Airflow sub-commands of a local deployment, none listening beyond loopback."""
    return {
        "api-server": ["api-server", "--host", HOST, "--port", str(port), "--workers", "1"],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
    }


def ui_environ(settings: Settings, port: int) -> dict[str, str]:
    env = airflow_environ(settings)
    env["AIRFLOW__API__HOST"] = HOST
    env["AIRFLOW__API__PORT"] = str(port)
    env["AIRFLOW__API__BASE_URL"] = f"http://{HOST}:{port}"
    # Task processes reach the scheduler's API here, not through a public address.
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://{HOST}:{port}/execution/"
    env.setdefault("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH)
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    return env


def serve(settings: Settings, port: int, say=print) -> int:
    """Run the components until SIGTERM/SIGINT or until one of them exits; stop them all."""
    env = ui_environ(settings, port)
    ensure_airflow(settings, env)
    logs = settings.airflow_home / "logs" / "ui"
    tree = ProcessTree()
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name, args in components(port).items():
            tree.start(name, [sys.executable, "-m", "airflow", *args], env, logs / f"{name}.log")
        say(
            f"Airflow UI on http://{HOST}:{port}; log in as admin with the password Airflow saved in "
            f"{_password_file(settings)}. Component logs: {logs}. Ctrl-C stops it."
        )
        while not stopping:
            gone = tree.exited()
            if gone:
                name, code = next(iter(gone.items()))
                say(f"Airflow {name} exited with code {code} (see {logs / (name + '.log')}); stopping")
                break
            tree.refresh()
            time.sleep(1.0)
    finally:
        killed = tree.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if killed:
        say(f"{len(killed)} Airflow process(es) did not stop in time and were killed")
    return 1 if not stopping else 0


def _password_file(settings: Settings) -> Path:
    return settings.airflow_home / "simple_auth_manager_passwords.json.generated"

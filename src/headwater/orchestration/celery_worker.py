"""What a Celery worker of the production profile loads before it takes any task.

Two Airflow settings point here (the cluster and ``deploy/compose.yaml`` set both):

- ``[celery] celery_config_options = headwater.orchestration.celery_worker.CELERY_CONFIG``:
  Airflow's own Celery configuration, plus a ``worker_init`` hook that imports what every task
  needs (Airflow's task runner, dbt, DuckDB, Headwater's task code) once, in the worker's main
  process. Airflow runs each task in a process forked from the worker, so every task starts
  with those modules loaded instead of importing them again (dbt alone takes seconds: a DAG
  of eight dbt steps paid it eight times), and with every pipeline's dbt project already
  parsed (``transform.preparse``).
- ``[core] hostname_callable = headwater.orchestration.celery_worker.hostname``: the name a
  task instance records as its host. Workers on one machine share its host name; the cluster
  names each worker (HEADWATER_WORKER_NAME), so the UI and the tests can tell them apart.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import time

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

log = logging.getLogger(__name__)

CELERY_CONFIG = dict(DEFAULT_CELERY_CONFIG)

PRELOAD = (
    "airflow.sdk.execution_time.task_runner",
    "dbt.cli.main",
    "dbt.adapters.postgres",
    "dbt.adapters.duckdb",
    "duckdb",
    "pyarrow.parquet",
    "psycopg",
    "headwater.orchestration.dag",
    "headwater.flow",
    "headwater.transform",
    "headwater.transform_gate",
    "headwater.warehouse",
)


def hostname() -> str:
    """This worker's name (HEADWATER_WORKER_NAME, e.g. ``worker-1@host``), else the host's."""
    return os.environ.get("HEADWATER_WORKER_NAME") or socket.getfqdn()


@worker_init.connect
def _preload(**_: object) -> None:
    """Import the task code once in the worker's main process (see the module's docstring)."""
    started = time.monotonic()
    loaded = 0
    for name in PRELOAD:
        try:
            importlib.import_module(name)
            loaded += 1
        except Exception as exc:  # an optional adapter missing only costs its import later
            log.warning("could not preload %s: %s", name, exc)
    log.warning(
        "headwater: preloaded %d modules for forked tasks in %.1f s", loaded, time.monotonic() - started
    )
    _preparse_projects()


def _preparse_projects() -> None:
    """Parse every pipeline's dbt project once (see transform.preparse): each dbt step forked
    from this worker then starts with the manifest instead of parsing (a second or so). A
    project edited later is parsed again by the step that notices (fingerprint)."""
    from headwater.discovery import available_pipelines, load_spec
    from headwater.settings import Settings
    from headwater.transform import preparse

    started = time.monotonic()
    settings = Settings.from_env()
    parsed = []
    for name in available_pipelines():
        try:
            if preparse(load_spec(name), settings):
                parsed.append(name)
        except Exception as exc:  # a project that does not parse fails its own steps, with dbt's words
            log.warning("headwater: could not pre-parse %s: %s", name, exc)
    log.warning(
        "headwater: pre-parsed %s in %.1f s", ", ".join(parsed) or "nothing", time.monotonic() - started
    )

"""One Airflow process for many one-shot DAG runs (what ``airflow dags test`` does, kept warm).

Every ``airflow dags test`` process pays the same start-up before its first task: importing
Airflow (~3 s), building the in-process execution API (~3 s: Cadwyn generates a router per API
version), importing dbt at the first dbt step (~3 s). A demo runs eight DAGs and a test module
several, so the parent (``headwater run``/``demo``, a test process) keeps one runner per Airflow
environment and sends it one DAG at a time; each run is still a real ``airflow dags test``,
parsed by Airflow's own CLI, logging into its own file.

Protocol: a JSON line per request on stdin (``dag_id``, ``conf``, ``log``, ``env``), a JSON
line per finished run on the original stdout (``returncode``). A runner serves one Airflow
configuration (the parent keys it by the ``AIRFLOW*`` variables: the metadata database is bound
at import); every other variable (a served API's URL and token, Slack, retries) is the request's
own: the process environment is replaced by it for the run, so tasks read what a fresh
``airflow dags test`` would. The runner's fds 1 and 2 point at the
current run's log while it runs. End of stdin (the parent closed it, or died) ends the runner.
Killing the parent's process group kills the runner with it, as it would ``airflow dags test``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, TextIO

MODULE = "headwater.orchestration.runner"


def _point_output_at(path: str | None) -> None:
    """Send fds 1 and 2 (Airflow's console logging, prints, tracebacks) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)


def _fresh_pipeline_caches() -> None:
    """Specs and folders are cached per process for DAG parsing; a new run re-reads them."""
    from headwater import discovery

    discovery._discover.cache_clear()
    discovery._load.cache_clear()


def _run_one(parser: Any, request: dict[str, Any]) -> int:
    args = parser.parse_args(["dags", "test", request["dag_id"], "-c", json.dumps(request.get("conf") or {})])
    try:
        args.func(args)
    except SystemExit as exit_:  # "DagRun failed" and argument errors, as the CLI would exit
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # a crash is reported in the run's log, and the runner stays usable
        traceback.print_exc()
        return 1
    return 0


def serve(requests: TextIO, results: TextIO, first_log: str | None) -> None:
    _point_output_at(first_log)  # Airflow's import-time output belongs to the first run's log
    # What airflow's __main__ does before any command.
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    parser = cli_parser.get_parser()
    for line in requests:
        if not line.strip():
            continue
        request = json.loads(line)
        _point_output_at(request["log"])
        if "env" in request:
            os.environ.clear()
            os.environ.update(request["env"])
        _fresh_pipeline_caches()
        returncode = _run_one(parser, request)
        _point_output_at(None)
        results.write(json.dumps({"returncode": returncode}) + "\n")
        results.flush()


def main() -> None:
    # The protocol keeps the original stdout; fd 1 itself is pointed at each run's log.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    serve(sys.stdin, results, sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()

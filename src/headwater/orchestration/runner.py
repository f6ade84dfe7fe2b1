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

Kept warm (``HEADWATER_KEEP_WARM_SECONDS``, the ``headwater`` command's default): the runner
outlives the command, in its own session, listening on a Unix socket (mode 0600, named after
its Airflow configuration and the installed code, so an edit starts a new one), one run per
connection, until it has been idle that long. The client holds a lock on the socket's lock
file while its run lasts; a second command finding it busy starts a runner of its own. A
client that dies mid-run closes its connection, and the runner kills itself with the run: as
with ``airflow dags test``, a killed command's run goes no further.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
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


def _invoke(parser: Any, argv: list[str]) -> int:
    args = parser.parse_args(argv)
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
    return 0


def _run_one(parser: Any, request: dict[str, Any]) -> int:
    command = ["dags", "test", request["dag_id"], "-c", json.dumps(request.get("conf") or {})]
    try:
        if request.get("dagfile"):
            # The DAG's own file only, for finding it (Airflow re-parses the folder for the run).
            try:
                return _invoke(parser, [*command, "-f", request["dagfile"]])
            except Exception as e:
                if "could not be found" not in str(e):  # a guess that missed fails before any run
                    raise
        return _invoke(parser, command)
    except BaseException:  # a crash is reported in the run's log, and the runner stays usable
        traceback.print_exc()
        return 1


def _airflow_cli(first_log: str | None) -> Any:
    _point_output_at(first_log)  # Airflow's import-time output belongs to the first run's log
    # What airflow's __main__ does before any command.
    from airflow.cli import cli_parser
    from airflow.configuration import write_default_airflow_configuration_if_needed

    write_default_airflow_configuration_if_needed()
    from headwater import transform

    transform.KEEP_PARSED = True  # the dbt steps of every run here share one parse per project
    return cli_parser.get_parser()


def _serve_request(parser: Any, request: dict[str, Any]) -> int:
    _point_output_at(request["log"])
    if "env" in request:
        os.environ.clear()
        os.environ.update(request["env"])
    _fresh_pipeline_caches()
    try:
        return _run_one(parser, request)
    finally:
        _point_output_at(None)
        # A run leaves Airflow's own SIGTERM handler installed; between runs a plain
        # `kill` must end the runner, as it ends any idle process.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def serve(requests: TextIO, results: TextIO, first_log: str | None) -> None:
    """The parent's runner: requests on a pipe, until the parent closes it."""
    parser = _airflow_cli(first_log)
    for line in requests:
        if line.strip():
            returncode = _serve_request(parser, json.loads(line))
            results.write(json.dumps({"returncode": returncode}) + "\n")
            results.flush()


# -- kept warm between commands ------------------------------------------------------------------
ACCEPTED = b"accepted\n"
"""The runner's first line on a connection, sent once it holds the request: a connection that
ends before it means the run never started, and the client may hand it to a new runner."""


def _die_with(client: socket.socket, done: threading.Event) -> None:
    """The client's connection closing mid-run means it was killed or interrupted: the run dies
    with it, as an ``airflow dags test`` child would (the next run fails it as stale)."""
    try:
        while client.recv(1):
            pass
    except OSError:
        pass
    if not done.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


def serve_socket(path: str, idle_seconds: int, airflow_home: str, first_log: str | None) -> None:
    """Serve one run per connection on the Unix socket ``path`` (0600: only its owner may
    connect) until no client came for ``idle_seconds``, or the socket or the Airflow home is
    gone (replaced by a newer runner, or the home deleted)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(8)
    inode = os.stat(path).st_ino
    parser = _airflow_cli(first_log)
    listener.settimeout(5)
    idle_since = time.monotonic()
    try:
        while True:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                mine = os.path.exists(path) and os.stat(path).st_ino == inode
                if not mine or not os.path.isdir(airflow_home):
                    return
                if time.monotonic() - idle_since > idle_seconds:
                    return
                continue
            with client:
                client.settimeout(None)
                request = json.loads(client.makefile("r").readline() or "null")
                if request is None:
                    continue  # a client checking that the runner is up
                client.sendall(ACCEPTED)  # the run is this runner's now (see WarmRunner.submit)
                done = threading.Event()
                threading.Thread(target=_die_with, args=(client, done), daemon=True).start()
                returncode = _serve_request(parser, request)
                done.set()
                client.sendall((json.dumps({"returncode": returncode}) + "\n").encode())
            idle_since = time.monotonic()
    finally:
        if os.path.exists(path) and os.stat(path).st_ino == inode:
            os.unlink(path)


def main() -> None:
    if sys.argv[1:2] == ["--socket"]:
        _, _, path, idle, airflow_home, first_log = sys.argv
        serve_socket(path, int(idle), airflow_home, first_log)
        return
    # The protocol keeps the original stdout; fd 1 itself is pointed at each run's log.
    results = os.fdopen(os.dup(1), "w", buffering=1)
    serve(sys.stdin, results, sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    main()

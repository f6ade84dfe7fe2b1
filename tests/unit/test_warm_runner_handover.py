"""The warm runner's handover: a run counts as taken only once the runner acknowledges it."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

from headwater.orchestration.local import WarmRunner
from headwater.orchestration.runner import ACCEPTED


def _pair(tmp_path: Path):
    client, server = socket.socketpair()
    lock = open(tmp_path / "runner.lock", "a")  # noqa: SIM115 - WarmRunner closes it
    return WarmRunner(client, lock), server, lock


def test_a_runner_that_ends_before_acknowledging_did_not_take_the_run(tmp_path):
    runner, server, lock = _pair(tmp_path)

    def read_then_vanish():
        server.makefile("r").readline()  # the request arrives, then the runner is gone
        server.close()

    t = threading.Thread(target=read_then_vanish)
    t.start()
    assert runner.submit("probe", {}, tmp_path / "run.log", {}) is False
    t.join()
    assert lock.closed, "the lock is released so that the run can go to a fresh runner"


def test_an_acknowledged_run_waits_for_the_runner_s_reply(tmp_path):
    runner, server, _ = _pair(tmp_path)

    def serve():
        request = json.loads(server.makefile("r").readline())
        assert request["dag_id"] == "probe"
        server.sendall(ACCEPTED)
        server.sendall(b'{"returncode": 3}\n')
        server.close()

    t = threading.Thread(target=serve)
    t.start()
    assert runner.submit("probe", {}, tmp_path / "run.log", {}) is True
    t.join()
    returncode = None
    while returncode is None:
        returncode = runner.result(timeout=1)
    assert returncode == 3, "the reply line after the acknowledgement is read, not swallowed"

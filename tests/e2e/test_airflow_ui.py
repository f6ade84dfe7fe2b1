"""`headwater ui`: Airflow's components, healthy, with no socket beyond loopback in the whole
process tree, and none of its processes left once it stops (issue 12, class 9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from headwater.orchestration.processes import is_loopback, listening_sockets

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(pid: int) -> dict[int, psutil.Process]:
    try:
        root = psutil.Process(pid)
        return {p.pid: p for p in [root, *root.children(recursive=True)]}
    except psutil.Error:
        return {}


def _cmdline(p: psutil.Process) -> str:
    """A process's command line; empty for one that exited (or is a zombie) meanwhile."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def _alive(p: psutil.Process) -> bool:
    """Still running and not a zombie (a process may vanish between two questions)."""
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _healthy(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as r:
            health = r.read().decode()
    except OSError:
        return None
    wanted = ("scheduler", "triggerer", "dag_processor")
    return health if all(f'"{c}":{{"status":"healthy"' in health for c in wanted) else None


def test_ui_is_healthy_listens_on_loopback_only_and_leaves_no_process(hw_home: Path):
    port = _free_port()
    cli = Path(sys.executable).parent / "headwater"
    log = hw_home / "ui.log"
    proc = subprocess.Popen(
        [str(cli), "ui", "--port", str(port)],
        env=dict(os.environ), stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    seen: dict[int, psutil.Process] = {}
    try:
        health = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and not health:
            seen.update(_tree(proc.pid))
            health = _healthy(port)
            time.sleep(2)
        assert health, (proc.poll(), log.read_text(errors="replace")[-3000:])
        time.sleep(5)  # the components' own helpers (log servers, if any) start after they report
        tree = _tree(proc.pid)
        seen.update(tree)
        sockets = listening_sockets(set(tree))
        assert (proc.pid, "127.0.0.1", port) in sockets or any(p == port for _, _, p in sockets), sockets
        public = [s for s in sockets if not is_loopback(s[1])]
        assert not public, f"listening beyond loopback: {public}"
        names = " ".join(_cmdline(p) for p in tree.values())
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            assert component in names or component.replace("-", "_") in names, names  # set proctitle
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    left = [p for p in seen.values() if _alive(p)]
    assert not left, f"still running after `headwater ui` stopped: {[_cmdline(p) for p in left]}"


ESCAPER = """
import subprocess, sys, time
# a grandchild in its own session: no signal to our process group reaches it
g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
print(g.pid, flush=True)
time.sleep(3)  # then its parent exits: the grandchild is re-parented to init
"""


def test_stopping_the_tree_stops_a_descendant_that_left_the_session_and_its_parent(tmp_path):
    from headwater.orchestration.processes import ProcessTree

    tree = ProcessTree()
    out = tmp_path / "escaper.log"
    child = tree.start("escaper", [sys.executable, "-c", ESCAPER], dict(os.environ), out)
    deadline = time.monotonic() + 30
    while not out.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = psutil.Process(int(out.read_text().split()[0]))
    tree.refresh()
    child.wait(timeout=30)
    assert grandchild.is_running() and os.getsid(grandchild.pid) == grandchild.pid  # its own session
    assert grandchild.ppid() != child.pid, "orphaned: no longer a child of what we started"
    tree.stop(grace=5)
    assert not grandchild.is_running() or grandchild.status() == psutil.STATUS_ZOMBIE

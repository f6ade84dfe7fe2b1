"""`headwater ui` starts Airflow standalone, healthy and bound to 127.0.0.1 only."""

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

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ui_is_healthy_and_listens_on_loopback_only(hw_home: Path):
    port = _free_port()
    cli = Path(sys.executable).parent / "headwater"
    log = hw_home / "ui.log"  # a file, not a pipe: nobody reads standalone's chatter meanwhile
    proc = subprocess.Popen(
        [str(cli), "ui", "--port", str(port)],
        env=dict(os.environ),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        health = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as r:
                    health = r.read().decode()
                    if '"scheduler":{"status":"healthy"' in health:
                        break
            except OSError:
                pass
            time.sleep(2)
        output = log.read_text(errors="replace")[-3000:]
        assert health and '"metadatabase":{"status":"healthy"}' in health, (health, output)
        listeners = [
            c
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert listeners and all(c.laddr.ip == "127.0.0.1" for c in listeners), listeners
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)  # `headwater ui` returns once Airflow's whole process group is gone
    still = [
        c for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    ]
    assert not still, "stopping `headwater ui` stops the whole Airflow process group"

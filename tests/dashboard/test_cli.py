"""`headwater dashboard`: the command line it runs, loopback only, no telemetry, clean stop."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from headwater.cli import build_parser
from headwater.dashboard.server import APP, streamlit_command, streamlit_environ

from .test_browser import dashboard


def _option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


def test_parser_has_the_dashboard_command():
    args = build_parser().parse_args(["dashboard"])
    assert args.port == 8501 and args.func.__name__ == "cmd_dashboard"
    assert build_parser().parse_args(["dashboard", "--port", "9999"]).port == 9999


def test_streamlit_runs_headless_on_loopback_without_telemetry():
    cmd = streamlit_command(8765)
    assert cmd[1:5] == ["-m", "streamlit", "run", str(APP)]
    assert _option(cmd, "--server.address") == "127.0.0.1"
    assert _option(cmd, "--server.port") == "8765"
    assert _option(cmd, "--server.headless") == "true"
    assert _option(cmd, "--browser.gatherUsageStats") == "false"
    env = streamlit_environ({"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "true", "PATH": "/bin"})
    assert env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false" and env["PATH"] == "/bin"


@pytest.mark.slow
def test_the_dashboard_listens_on_loopback_only_and_stops(tmp_path: Path):
    home = tmp_path / "hw"
    home.mkdir()
    log = tmp_path / "dashboard.log"
    with dashboard(home, log) as url:
        port = int(url.rsplit(":", 1)[1])
        listeners = [
            c
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert listeners and all(c.laddr.ip == "127.0.0.1" for c in listeners), listeners
    # dashboard() checked that the port is free again once the command got SIGTERM.
    text = log.read_text()
    assert f"Headwater dashboards on {url}" in text
    assert "gather usage stats" not in text.lower()
    assert not (home / "warehouse.duckdb").exists()

"""How ``headwater dashboard`` starts Streamlit: loopback only, headless, no telemetry."""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
DEFAULT_PORT = 8501


def url(port: int, address: str = "127.0.0.1") -> str:
    return f"http://{address}:{port}"


def streamlit_command(port: int = DEFAULT_PORT, address: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line for the dashboards."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--browser.serverAddress",
        address,
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--global.developmentMode",
        "false",
        "--theme.base",
        "light",
        "--theme.primaryColor",
        "#3b6fb6",
    ]


def streamlit_environ(env: dict[str, str]) -> dict[str, str]:
    """The environment for Streamlit: no telemetry, whatever a config file says."""
    out = dict(env)
    out["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    out["STREAMLIT_SERVER_HEADLESS"] = "true"
    return out

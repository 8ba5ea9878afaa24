"""How the Streamlit dashboard is started: its command line and the environment it is handed.

Used by `flowmeter dashboard` (which becomes Streamlit) and by the supervisor behind
`flowmeter up` (which runs it as a child).
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from flowcore.settings import Settings


def streamlit_argv(host: str, port: int, script: Path | None = None) -> list[str]:
    """`streamlit run` on the dashboard (or on `script`: the render benchmark's bare Streamlit
    baseline is served with the very same options)."""
    app = str(script or resources.files("dashboard") / "app.py")
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        app,
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def dashboard_env(conf: Settings) -> dict[str, str]:
    """The dashboard is another process: hand it the settings this command resolved."""
    env = dict(os.environ, FLOWMETER_DB=str(conf.db.resolve()))
    if conf.settings:
        env["FLOWMETER_SETTINGS"] = str(Path(conf.settings).resolve())
    if conf.worker_url:
        env["FLOWMETER_WORKER_URL"] = conf.worker_url
    return env

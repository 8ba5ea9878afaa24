"""`flowmeter up --demo` as a newcomer runs it: everything starts, events show on the first
page within 20 s, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest

from streams.broker import free_port
from tests.helpers.processes import ARTIFACTS, processes_mentioning
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.slow]
APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def test_up_demo_shows_events_within_20_seconds_and_ctrl_c_stops_everything(tmp_path, monkeypatch):
    dashboard_port = free_port()
    db = tmp_path / "demo.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    log = (ARTIFACTS / "up.log").open("w")
    started = time.monotonic()
    # Started the way a shell starts a background job: with SIGINT ignored. Ctrl-C
    # (SIGINT) must still stop everything, so `up` has to install its own handler.
    up = subprocess.Popen(
        # Ports of its own, not the defaults: after Ctrl-C the test checks that nothing listens on
        # them, and a test on another pytest-xdist worker may take the default 6066 once it is free.
        [
            sys.executable,
            "-m",
            "flowmeter",
            "up",
            "--demo",
            "--db",
            str(db),
            "--dashboard-port",
            str(dashboard_port),
            "--worker-port",
            str(free_port()),
            "--receiver-port",
            str(free_port()),
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        runtime = db.with_name(db.name + ".worker.json")
        info = wait_until(lambda: runtime.exists() and json.loads(runtime.read_text()), 20, "the worker to start")

        def landed() -> int:
            try:
                kinds = requests.get(f"{info['url']}/api/status", timeout=2).json()["kinds"]
            except requests.RequestException:
                return 0
            return next(k["landed"] for k in kinds if k["kind"] == "transition")

        wait_until(lambda: landed() > 0, max(0.0, 20 - (time.monotonic() - started)), "demo events within 20 s")
        assert requests.get(f"http://127.0.0.1:{dashboard_port}/_stcore/health", timeout=5).status_code == 200

        monkeypatch.setenv("FLOWMETER_WORKER_URL", info["url"])
        page = AppTest.from_file(APP, default_timeout=30).run()
        assert not page.exception
        page.switch_page("pages_/ingest.py").run()  # Overview is home; Ingest counts what landed
        assert not page.exception
        shown = {m.label: int(m.value.replace(",", "")) for m in page.metric}
        assert shown["Transitions landed"] > 0 and shown["Deploys landed"] >= 0

        def incidents() -> tuple[int, int] | None:
            sql = "SELECT count(*), count(*) FILTER (WHERE source = 'alertmanager') FROM incidents"
            try:
                rows = requests.post(f"{info['url']}/api/sql", json={"sql": sql}, timeout=5).json()["rows"]
            except (requests.RequestException, ValueError, KeyError):
                return None
            counts = tuple(rows[0].values())
            return counts if counts[1] > 0 else None

        # The demo's incidents land too, those of auth and gateway posted to the receiver as
        # Alertmanager notifications (the history holds ~34 incidents, ~11 of them from there).
        total, from_alertmanager = wait_until(incidents, 90, "the demo's incidents, some via Alertmanager")
        assert total > from_alertmanager > 0
    finally:
        up.send_signal(signal.SIGINT)  # what Ctrl-C sends
        code = up.wait(60)
        log.close()
    output = (ARTIFACTS / "up.log").read_text()
    assert code == 0, output
    assert f"Dashboard: http://127.0.0.1:{dashboard_port}" in output and "flowmeter stopped." in output
    broker_port = int(re.search(r"broker\s+kafka://127\.0\.0\.1:(\d+)", output).group(1))
    worker_port = int(info["url"].rsplit(":", 1)[1])
    for port in (broker_port, worker_port, dashboard_port):
        assert port_is_free(port), f"something still listens on {port}"
    assert processes_mentioning(str(db)) == []
    assert not runtime.exists()  # the worker stopped cleanly and withdrew its announcement
    # The Alertmanager incidents went through the receiver (not the demo's own v1 fallback).
    demo_log = (db.with_name(db.name + ".logs") / "demo.log").read_text()
    posted = re.search(r"([\d,]+) Alertmanager notifications posted, ([\d,]+) not", demo_log)
    assert posted and int(posted.group(1).replace(",", "")) > 0 and posted.group(2) == "0", demo_log[-2000:]

"""A standalone `flowmeter worker` (no --broker) keeps its embedded broker in the parent process
and runs the worker beside it: a worker that crashes is started again on the same broker, so the
events the broker holds in memory land (nothing stranded), and when the parent ends, however it
ends, the broker and the worker end with it (issue 13 item 10)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from kafka import KafkaProducer

from streams.broker import free_port
from tests.helpers.events import encode, transition
from tests.helpers.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's"),
]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie is gone but not yet reaped
    except FileNotFoundError:
        return False


def children(pid: int) -> dict[str, int]:
    """'broker' and 'worker' -> PID, from the kernel's list of this process's children."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        found["broker" if b"tansu" in cmdline else "worker"] = int(child)
    return found


def landed(status_url: str) -> int:
    try:
        kinds = requests.get(status_url, timeout=2).json()["kinds"]
    except (requests.RequestException, ValueError, KeyError):
        return -1
    return next((k["landed"] for k in kinds if k["kind"] == "transition"), 0)


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, str]]:
    """(the `flowmeter worker` process, its broker's host:port, its status URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    port = free_port()
    env.update(
        {
            "FLOWMETER_DB": str(tmp_path / "flow.duckdb"),
            "FLOWMETER_WEB_PORT": str(port),
            "FLOWMETER_SESSION_TIMEOUT": "2",
            "FLOWMETER_HEARTBEAT_INTERVAL": "0.5",
            "FLOWMETER_BATCH_WITHIN": "0.2",
        }
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-m", "flowmeter", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        url = wait_until(
            lambda: re.search(r"embedded broker at kafka://(\S+)", log_path.read_text()),
            60,
            "the worker to start its broker",
        ).group(1)
        yield parent, url, f"http://127.0.0.1:{port}/api/status"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def send(url: str, *numbers: int) -> None:
    producer = KafkaProducer(bootstrap_servers=url, acks="all")
    for n in numbers:
        producer.send("flow.transitions", key=f"T-{n}".encode(), value=encode(transition(n)))
    producer.flush()
    producer.close(timeout=5)


def test_a_crashed_worker_is_started_again_on_the_same_broker(standalone):
    parent, url, status = standalone
    wait_until(lambda: landed(status) >= 0, 60, "the worker's HTTP server")
    send(url, 1)
    wait_until(lambda: landed(status) == 1, 60, "event 1 to land")
    first = children(parent.pid)
    os.kill(first["worker"], signal.SIGKILL)  # a crash: no cleanup at all
    send(url, 2, 3)  # held by the broker while no worker runs
    wait_until(lambda: landed(status) == 3, 90, "events 2 and 3 to land through the restarted worker")
    again = children(parent.pid)
    assert again["broker"] == first["broker"] and again["worker"] != first["worker"]
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(60) == 0
    wait_until(lambda: not alive(again["broker"]) and not alive(again["worker"]), 10, "broker and worker to stop")


def test_killing_the_parent_takes_broker_and_worker_down(standalone):
    parent, _, status = standalone
    wait_until(lambda: landed(status) >= 0, 60, "the worker's HTTP server")
    pids = children(parent.pid)
    assert set(pids) == {"broker", "worker"}
    parent.kill()
    parent.wait(10)
    wait_until(lambda: not any(alive(p) for p in pids.values()), 15, f"{pids} to go down with their parent")

"""A standalone `flowmeter worker` (no --broker) that exits 75 takes its embedded broker down
with it (PR_SET_PDEATHSIG), instead of leaving it running with a log nobody reads (issue 13
item 10)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from kafka import KafkaProducer

from flowmeter.broker import free_port
from flowmeter.errors import EX_TEMPFAIL
from tests.conftest import encode, transition, wait_until

pytestmark = [pytest.mark.slow]


def up(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie is gone but not yet reaped
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_worker_exiting_75_takes_its_embedded_broker_down(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update({"FLOWMETER_DB": str(tmp_path / "flow.duckdb"), "FLOWMETER_WEB_PORT": str(free_port()),
                "FLOWMETER_SESSION_TIMEOUT": "2", "FLOWMETER_HEARTBEAT_INTERVAL": "0.5",
                "FLOWMETER_BATCH_WITHIN": "0.2",
                # The first commit fails and is not retried: the lander ends the process by os._exit(75).
                "FLOWMETER_FAILPOINTS": "store.commit=0+", "FLOWMETER_WRITE_RETRIES": "0"})
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "flowmeter", "worker"], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        url = wait_until(lambda: re.search(r"embedded broker at kafka://(\S+)", log_path.read_text()), 60,
                         "the worker to start its broker").group(1)
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        assert len(children) == 1, children  # the broker
        broker_pid = int(children[0])
        status = f"http://127.0.0.1:{env['FLOWMETER_WEB_PORT']}/api/status"
        wait_until(lambda: up(status), 60, "the worker's HTTP server")
        producer = KafkaProducer(bootstrap_servers=url, acks="all")
        producer.send("flow.transitions", key=b"T-1", value=encode(transition(1)))
        producer.flush()
        producer.close(timeout=5)
        assert worker.wait(60) == EX_TEMPFAIL
        wait_until(lambda: not alive(broker_pid), 10, f"the broker (PID {broker_pid}) to go down with the worker")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

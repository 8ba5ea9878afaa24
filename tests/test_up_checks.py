"""What `flowmeter up` checks before it starts anything: its ports (a stopped run's TIME_WAIT
connections do not count, a listener does), and that the demo store it recreates is not one a
running demo writes to. Each refusal must leave that store as it was."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import duckdb
import pytest

from flowmeter.supervisor import _port_free
from streams.broker import free_port
from tests.helpers.processes import flowmeter, holding_store
from tests.helpers.waiting import wait_until

DEMO = "flowmeter-demo.duckdb"


def in_time_wait(port: int) -> bool:
    """Whether a 127.0.0.1 connection on `port` is in TIME_WAIT (state 06 in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(row.split()[1] == local and row.split()[3] == "06" for row in rows)


def plain_bind_fails(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads TIME_WAIT from Linux's /proc")
def test_a_port_with_only_time_wait_connections_is_free_and_one_with_a_listener_is_not():
    # A server that closed a connection first leaves it in TIME_WAIT for ~60 s: what Ctrl-C
    # on `up` leaves behind on the dashboard's port.
    server = socket.create_server(("127.0.0.1", 0))  # sets SO_REUSEADDR, as servers do
    port = server.getsockname()[1]
    assert not _port_free(port)  # a listener: really in use
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first ...
    client.close()
    server.close()
    wait_until(lambda: in_time_wait(port), 10, f"port {port} in TIME_WAIT")  # ... so it waits there
    assert plain_bind_fails(port)  # the old probe's verdict: "in use" for about a minute
    assert _port_free(port)


def demo_store(where: Path) -> Path:
    """A demo store with one row, as a running or earlier demo leaves it."""
    db = where / DEMO
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE kept AS SELECT 42 AS answer")
    return db


def still_there(db: Path) -> bool:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT answer FROM kept").fetchall() == [(42,)]


@pytest.mark.parametrize("option, what", [("--dashboard-port", "dashboard"), ("--worker-port", "worker")])
def test_up_demo_refuses_a_taken_port_before_it_touches_the_demo_store(tmp_path, option, what):
    db = demo_store(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        ports = ["--dashboard-port", str(port)] if option == "--dashboard-port" else [option, str(port)]
        if option != "--dashboard-port":
            ports += ["--dashboard-port", str(free_port())]
        result = flowmeter("up", "--demo", *ports, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"port {port} for the {what} is in use on 127.0.0.1; pass {option} N" in result.stderr
    assert still_there(db)


def test_up_demo_refuses_while_a_worker_announces_itself_on_the_demo_store(tmp_path):
    db = demo_store(tmp_path)
    # The announcement a running worker writes (flowcore/runtime.py); this test process is alive.
    announcement = {"pid": os.getpid(), "url": "http://127.0.0.1:1", "broker": "kafka://127.0.0.1:1", "db": str(db)}
    (tmp_path / f"{DEMO}.worker.json").write_text(json.dumps(announcement))
    result = flowmeter("up", "--demo", "--dashboard-port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the demo store {DEMO} is in use by the worker (PID {os.getpid()})" in result.stderr
    assert "pass --db to run another demo" in result.stderr
    assert still_there(db)


def test_up_demo_refuses_while_another_process_holds_the_demo_store(tmp_path):
    db = demo_store(tmp_path)
    with holding_store(db) as holder_pid:
        result = flowmeter("up", "--demo", "--dashboard-port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the demo store {DEMO} is in use by another process (PID {holder_pid})" in result.stderr
    assert still_there(db)


def test_the_old_rate_option_says_what_replaced_it(tmp_path):
    result = flowmeter("up", "--demo", "--demo-rate", "5", cwd=tmp_path)
    assert result.returncode == 2 and "--demo-speed 1 runs the demo in real time" in result.stderr
    assert not (tmp_path / DEMO).exists()

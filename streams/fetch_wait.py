"""How long the broker may hold the worker's fetch request: Faust fixes it at 1.5 s.

A fetch request asks the broker for new records and lets it wait up to fetch_max_wait_ms
for some to arrive. Faust 0.15 passes a constant 1500 ms to aiokafka and has no setting
for it. Kafka answers as soon as a record arrives, so the constant costs nothing there;
the embedded broker (Tansu) holds the request for the whole wait, so events reached the
worker in bursts up to 1.5 s apart. Measured with the freshness benchmark at 2,000
events/s: p95 produce -> queryable 2.35 s with 1500 ms, 1.25 s with 100 ms (batch_within
0.5 s both), back to back. This module sets the wait from flowmeter's `fetch_wait` setting
on the consumer Faust builds, before it starts.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

log = logging.getLogger(__name__)

_original_create = AIOKafkaConsumerThread._create_worker_consumer
_wait_ms: int | None = None


def _create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> Any:
    consumer = _original_create(self, transport)
    if _wait_ms is not None:
        if hasattr(consumer, "_fetch_max_wait_ms"):  # read by aiokafka when the consumer starts
            consumer._fetch_max_wait_ms = _wait_ms
        else:  # a newer aiokafka: keep working, say what it costs
            log.warning("cannot set the fetch wait on this aiokafka version; events may arrive up to 1.5 s late")
    return consumer


def set_fetch_wait(seconds: float) -> None:
    """Make every Faust worker consumer created from now on let the broker wait `seconds`."""
    global _wait_ms
    _wait_ms = max(1, round(seconds * 1000))
    # Deliberately patching the class (see the module doc): mypy refuses assignments to methods.
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def clear_fetch_wait() -> None:
    """Undo set_fetch_wait: consumers created from now on get Faust's own 1.5 s again (a test
    checks Faust's constant first, then ours, and leaves the process as it found it)."""
    global _wait_ms
    _wait_ms = None
    AIOKafkaConsumerThread._create_worker_consumer = _original_create  # type: ignore[method-assign]

"""The dead-letter topic read back from the broker, as a consumer of it would see it."""

from __future__ import annotations

import time

from kafka import KafkaConsumer


def dead_letter_headers(broker: str, topic: str, expected: int, timeout: float = 30) -> list[dict[str, str]]:
    """Read the dead-letter topic from the start; each message's headers as text."""
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

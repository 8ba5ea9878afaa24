"""Producing v1 events to Kafka with kafka-python: one producer for files, the demo and tools."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from flowcore import deadletter, routing
from flowcore.errors import BrokerError
from flowcore.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ProduceSummary:
    by_topic: dict[str, int] = field(default_factory=dict)
    dead_lettered: int = 0
    failed: int = 0
    first_failure: str | None = None

    @property
    def sent(self) -> int:
        return sum(self.by_topic.values()) + self.dead_lettered


class EventProducer:
    """Routes each event to its topic, keyed so one ticket's (or service's) events stay ordered."""

    def __init__(self, settings: Settings, servers: list[str]) -> None:
        self._topics = {kind: settings.topic_of(kind) for kind in routing.KINDS}
        self._dead_letter_topic = settings.dead_letter_topic
        self.summary = ProduceSummary()
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=servers,
                acks="all",
                linger_ms=10,
                batch_size=256 * 1024,
                retries=5,
                client_id="flowmeter-producer",
                request_timeout_ms=15000,
            )
        except KafkaError as exc:
            raise BrokerError(
                f"cannot reach the Kafka broker at {','.join(servers)} ({exc}); is it running? Check --broker."
            ) from None

    def send_raw(self, kind: str, key: str | None, value: bytes) -> None:
        topic = self._topics[kind]
        future = self._producer.send(topic, key=key.encode() if key else None, value=value)
        future.add_callback(self._sent, topic).add_errback(self._failed)

    def send_event(self, kind: str, event: dict[str, Any]) -> None:
        self.send_raw(kind, routing.key_for(kind, event), json.dumps(event, separators=(",", ":")).encode())

    def dead_letter(self, source: str, value: bytes, reason: str, kind: str = "unknown") -> None:
        """Input refused before Kafka (not JSON, kind unknown, not v1) still goes somewhere visible."""
        copy = deadletter.copy_of(value)  # an oversized line is kept cut, with its size in a header
        headers = deadletter.headers(reason, source, kind, "produce", len(value))
        key = deadletter.clean_text(source, deadletter.REASON_CHARS).encode()
        future = self._producer.send(self._dead_letter_topic, key=key, value=copy, headers=headers)
        future.add_callback(self._dead_lettered).add_errback(self._failed)

    def _sent(self, topic: str, _metadata: Any) -> None:
        self.summary.by_topic[topic] = self.summary.by_topic.get(topic, 0) + 1

    def _dead_lettered(self, _metadata: Any) -> None:
        self.summary.dead_lettered += 1

    def _failed(self, exc: BaseException) -> None:
        self.summary.failed += 1
        if self.summary.first_failure is None:
            self.summary.first_failure = str(exc)
            log.error("a send failed: %s", exc)

    def flush(self, timeout: float = 60.0) -> None:
        try:
            self._producer.flush(timeout=timeout)
        except KafkaError as exc:
            raise BrokerError(f"the broker did not acknowledge every event within {timeout:.0f} s ({exc}).") from None

    def close(self) -> None:
        self._producer.close(timeout=10)

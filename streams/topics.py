"""Create flowmeter's topics when missing and learn their ids and bounds, with kafka-python's clients.

A topic's id names its log: a recreated topic, or a restarted embedded broker, answers a new
one, and the offsets of the old log mean nothing in it (docs/recovery.md).
"""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from flowcore.errors import BrokerError

log = logging.getLogger(__name__)


def connect_admin(servers: list[str], timeout: float = 15.0) -> KafkaAdminClient:
    """An admin client, retried until the broker answers or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return KafkaAdminClient(bootstrap_servers=servers, client_id="flowmeter-admin", request_timeout_ms=5000)
        except KafkaError as exc:
            last = exc
            time.sleep(0.2)
    raise BrokerError(
        f"cannot reach the Kafka broker at {','.join(servers)} within {timeout:.0f} s ({last}); "
        "is it running? Pass --broker kafka://host:port, or use `flowmeter up` for the embedded one."
    )


def ensure_topics(servers: list[str], names: list[str], partitions: int, timeout: float = 15.0) -> dict[str, str]:
    """Create the topics that do not exist yet; return each topic's id (its log identity)."""
    admin = connect_admin(servers, timeout)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
                log.info("created topics %s with %d partitions", ", ".join(missing), partitions)
            except TopicAlreadyExistsError:
                pass  # another process created them between our list and create
        return _topic_ids(admin, names, time.monotonic() + timeout)
    finally:
        admin.close()


def _topic_ids(admin: KafkaAdminClient, names: list[str], deadline: float) -> dict[str, str]:
    while True:
        described = {t["name"]: t for t in admin.describe_topics(names)}
        ready = all(described.get(n, {}).get("error_code") == 0 and described[n]["partitions"] for n in names)
        if ready:
            # A broker that predates topic ids answers none; every log then counts as one.
            return {n: str(described[n].get("topic_id") or "") for n in names}
        if time.monotonic() > deadline:
            raise BrokerError(f"topics {', '.join(names)} did not become available on the broker in time.")
        time.sleep(0.2)


def topic_ids(servers: list[str], names: list[str], timeout: float = 15.0) -> dict[str, str]:
    """Each topic's id as the broker answers now (a running worker's check for a new log)."""
    admin = connect_admin(servers, timeout)
    try:
        return _topic_ids(admin, names, time.monotonic() + timeout)
    finally:
        admin.close()


def log_bounds(
    servers: list[str], positions: dict[tuple[str, int], int], probe_timeout: float = 3.0
) -> dict[tuple[str, int], tuple[int, int]]:
    """For each partition with a landed position: (first offset, offset after the last message).

    The embedded broker answers "latest" with the first offset of the last record batch plus
    one (docs/recovery.md), below the true end. So an end at or below the position is checked
    by fetching the message at the position itself: when it is there, the log reaches it."""
    if not positions:
        return {}
    consumer = KafkaConsumer(
        bootstrap_servers=servers,
        client_id="flowmeter-bounds",
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=5000,
    )
    try:
        tps = [TopicPartition(t, p) for t, p in positions]
        starts = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        bounds = {}
        for tp in tps:
            landed = positions[(tp.topic, tp.partition)]
            end = ends[tp]
            if end <= landed and _has_message_at(consumer, tp, landed, probe_timeout):
                end = landed + 1
            bounds[(tp.topic, tp.partition)] = (starts[tp], end)
        return bounds
    finally:
        consumer.close()


def _has_message_at(consumer: KafkaConsumer, tp: TopicPartition, offset: int, timeout: float) -> bool:
    consumer.assign([tp])
    consumer.seek(tp, offset)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500, max_records=1).values():
            if records:
                return any(r.offset >= offset for r in records)
    return False

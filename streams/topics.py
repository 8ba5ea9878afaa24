"""Create flowmeter's topics when missing and learn their ids, with kafka-python's admin client."""

from __future__ import annotations

import logging
import time

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from flowmeter.errors import BrokerError

log = logging.getLogger(__name__)


def connect_admin(servers: list[str], timeout: float = 15.0) -> KafkaAdminClient:
    """An admin client, retried until the broker answers or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return KafkaAdminClient(bootstrap_servers=servers, client_id="flowmeter-admin",
                                    request_timeout_ms=5000)
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

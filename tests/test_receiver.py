"""The webhook receiver as senders meet it: real HTTP, real broker, a real worker behind it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time

import pytest
import requests
from kafka import KafkaConsumer

from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics
from tests.helpers.events import transition
from tests.helpers.github_payloads import DELIVERY, deployment_status
from tests.helpers.incident_payloads import alert, alertmanager
from tests.helpers.jira_payloads import STATUS_PROGRESS_TO_REVIEW, updated
from tests.helpers.processes import ARTIFACTS
from tests.helpers.receiver import cli_env
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker]


def signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_v1_events_land_and_a_bad_line_is_dead_lettered_not_dropped(worker_factory, topics, receiver_factory):
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker))
    incident = {"incident_id": "PD-1", "service": "api", "status": "opened", "at": "2025-03-01T10:00:00Z"}
    lines = [json.dumps(transition(1)), "{not json", json.dumps(transition(2)), json.dumps(incident)]
    answer = receiver.post("/events", "\n".join(lines).encode() + b"\n")
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 3
    assert answer.json()["dead_lettered"][0].startswith("line 2:")
    final = worker.wait_accounted(4)
    assert final["by_kind"]["transition"]["landed"] == 2
    assert final["by_kind"]["incident"]["landed"] == 1  # its own topic, landed by the worker
    assert final["by_kind"]["unknown"]["dead_lettered"] == 1  # recorded from the dead-letter topic
    assert final["recent_dead_letters"][0]["reason"].startswith("line 2:")


def test_signatures_are_checked_when_a_secret_is_set(worker_factory, topics, receiver_factory):
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker), events_secret="k3y")
    body = json.dumps(transition(5)).encode()
    unsigned = receiver.post("/events", body)
    assert unsigned.status_code == 401 and "X-Flowmeter-Signature" in unsigned.json()["error"]
    forged = receiver.post("/events", body, **{"X-Flowmeter-Signature": signed("other", body)})
    assert forged.status_code == 401
    good = receiver.post("/events", body, **{"X-Flowmeter-Signature": signed("k3y", body)})
    assert good.status_code == 200 and good.json()["accepted"] == 1
    assert worker.wait_accounted(1)["by_kind"]["transition"]["landed"] == 1


def test_503_while_the_broker_is_down_then_recovers(tmp_path, receiver_factory):
    """Nothing is kept that the broker did not acknowledge: the sender gets 503 and retries."""
    port = free_port()
    prefix = "rx."
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update(
        FLOWMETER_BROKER=f"kafka://127.0.0.1:{port}",
        FLOWMETER_TOPIC_PREFIX=prefix,
        FLOWMETER_DB=str(tmp_path / "none.duckdb"),
    )
    topics = [f"{prefix}transitions", f"{prefix}deploys", f"{prefix}dead-letter"]
    first = EmbeddedBroker(log_path=ARTIFACTS / "broker-rx1.log", port=port).start()
    ensure_topics([f"127.0.0.1:{port}"], topics, 1)
    receiver = receiver_factory(env)
    assert receiver.post("/events", json.dumps(transition(1)).encode()).status_code == 200
    first.stop()

    retried = json.dumps(transition(2)).encode()
    # The first try meets the producer made before the outage, the second a fresh one (its bootstrap
    # waited 30 s), the third 20,000 bad lines to dead-letter: each a 503 within GitHub's 10 s.
    for body in (retried, retried, b"{bad\n" * 20_000):
        started = time.monotonic()
        down = receiver.post("/events", body)
        assert down.status_code == 503 and "retry later" in down.json()["error"]
        assert time.monotonic() - started < 10  # GitHub gives up on a delivery after 10 s (it took 11 s)

    second = EmbeddedBroker(log_path=ARTIFACTS / "broker-rx2.log", port=port).start()
    try:
        ensure_topics([f"127.0.0.1:{port}"], topics, 1)
        # The sender retries the same event until it is acknowledged.
        wait_until(lambda: receiver.post("/events", retried).status_code == 200, 60, "the receiver to recover")
        consumer = KafkaConsumer(
            topics[0],
            bootstrap_servers=f"127.0.0.1:{port}",
            group_id=None,
            auto_offset_reset="earliest",
            consumer_timeout_ms=3000,
        )
        ids = [json.loads(m.value)["event_id"] for m in consumer]
        consumer.close()
        assert "ev-2" in ids
    finally:
        second.stop()


def test_github_signature_and_a_replayed_delivery_lands_once(worker_factory, topics, receiver_factory):
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker), github_secret="gh-s3cret")
    body = json.dumps(deployment_status("success")).encode()
    headers = {"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": DELIVERY, "Content-Type": "application/json"}
    assert receiver.post("/webhooks/github", body, **headers).status_code == 401  # unsigned
    signed_headers = dict(headers, **{"X-Hub-Signature-256": signed("gh-s3cret", body)})
    first = receiver.post("/webhooks/github", body, **signed_headers)
    assert first.status_code == 200 and first.json()["accepted"] == 1
    # GitHub re-delivers with the same GUID and body: the receiver answers it again without producing.
    again = receiver.post("/webhooks/github", body, **signed_headers)
    assert again.status_code == 200 and again.json() == {**first.json(), "replayed": True}
    # The same change from a second hook (another GUID) is produced and lands as a duplicate.
    other = receiver.post("/webhooks/github", body, **dict(signed_headers, **{"X-GitHub-Delivery": "second-hook"}))
    assert other.status_code == 200 and "replayed" not in other.json()
    final = worker.wait_accounted(2)
    deploy = final["by_kind"]["deploy"]
    assert (deploy["landed"], deploy["duplicates"]) == (1, 1)
    ping = receiver.post(
        "/webhooks/github",
        b"{}",
        **dict(signed_headers, **{"X-GitHub-Event": "ping", "X-Hub-Signature-256": signed("gh-s3cret", b"{}")}),
    )
    assert ping.status_code == 200


def test_jira_status_change_lands_as_a_transition(worker_factory, topics, receiver_factory):
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker), jira_secret="j1ra")
    body = json.dumps(updated([STATUS_PROGRESS_TO_REVIEW], status="Review")).encode()
    assert receiver.post("/webhooks/jira", body, **{"X-Hub-Signature": "sha256=0"}).status_code == 401
    answer = receiver.post("/webhooks/jira", body, **{"X-Hub-Signature": signed("j1ra", body)})
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    final = worker.wait_accounted(1)
    assert final["by_kind"]["transition"]["landed"] == 1
    rows = requests.post(
        f"{worker.url}/api/sql", json={"sql": "SELECT from_state, to_state, source FROM transitions"}, timeout=10
    ).json()["rows"]
    assert rows == [{"from_state": "In Progress", "to_state": "Review", "source": "jira"}]


def test_unmappable_webhook_is_kept_on_the_dead_letter_topic(worker_factory, topics, receiver_factory):
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker))
    answer = receiver.post("/webhooks/jira", b'{"webhookEvent": "jira:issue_updated", "issue": {}}')
    assert answer.status_code == 202 and answer.json()["accepted"] == 0
    reason = answer.json()["dead_lettered"][0]
    final = worker.wait_accounted(1)
    assert final["by_kind"]["unknown"]["dead_lettered"] == 1
    assert final["recent_dead_letters"][0]["reason"] == reason


def test_alertmanager_firing_then_resolved_lands_once_each_and_a_wrong_token_is_refused(
    worker_factory, topics, receiver_factory
):
    """Alertmanager as configured with http_config.authorization (a Bearer token): the firing
    notification, its repeat (repeat_interval) and the resolved one make one incident, opened and
    resolved; payloads as https://prometheus.io/docs/alerting/latest/configuration/#webhook_config."""
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker), alertmanager_token="am-t0ken")
    firing = json.dumps(alertmanager(alert("firing"))).encode()
    resolved = json.dumps(alertmanager(alert("resolved", ends="2025-03-04T16:55:00Z"), status="resolved")).encode()
    assert receiver.post("/webhooks/alertmanager", firing).status_code == 401
    wrong = receiver.post("/webhooks/alertmanager", firing, Authorization="Bearer other")
    assert wrong.status_code == 401 and "alertmanager_token" in wrong.json()["error"]
    auth = {"Authorization": "Bearer am-t0ken", "Content-Type": "application/json"}
    for body in (firing, firing, resolved):  # the second is Alertmanager repeating the firing alert
        answer = receiver.post("/webhooks/alertmanager", body, **auth)
        assert answer.status_code == 200 and answer.json()["accepted"] == 1, answer.text
    final = worker.wait_accounted(3)
    assert (final["by_kind"]["incident"]["landed"], final["by_kind"]["incident"]["duplicates"]) == (2, 1)
    rows = requests.post(
        f"{worker.url}/api/sql",
        json={"sql": "SELECT incident_id, service, status, occurred_at FROM incidents ORDER BY occurred_at"},
        timeout=10,
    ).json()["rows"]
    # startsAt 17:20:00.123456789+01:00 = 16:20:00.123456 UTC; endsAt 16:55:00Z: restored in 34:59.877 min
    assert [(r["incident_id"], r["service"], r["status"], r["occurred_at"][:26]) for r in rows] == [
        ("alertmanager:1a30ba71cca2921f", "payments-api", "opened", "2025-03-04T16:20:00.123456"),
        ("alertmanager:1a30ba71cca2921f", "payments-api", "resolved", "2025-03-04T16:55:00Z"),
    ]
    # ... and on to the stability views (issue 16's end to end): one resolved critical incident, restored in
    # 16:20:00.123456 -> 16:55:00 = 2,099.876544 s = 0.583299 h, in the week of Monday 2025-03-03.
    ttr = requests.post(
        f"{worker.url}/api/sql",
        json={
            "sql": "SELECT service, environment, severity_level, week, incidents, median_hours, p85_hours, "
            "mean_hours FROM time_to_restore"
        },
        timeout=10,
    ).json()["rows"]
    assert [(r["service"], r["environment"], r["severity_level"], r["week"], r["incidents"]) for r in ttr] == [
        ("payments-api", "production", "critical", "2025-03-03", 1)
    ]
    assert [round(ttr[0][k], 6) for k in ("median_hours", "p85_hours", "mean_hours")] == [0.583299] * 3

"""Hostile HTTP input against the real receiver process and the session broker (issue 13, items 2 and 5).

The cases are data: tests/attacks/hostile_http.jsonl, one per line, each with what it attacks
(`attack`), the path, headers and body (`json`, `text`, `lines` or `hex`; `expand` replaces a
marker with a repeated string, for the megabyte and 5,000-level bodies), the status expected,
a fragment of the one-sentence reason, and how many events and dead letters it must leave on
the topics. A new finding is one more line.

Payloads and headers follow the senders' documentation:
- GitHub: https://docs.github.com/en/webhooks/webhook-events-and-payloads (X-GitHub-Event,
  X-GitHub-Delivery, X-Hub-Signature-256: sha256=<HMAC-SHA256 hex>; the `issues` and
  `deployment_status` payloads); GitHub gives up on a delivery after 10 s.
- Jira Cloud: https://developer.atlassian.com/cloud/jira/platform/webhooks/ (jira:issue_created,
  jira:issue_updated, X-Atlassian-Webhook-Identifier, unchanged across retries).
- CDEvents over CloudEvents: https://github.com/cdevents/spec (service.deployed, 0.4).

For each case: the status class and code, one sentence back, an answer within 10 s, and every
2xx accounted for on the topics: exactly `accepted` events that the worker's parser accepts
and `dead` dead letters whose reasons are the ones answered, each message within Kafka's size.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka import KafkaConsumer, TopicPartition

from flowcore.events import parse_deploy, parse_transition
from sources.rejects import KEPT_BYTES, MAX_MESSAGE
from streams.topics import ensure_topics
from tests.helpers.events import transition
from tests.helpers.receiver import Receiver, cli_env
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker]

CASES = [json.loads(line) for line in (Path(__file__).parent / "attacks" / "hostile_http.jsonl").open() if line.strip()]
SECRETS = {"/webhooks/github": "gh-s3cret", "/webhooks/cdevents": "cd-s3cret"}
SIGNATURE_HEADERS = {"/webhooks/github": "X-Hub-Signature-256", "/webhooks/cdevents": "X-Flowmeter-Signature"}
ANSWER_WITHIN = 10.0  # GitHub's delivery timeout


def body_of(case: dict[str, Any]) -> bytes:
    if "hex" in case:
        return bytes.fromhex(case["hex"])
    if "json" in case:
        text = json.dumps(case["json"])  # ASCII: a lone surrogate stays the escape \ud800 on the wire
    elif "lines" in case:
        text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in case["lines"])
    else:
        text = case["text"]
    for marker, (piece, times) in case.get("expand", {}).items():
        text = text.replace(marker, piece * times)
    return text.encode()


def headers_of(case: dict[str, Any], body: bytes) -> dict[str, bytes]:
    headers = {name: value.encode() for name, value in case["headers"].items()}  # raw UTF-8, as sent
    if case["sign"]:
        digest = hmac.new(SECRETS[case["path"]].encode(), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADERS[case["path"]]] = f"sha256={digest}".encode()
    return headers


class Topics:
    """Reads the receiver's three topics forward, message by message, across the module's cases."""

    def __init__(self, broker: str, names: list[str]) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=broker.removeprefix("kafka://"),
            group_id=None,
            enable_auto_commit=False,
            max_partition_fetch_bytes=2 * 1024 * 1024,
        )
        self.consumer.assign([TopicPartition(name, 0) for name in names])
        self.consumer.seek_to_beginning()
        self.pending: list[Any] = []

    def take(self, count: int, timeout: float = 30) -> list[Any]:
        def enough() -> bool:
            for records in self.consumer.poll(timeout_ms=200).values():
                self.pending.extend(records)
            return len(self.pending) >= count

        if count:
            wait_until(enough, timeout, f"{count} messages on the receiver's topics")
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken

    def rest(self, polls: int = 5) -> list[Any]:
        """Whatever else is on the topics now (a few polls)."""
        for _ in range(polls):
            for records in self.consumer.poll(timeout_ms=200).values():
                self.pending.extend(records)
        rest, self.pending = self.pending, []
        return rest


@pytest.fixture(scope="module")
def hostile(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Topics, dict]]:
    prefix = f"hx{os.getpid()}{int(time.time())}."
    names = {"transition": f"{prefix}transitions", "deploy": f"{prefix}deploys", "dead": f"{prefix}dead-letter"}
    ensure_topics([broker.removeprefix("kafka://")], list(names.values()), partitions=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update(
        FLOWMETER_BROKER=broker,
        FLOWMETER_TOPIC_PREFIX=prefix,
        FLOWMETER_DB=str(tmp_path_factory.mktemp("hostile") / "none.duckdb"),
        FLOWMETER_GITHUB_SECRET=SECRETS["/webhooks/github"],
        FLOWMETER_CDEVENTS_SECRET=SECRETS["/webhooks/cdevents"],
    )
    receiver = Receiver(env, tmp_path_factory.mktemp("hostile-log") / "receiver.log")
    topics = Topics(broker, list(names.values()))
    yield receiver, topics, names
    topics.consumer.close()
    receiver.stop()


def one_sentence(text: str) -> bool:
    return bool(text) and "\n" not in text and "Traceback" not in text and text.rstrip().endswith((".", "…", ")"))


@pytest.mark.parametrize("case", CASES, ids=[f"{n:02d}-{c['attack'][:50]}" for n, c in enumerate(CASES, 1)])
def test_hostile_request_gets_a_true_answer_and_nothing_is_lost(hostile, case):
    receiver, topics, names = hostile
    body = body_of(case)
    started = time.monotonic()
    answer = requests.post(f"{receiver.url}{case['path']}", data=body, headers=headers_of(case, body), timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_WITHIN, f"answered after {elapsed:.1f} s"
    assert answer.status_code == case["status"], answer.text[:500]
    doc = answer.json()
    if answer.status_code >= 400:
        assert case["reason"] in doc["error"] and one_sentence(doc["error"]), doc
        return
    if "pong" in doc:
        return
    assert (doc["accepted"], doc["dead_lettered_total"]) == (case["accepted"], case["dead"]), doc
    assert all(one_sentence(reason) for reason in doc["dead_lettered"]), doc["dead_lettered"]
    if case["reason"]:
        assert case["reason"] in doc["dead_lettered"][0]
    check_topics(topics, names, case["accepted"], doc["dead_lettered"], case["dead"])


def check_topics(topics: Topics, names: dict[str, str], accepted: int, reasons: list[str], dead: int) -> None:
    """Exactly `accepted` valid events and `dead` dead letters arrived, the answered reasons among them."""
    messages = topics.take(accepted + dead)
    events = [m for m in messages if m.topic in (names["transition"], names["deploy"])]
    letters = [m for m in messages if m.topic == names["dead"]]
    assert (len(events), len(letters)) == (accepted, dead)
    for message in events:
        (parse_deploy if message.topic == names["deploy"] else parse_transition)(message.value)
    found = []
    for message in letters:
        headers = {k: v.decode() for k, v in message.headers}
        assert headers["flowmeter-origin"] == "receiver" and headers["flowmeter-reason"]
        assert len(message.value) <= MAX_MESSAGE
        # Every dead letter says its size; a cut copy is the first KEPT_BYTES of a larger message.
        if int(headers["flowmeter-original-bytes"]) > MAX_MESSAGE:
            assert len(message.value) == KEPT_BYTES
        else:
            assert int(headers["flowmeter-original-bytes"]) == len(message.value)
        found.append(headers["flowmeter-reason"])
    assert found[: len(reasons)] == reasons  # one partition: in the order they were answered


def test_a_replayed_delivery_is_answered_again_not_dead_lettered_again(hostile):
    """GitHub re-sends with the same X-GitHub-Delivery; Jira with the same X-Atlassian-Webhook-Identifier."""
    receiver, topics, names = hostile
    for path, headers, secret in [
        ("/webhooks/github", {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "replayed-guid-1"}, "gh-s3cret"),
        ("/webhooks/jira", {"X-Atlassian-Webhook-Identifier": "replayed-jira-1"}, None),
    ]:
        body = b'{"action": "opened", "issue": "not an object", "webhookEvent": "jira:issue_created"}'
        if secret:
            headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        first = requests.post(f"{receiver.url}{path}", data=body, headers=headers, timeout=30)
        again = requests.post(f"{receiver.url}{path}", data=body, headers=headers, timeout=30)
        assert first.status_code == again.status_code == 202
        assert again.json() == {**first.json(), "replayed": True}
        # One dead letter, then the control event: the replay added nothing in between.
        control = requests.post(f"{receiver.url}/events", data=json.dumps(transition(1)).encode(), timeout=30)
        assert control.status_code == 200
        # The dead letter and the control event; the replay added nothing (both were acknowledged
        # before the control was sent, so a second dead letter would be on the broker by now).
        assert sorted(m.topic for m in topics.take(2)) == sorted([names["dead"], names["transition"]])
        assert topics.rest() == []


def test_the_http_poison_pills_of_issue_13_leave_the_worker_running(worker_factory, topics, receiver_factory):
    """The three from item 2, with good events around them: all accounted, the worker never exits."""
    worker = worker_factory().start()
    receiver = receiver_factory(cli_env(worker))
    pills = [
        ("/events", json.dumps(transition(1, board="b\ud800")).encode(), {}),
        (
            "/webhooks/jira",
            json.dumps(
                {
                    "webhookEvent": "jira:issue_created",
                    "timestamp": 1714550000000,
                    "issue": {
                        "id": "1",
                        "key": "PAY-1",
                        "fields": {
                            "project": {"key": "PAY"},
                            "status": {"name": "Backlog"},
                            "created": "9999-12-31T23:59:59.000-1400",
                        },
                    },
                }
            ).encode(),
            {"X-Atlassian-Webhook-Identifier": "pill-2"},
        ),
        ("/events", json.dumps(transition(3, ticket_id="x" * 1_000_000)).encode(), {}),
    ]
    for number, (path, body, headers) in enumerate(pills):
        good = receiver.post("/events", json.dumps(transition(100 + number)).encode())
        assert good.status_code == 200
        answer = receiver.post(path, body, **headers)
        assert answer.status_code == 202 and answer.json()["dead_lettered_total"] == 1, answer.text[:300]
    final = worker.wait_accounted(6)
    assert worker.process.poll() is None
    assert final["by_kind"]["transition"]["landed"] == 3
    dead = sum(row["dead_lettered"] for row in final["kinds"])
    assert dead == 3  # 3 pills; each once, whichever kind it was recorded under


def test_a_worker_accounts_for_everything_the_hostile_requests_left(hostile, worker_factory):
    """Last in this file (pytest runs a file's tests in order): a real worker reads what every
    case above left on the topics, and the counts add up exactly: every event the receiver
    produced lands or is a known duplicate (cases resend the same event ids), every dead letter
    it produced is kept once, and the worker never exits."""
    _, _, names = hostile
    prefix = names["transition"].removesuffix("transitions")
    consumer = KafkaConsumer(bootstrap_servers=hostile[1].consumer.config["bootstrap_servers"])
    try:
        ends = consumer.end_offsets([TopicPartition(topic, 0) for topic in names.values()])
    finally:
        consumer.close()
    on = {tp.topic: offset for tp, offset in ends.items()}  # one partition each: end offset = count
    events, dead = on[names["transition"]] + on[names["deploy"]], on[names["dead"]]
    assert events > 0 and dead >= 100, (events, dead)  # the list leaves well over 100 dead letters
    worker = worker_factory(topic_prefix=prefix, partitions=1).start()
    report = worker.wait_accounted(events + dead, timeout=120)
    assert worker.process.poll() is None
    rows = report["by_kind"]
    landed = sum(r["landed"] for r in rows.values())
    duplicates = sum(r["duplicates"] for r in rows.values())
    dead_lettered = sum(r["dead_lettered"] for r in rows.values())
    assert (landed + duplicates, dead_lettered) == (events, dead)

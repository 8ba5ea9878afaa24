"""WIP-limit alerts end to end: the real embedded broker, a real worker process and a real
local HTTP receiver on a port the OS picks. Board 'payments' uses the built-in states
(Backlog, In Progress, Review, QA, Done); the limit is Review <= 2 unless a test says so."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from kafka import KafkaConsumer

from streams.broker import free_port
from tests.helpers.alerts import SECRET, breach, query, send, settings_file, to_qa, to_review
from tests.helpers.events import encode, transition
from tests.helpers.hook import AlertHook
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def alert_state(worker) -> list[list]:
    return query(worker, "SELECT level, status, value FROM alerts ORDER BY started_at")


def test_breach_fires_once_staying_fires_none_and_recovery_fires_once(
    worker_factory, names, producer, broker, tmp_path
):
    with AlertHook() as hook:
        extra = '\n[alerts.chat]\nkind = "slack"\nurl = "' + hook.url + '/slack"\n\n[alerts.stream]\nkind = "kafka"\n'
        conf = settings_file(tmp_path, hook.url, routes='["hook", "chat", "stream"]', extra=extra)
        w = worker_factory(settings=conf, alert_cooldown=1).start()
        # R1, R2 in Review: WIP 2 = the limit. R3: WIP 3 > 2, the breach.
        send(producer, names["transitions"], to_review(1, "R1"), to_review(2, "R2"))
        w.wait_accounted(2)
        send(producer, names["transitions"], to_review(3, "R3"))
        fired = wait_until(lambda: hook.answered("/alerts"), 30, "the breach notice")
        # Staying in breach (WIP 4, then 5) queues nothing more.
        send(producer, names["transitions"], to_review(4, "R4"))
        w.wait_accounted(4)
        send(producer, names["transitions"], to_review(5, "R5"))
        w.wait_accounted(5)
        wait_until(lambda: alert_state(w) == [["breach", "open", 5.0]], 15, "the episode to see WIP 5")

        # Back to 2: recovered after the 1 s cooldown.
        send(producer, names["transitions"], *(to_qa(n, t) for n, t in ((6, "R3"), (7, "R4"), (8, "R5"))))
        wait_until(lambda: len(hook.answered("/alerts")) == 2, 30, "the recovery notice")
        notices = [r.json for r in hook.answered("/alerts")]
        assert [n["type"] for n in notices] == ["dev.flowmeter.alert.fired", "dev.flowmeter.alert.recovered"]
        assert notices[0]["data"]["alert_id"] == notices[1]["data"]["alert_id"]
        first = notices[0]["data"]
        assert (first["board"], first["states"], first["value"], first["wip_limit"]) == ("payments", ["Review"], 3, 2)
        assert [t["ticket_id"] for t in first["tickets"]] == ["R1", "R2", "R3"]  # oldest in Review first
        assert first["link"].endswith(f"/alerts?alert={first['alert_id']}")
        assert notices[1]["data"]["value"] == 2
        # The webhook is signed; the Slack route got a Slack message; the Kafka route a CloudEvent.
        request = fired[0]
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Flowmeter-Signature"] == f"sha256={expected}"
        assert request.headers["Idempotency-Key"] == notices[0]["id"]
        slack = wait_until(lambda: len(hook.answered("/slack")) == 2 and hook.answered("/slack"), 30, "Slack")
        assert slack[0].json["text"] == first["summary"] and "blocks" in slack[0].json
        assert [e["type"] for e in read_topic(broker, names["prefix"] + "alerts", 2)] == [
            "dev.flowmeter.alert.fired",
            "dev.flowmeter.alert.recovered",
        ]
        assert alert_state(w) == [["breach", "resolved", 2.0]]
        assert query(w, "SELECT count(*), count(*) FILTER (WHERE status = 'delivered') FROM alert_deliveries") == [
            [6, 6]
        ]  # 2 notices x 3 routes


def read_topic(broker: str, topic: str, expected: int, timeout: float = 30) -> list[dict]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.removeprefix("kafka://"),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1000,
    )
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < expected and time.monotonic() < deadline:
            found += [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()
    return found


def test_flapping_within_the_cooldown_fires_nothing_more(worker_factory, names, producer, tmp_path):
    with AlertHook() as hook:
        w = worker_factory(settings=settings_file(tmp_path, hook.url), alert_cooldown=60).start()
        send(producer, names["transitions"], to_review(1, "R1"), to_review(2, "R2"), to_review(3, "R3"))
        wait_until(lambda: hook.answered(), 30, "the breach notice")
        w.wait_accounted(3)
        # Flap 3 -> 2 -> 3 -> 2 -> 3 -> 2, each step landed (and judged) before the next.
        steps = [to_qa(4, "R3"), to_review(5, "R4"), to_qa(6, "R4"), to_review(7, "R5"), to_qa(8, "R5")]
        for landed, step in enumerate(steps, start=4):
            send(producer, names["transitions"], step)
            w.wait_accounted(landed)
            expected_wip = 2.0 if landed % 2 == 0 else 3.0
            wait_until(
                lambda want=expected_wip: alert_state(w)[0][2] == want, 15, f"the episode to see WIP {expected_wip}"
            )
        [(level, status, _)] = alert_state(w)
        assert level == "breach" and status in ("open", "recovering")
        assert query(w, "SELECT count(*) FROM alert_deliveries")[0][0] == 1
        assert len(hook.received) == 1


def test_a_receiver_answering_500_then_200_gets_the_alert_once_after_a_retry(worker_factory, names, producer, tmp_path):
    with AlertHook(statuses=[500]) as hook:
        w = worker_factory(settings=settings_file(tmp_path, hook.url)).start()
        breach(producer, names)
        wait_until(lambda: hook.answered(), 30, "the retried notice")
        # The first attempt got a 500, the retry (1 s later) a 200: the same notice, the same key.
        assert [r.status for r in hook.received] == [500, 200]
        keys = {r.headers["Idempotency-Key"] for r in hook.received}
        assert len(keys) == 1 and {r.body for r in hook.received} == {hook.received[0].body}
        # The 500 was the receiver's word that it did not take it: no resend; the success clears the error.
        wait_until(
            lambda: (
                query(w, "SELECT status, attempts, resends, last_error FROM alert_deliveries")
                == [["delivered", 2, 0, None]]
            ),
            15,
            "the delivery recorded",
        )


def test_a_receiver_down_across_a_worker_restart_still_gets_the_alert(worker_factory, names, producer, tmp_path):
    port = free_port()  # nothing listens here yet
    url = f"http://127.0.0.1:{port}"
    w = worker_factory(settings=settings_file(tmp_path, url), alert_retries=20, alert_backoff_max=1).start()
    breach(producer, names)
    failed = wait_until(
        # A claim counts its attempt before the outcome is stored: wait for the stored error.
        lambda: query(w, "SELECT attempts, last_error FROM alert_deliveries WHERE last_error IS NOT NULL"),
        30,
        "a failed attempt",
    )
    assert failed[0][1].startswith(f"cannot connect to {url}")
    assert w.stop() == 0
    with AlertHook(port=port) as hook:
        w.start()
        [got] = wait_until(lambda: hook.answered(), 30, "the notice after the restart")
        assert got.json["type"] == "dev.flowmeter.alert.fired" and got.json["data"]["value"] == 3
        # Refused connections sent nothing: however many attempts, none was a resend.
        wait_until(
            lambda: query(w, "SELECT status, resends, last_error FROM alert_deliveries") == [["delivered", 0, None]],
            15,
            "delivered",
        )
    assert query(w, "SELECT count(*) FROM alerts")[0][0] == 1  # the restart did not fire it again


def test_a_burst_of_50000_events_lands_while_the_receiver_never_answers(worker_factory, names, producer, tmp_path):
    with AlertHook(hang=True) as hook:
        w = worker_factory(
            settings=settings_file(tmp_path, hook.url), alert_timeout=1, alert_backoff_max=1, alert_retries=100
        ).start()
        breach(producer, names)
        wait_until(lambda: hook.received, 30, "the first (unanswered) attempt")
        started = time.monotonic()
        for n in range(100, 50_100):  # tickets T-0..T-499 move into In Progress: not Review, no new alert
            producer.send(names["transitions"], key=f"T-{n % 500}".encode(), value=encode(transition(n)))
        producer.flush(60)
        report = w.wait_accounted(50_003, timeout=240)
        took = time.monotonic() - started
        assert report["by_kind"]["transition"]["landed"] == 50_003
        pending = query(w, "SELECT status, attempts, last_error FROM alert_deliveries")
        assert pending[0][0] == "pending" and pending[0][1] >= 1
        assert pending[0][2] == f"no answer from {hook.url} within 1 s"
        print(f"50,000 events landed in {took:.1f} s while the receiver hung ({len(hook.received)} attempts)")


def test_replayed_history_is_judged_once_quiet_for_the_state_it_ends_in(worker_factory, names, producer, tmp_path):
    with AlertHook() as hook:
        w = worker_factory(settings=settings_file(tmp_path, hook.url)).start()
        # A day-old burst: R1..R4 enter Review, then R4 leaves. Batch by batch the store may pass
        # through states that were never true at once; only the end state (3 > 2) is judged.
        old = [
            encode(
                transition(
                    n, ticket_id=f"R{n}", from_state="In Progress", to_state="Review", at=f"2026-01-01T10:0{n}:00Z"
                )
            )
            for n in range(1, 5)
        ]
        old.append(encode(transition(5, ticket_id="R4", from_state="Review", to_state="QA", at="2026-01-01T10:09:00Z")))
        send(producer, names["transitions"], *old)
        w.wait_accounted(5)
        [got] = wait_until(lambda: hook.answered(), 30, "the notice after the stream went quiet")
        assert got.json["data"]["value"] == 3
        assert "history being replayed" in w.log_path.read_text()
        assert query(w, "SELECT count(*) FROM alerts")[0][0] == 1

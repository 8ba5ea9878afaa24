"""Alert latency: from producing the event that breaches a WIP limit to a webhook receiving the alert.

Starts an embedded broker, a real worker with the default batch settings
and a local webhook receiver. The limit is Review <= 0, so each repetition is one breach: a
ticket enters Review (timed from just before the send), the alert is awaited at the receiver,
then the ticket leaves Review and the recovery notice is awaited (alert_cooldown 0), so the
next repetition is a new episode. Baseline in the same run: the same event becoming visible
to a query through the worker's query service (polled every 10 ms), i.e. what landing alone
costs; alerting's own share is the difference.
Run: python -m benchmarks.alert_latency --breaches 40
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer

from benchmarks.query_latency import Worker
from streams.broker import EmbeddedBroker
from streams.topics import ensure_topics
from tests.helpers.hook import AlertHook
from tests.helpers.waiting import poll

TARGET_P95 = 2.0
# Event times just before now: alerts judge fresh events (older batches are history being replayed).
START = datetime.now(UTC) - timedelta(minutes=5)
SETTINGS = """
[boards.bench]
states = [
  {{ name = "Backlog", category = "backlog" }},
  {{ name = "In Progress", category = "active" }},
  {{ name = "Review", category = "queue" }},
  {{ name = "Done", category = "done" }},
]

[[boards.bench.wip_limits]]
states = ["Review"]
limit = 0
routes = ["hook"]

[alerts.hook]
kind = "webhook"
url = "{url}/alerts"
"""


def transition(n: int, ticket: str, frm: str | None, to: str) -> bytes:
    at = START + timedelta(seconds=n)
    return json.dumps(
        {
            "event_id": f"al-{n}",
            "ticket_id": ticket,
            "board": "bench",
            "from_state": frm,
            "to_state": to,
            "at": at.isoformat(),
        }
    ).encode()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.005):
    try:
        return poll(predicate, timeout, what, interval)
    except TimeoutError as exc:
        raise SystemExit(str(exc)) from None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--breaches", type=int, default=40, help="repetitions (one breach and recovery each)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for any one step")
    args = parser.parse_args(argv)

    broker = EmbeddedBroker().start()
    server = broker.url.removeprefix("kafka://")
    prefix = f"al{uuid.uuid4().hex[:6]}."
    ensure_topics([server], [f"{prefix}transitions"], partitions=4)
    with AlertHook() as hook:
        worker = Worker(server, prefix)
        settings = worker.dir / "flowmeter.toml"
        settings.write_text(SETTINGS.format(url=hook.url))
        worker.env.update(
            FLOWMETER_SETTINGS=str(settings), FLOWMETER_ALERT_COOLDOWN="0", FLOWMETER_AGING_ALERTS="false"
        )
        producer = KafkaProducer(bootstrap_servers=server, acks="all", linger_ms=0)
        topic = f"{prefix}transitions"
        try:
            worker.start()
            wait_for(lambda: _listening(worker), args.timeout, "the worker", interval=0.2)
            alert_latency, visible_latency = [], []
            for i in range(args.breaches):
                ticket, n = f"B-{i}", 3 * i
                producer.send(topic, key=ticket.encode(), value=transition(n, ticket, None, "In Progress"))
                producer.flush()
                before = len(hook.answered())
                sent = time.time()
                producer.send(topic, key=ticket.encode(), value=transition(n + 1, ticket, "In Progress", "Review"))
                producer.flush()
                wait_for(lambda n=n: _visible(worker, f"al-{n + 1}"), args.timeout, "the event to be queryable")
                visible_latency.append(time.time() - sent)
                fired = wait_for(
                    lambda before=before: len(hook.answered()) > before and hook.answered()[before],
                    args.timeout,
                    f"alert {i + 1}",
                )
                if json.loads(fired.body)["type"] != "dev.flowmeter.alert.fired":
                    raise SystemExit(f"expected a fired notice, got {fired.body[:200]!r}")
                alert_latency.append(fired.at - sent)
                producer.send(topic, key=ticket.encode(), value=transition(n + 2, ticket, "Review", "Done"))
                producer.flush()
                wait_for(lambda before=before: len(hook.answered()) > before + 1, args.timeout, f"recovery {i + 1}")
        finally:
            producer.close(timeout=10)
            if worker.process is not None and worker.process.poll() is None:
                worker.process.terminate()
                worker.process.wait(30)
            broker.stop()

    print(f"{args.breaches} breaches, default batch settings, webhook on 127.0.0.1")
    print(f"{'seconds':<44} {'p50':>7} {'p95':>7} {'max':>7}")
    rows = [
        ("produce -> webhook receives the alert", alert_latency),
        ("baseline: produce -> queryable via /api/sql", visible_latency),
        ("alerting's share (alert - queryable)", [a - v for a, v in zip(alert_latency, visible_latency)]),
    ]
    for label, values in rows:
        print(f"{label:<44} {statistics.median(values):>7.3f} {percentile(values, 0.95):>7.3f} {max(values):>7.3f}")
    p95 = percentile(alert_latency, 0.95)
    print(f"target p95 < {TARGET_P95:.1f} s: {'met' if p95 < TARGET_P95 else 'NOT met'} ({p95:.3f} s)")
    sys.stdout.flush()


def _listening(worker: Worker) -> bool:
    try:
        return worker.http.get(f"{worker.url}/api/status", timeout=2).status_code == 200
    except Exception:
        return False


def _visible(worker: Worker, event_id: str) -> bool:
    response = worker.http.post(
        f"{worker.url}/api/sql",
        timeout=10,
        json={"sql": f"SELECT count(*) AS n FROM transitions WHERE event_id = '{event_id}'"},
    )
    return response.ok and response.json()["rows"][0]["n"] == 1


if __name__ == "__main__":
    main()

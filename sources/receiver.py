"""`flowmeter receive`: webhooks in, v1 events out to Kafka.

One path per source. Each request is verified (HMAC signature when a secret is set),
mapped by its adapter, and produced; the answer is 2xx only after the broker acknowledged
every event, and 503 while the broker cannot, so the sender retries and nothing is lost.
Re-deliveries map to the same event_ids and land once. A payload an adapter cannot map
is kept on the dead-letter topic with the reason (202), never dropped.

POST /webhooks/jira       Jira issue_created / issue_updated    X-Hub-Signature: sha256=<hex>
POST /webhooks/github     GitHub issues, projects_v2_item, deployment_status, ...
                                                                 X-Hub-Signature-256: sha256=<hex>
POST /webhooks/cdevents   CloudEvents (binary or structured)    X-Flowmeter-Signature: sha256=<hex>
POST /events              v1 JSON, one object or JSON Lines      X-Flowmeter-Signature: sha256=<hex>
GET  /healthz
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any, Callable

from aiohttp import web
from kafka import KafkaProducer
from kafka.errors import KafkaError

from flowmeter.settings import Settings, bootstrap_servers
from sources.adapters import Mapped, Unmappable

log = logging.getLogger(__name__)
Mapping = tuple[Mapped, list[tuple[bytes, str]]]  # events, and (raw, reason) to dead-letter

MAX_BODY = 5 * 1024 * 1024  # a Jira issue with a long changelog fits; anything bigger is not a webhook
ACK_TIMEOUT = 10.0  # seconds to wait for the broker before answering 503


class Broker:
    """A kafka-python producer made on first use, so the receiver starts (and says 503)
    while the broker is down, and recovers by itself when it is back."""

    def __init__(self, conf: Settings, broker: str) -> None:
        self._servers = bootstrap_servers(broker)
        self._topics = {"transition": conf.transitions_topic, "deploy": conf.deploys_topic,
                        "dead": conf.dead_letter_topic}
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        if self._producer is None:
            # No idempotent producer: after a broker restart its producer id is refused and the
            # client stays failed for good. Duplicates are harmless: the worker dedups on event_id.
            self._producer = KafkaProducer(bootstrap_servers=self._servers, acks="all", linger_ms=2,
                                           max_block_ms=5000, request_timeout_ms=5000, retries=2,
                                           enable_idempotence=False, client_id="flowmeter-receiver")
        return self._producer

    def reset(self) -> None:
        """Drop the producer after a failure; the next request makes a fresh one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except KafkaError:
                pass  # unsent records are dropped on purpose: their sender was told 503 and retries

    def send_all(self, events: Mapped) -> None:
        """Produce and wait for the broker's ack of every event (blocking: run in a thread)."""
        producer = self._get()
        futures = []
        for kind, event in events:
            key = event.get("service" if kind == "deploy" else "ticket_id")
            value = json.dumps(event, separators=(",", ":")).encode()
            futures.append(producer.send(self._topics[kind], key=str(key).encode() if key else None, value=value))
        for future in futures:
            future.get(timeout=ACK_TIMEOUT)

    def dead_letter(self, source: str, body: bytes, reason: str) -> None:
        headers = [("flowmeter-reason", reason.encode()), ("flowmeter-source", source.encode()),
                   ("flowmeter-kind", b"unknown"), ("flowmeter-origin", b"receiver")]
        self._get().send(self._topics["dead"], key=source.encode(), value=body, headers=headers).get(
            timeout=ACK_TIMEOUT)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """`given` is 'sha256=<hex HMAC-SHA256 of the body>' (GitHub's and Jira's form)."""
    if not given or not given.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given[len("sha256="):].strip())


def build_app(conf: Settings, broker: Broker) -> web.Application:
    from sources.adapters import cdevents, generic, github, jira

    def json_body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise Unmappable(f"the body is not JSON ({exc.__class__.__name__}: {exc}).") from None

    # Each mapper returns (events, rejects): rejects are (bytes, reason) to dead-letter.
    def jira_events(request: web.Request, body: bytes) -> Mapping:
        return jira.from_webhook(json_body(body), team_field=conf.jira_team_field), []

    def github_events(request: web.Request, body: bytes) -> Mapping:
        return github.from_webhook(request.headers.get("X-GitHub-Event", ""), json_body(body),
                                   request.headers.get("X-GitHub-Delivery"),
                                   label_states=conf.github_label_states), []

    def cdevents_events(request: web.Request, body: bytes) -> Mapping:
        return cdevents.from_cloudevent(dict(request.headers), body), []

    def v1_events(request: web.Request, body: bytes) -> Mapping:
        """One object (pretty-printed or not), or JSON Lines: each line on its own, so one bad
        line keeps the rest."""
        try:
            whole = json.loads(body)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            try:
                return generic.from_jsonl_line(body), []
            except Unmappable as exc:
                return [], [(body, str(exc))]
        events: Mapped = []
        rejects: list[tuple[bytes, str]] = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    events += generic.from_jsonl_line(line)
                except Unmappable as exc:
                    rejects.append((line, f"line {number}: {exc}"))
        return events, rejects

    app = web.Application(client_max_size=MAX_BODY)
    routes = [
        ("/webhooks/jira", "jira", conf.jira_secret, "X-Hub-Signature", jira_events),
        ("/webhooks/github", "github", conf.github_secret, "X-Hub-Signature-256", github_events),
        ("/webhooks/cdevents", "cdevents", conf.cdevents_secret, "X-Flowmeter-Signature", cdevents_events),
        ("/events", "events", conf.events_secret, "X-Flowmeter-Signature", v1_events),
    ]
    for path, name, secret, header, mapper in routes:
        if secret is None:
            log.warning("no secret set for %s: anyone who can reach %s can post events", name, path)
        app.router.add_post(path, _handler(name, secret.get_secret_value() if secret else None, header, mapper,
                                           broker))
    app.router.add_get("/healthz", lambda _request: web.json_response({"ok": True}))
    return app


def _handler(name: str, secret: str | None, header: str,
             mapper: Callable[[web.Request, bytes], Mapping], broker: Broker) -> Callable:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        if secret is not None and not signature_ok(secret, body, request.headers.get(header)):
            return _error(401, f"the {header} signature is missing or does not match the configured secret.")
        if name == "github" and request.headers.get("X-GitHub-Event") == "ping":
            return web.json_response({"ok": True, "pong": True})
        loop = asyncio.get_running_loop()
        try:
            events, rejects = mapper(request, body)
        except Unmappable as exc:
            events, rejects = [], [(body, str(exc))]
        source = f"webhook:{name}:{request.headers.get('X-GitHub-Delivery') or ''}".rstrip(":")
        try:
            await loop.run_in_executor(None, broker.send_all, events)
            for raw, reason in rejects:
                await loop.run_in_executor(None, broker.dead_letter, source, raw, reason)
                log.warning("dead-lettered a %s payload: %s", name, reason)
        except KafkaError as exc:
            await loop.run_in_executor(None, broker.reset)
            return _unavailable(exc)
        answer = {"accepted": len(events), "dead_lettered": [reason for _, reason in rejects]}
        return web.json_response(answer, status=202 if rejects else 200)

    return handle


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _unavailable(exc: Exception) -> web.Response:
    log.error("the broker did not acknowledge: %s", exc)
    return _error(503, f"the broker did not acknowledge the events ({exc.__class__.__name__}); retry later, "
                       "nothing was kept.")


def run_receiver(conf: Settings, broker: str) -> None:
    """Serve until SIGINT/SIGTERM."""
    producer = Broker(conf, broker)
    try:
        web.run_app(build_app(conf, producer), host=conf.receiver_host, port=conf.receiver_port, print=None,
                    access_log=None, shutdown_timeout=10)
    finally:
        producer.close()

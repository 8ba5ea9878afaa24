"""`flowmeter receive`: webhooks in, v1 events out to Kafka.

One path per source. Each request is verified (HMAC signature when a secret is set),
mapped by its adapter, checked against the v1 contract with the worker's own parser, and
produced. The answer tells the truth about what happens next:

- 200: every event was acknowledged by the broker and the worker will land it;
- 202: some or all of it was kept on the dead-letter topic with a reason (a payload an
  adapter cannot map, a line that is not v1, an event the worker would refuse: an id over
  512 characters, a date before 2000, a lone surrogate, a date that overflows in UTC);
- 413: the body is over MAX_BODY, a permanent refusal (the sender must not retry it);
- 401: the signature is missing or wrong;
- 503: the broker did not acknowledge every message within ANSWER_WITHIN seconds; the sender
  retries (an event that did reach the broker lands once: the worker dedups on event_id).
  Every answer comes within 10 s (GitHub's delivery timeout).

Dead letters are sent together with the events and awaited once, not one by one. A message
over sources.rejects.MAX_MESSAGE is never sent whole: it is dead-lettered with its first bytes
and its original size (header `flowmeter-original-bytes`), so it is never retried forever.
Re-deliveries map to the same event_ids and land once; a re-sent delivery (same
X-GitHub-Delivery or X-Atlassian-Webhook-Identifier, same body) gets the first answer again
without producing anything, from an in-memory list of the last RECENT_DELIVERIES kept deliveries
(lost on restart: then the event_ids still dedupe events, and only a bad payload is
dead-lettered once more).

POST /webhooks/jira       Jira issue_created / issue_updated    X-Hub-Signature: sha256=<hex>
POST /webhooks/github     GitHub issues, projects_v2_item, deployment_status, ...
                                                                 X-Hub-Signature-256: sha256=<hex>
POST /webhooks/gitlab     GitLab Issue, Deployment hooks       X-Gitlab-Token: <gitlab_secret>
POST /webhooks/cdevents   CloudEvents (binary or structured)    X-Flowmeter-Signature: sha256=<hex>
POST /webhooks/alertmanager  Alertmanager webhook_config (v4)    Authorization: Bearer <token>
POST /webhooks/pagerduty  PagerDuty v3 incident.* webhooks      X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]
POST /webhooks/opsgenie   Opsgenie outgoing webhook actions     Authorization: Bearer <token> (a custom header)
POST /events              v1 JSON, one object or JSON Lines      X-Flowmeter-Signature: sha256=<hex>
GET  /healthz
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Mapping as Headers
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from flowcore import deadletter, routing
from flowcore.events import PARSERS
from flowcore.exposure import is_loopback
from flowcore.settings import Settings, bootstrap_servers
from sources.adapters import (
    Mapped,
    Unmappable,
    alertmanager,
    cdevents,
    generic,
    github,
    gitlab,
    jira,
    opsgenie,
    pagerduty,
)
from sources.rejects import MAX_MESSAGE, kept_copy, lone_surrogate_field, printable, reason_for, size_note

log = logging.getLogger(__name__)
Mapping = tuple[Mapped, list[tuple[bytes, str]]]  # events, and (raw, reason) to dead-letter
Check = Callable[[str, Headers[str, str], bytes], str | None]  # (secret, headers, body) -> why refused, or None

MAX_BODY = 5 * 1024 * 1024  # a Jira issue with a long changelog fits; anything bigger is not a webhook
ANSWER_WITHIN = 8.0  # seconds from the request to the broker's last ack, else 503: under GitHub's 10 s
RECENT_DELIVERIES = 10_000  # kept deliveries remembered to answer a re-send without producing again
LISTED_REASONS = 100  # reasons listed in an answer; the count says how many there were
# GitLab keeps a delivery's Idempotency-Key when it retries or re-sends it (newer GitLab versions).
DELIVERY_HEADERS = {
    "github": "X-GitHub-Delivery",
    "jira": "X-Atlassian-Webhook-Identifier",
    "gitlab": "Idempotency-Key",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One record for Kafka: an event (kind transition|deploy) or a dead letter (reason set)."""

    kind: str
    key: str | None
    value: bytes
    reason: str | None = None
    original_size: int | None = None


class Broker:
    """A kafka-python producer made on first use, so the receiver starts (and says 503)
    while the broker is down, and recovers by itself when it is back."""

    def __init__(self, conf: Settings, broker: str) -> None:
        self._servers = bootstrap_servers(broker)
        self._topics = {kind: conf.topic_of(kind) for kind in routing.KINDS}
        self._dead_letter_topic = conf.dead_letter_topic
        self._producer: KafkaProducer | None = None

    def _get(self) -> KafkaProducer:
        if self._producer is None:
            # No idempotent producer: after a broker restart its producer id is refused and the
            # client stays failed for good. Duplicates are harmless: the worker dedups on event_id.
            # Every wait is short so that a broker outage is a 503 well within ANSWER_WITHIN: the
            # default bootstrap wait alone is 30 s when the broker is down as the producer is made.
            self._producer = KafkaProducer(
                bootstrap_servers=self._servers,
                acks="all",
                linger_ms=2,
                bootstrap_timeout_ms=3000,
                max_block_ms=3000,
                request_timeout_ms=3000,
                delivery_timeout_ms=6000,
                retries=2,
                enable_idempotence=False,
                client_id="flowmeter-receiver",
            )
        return self._producer

    def reset(self) -> None:
        """Drop the producer after a failure; the next request makes a fresh one."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except KafkaError:
                pass  # unsent records are dropped on purpose: their sender was told 503 and retries

    def publish(self, source: str, messages: list[Message], deadline: float) -> None:
        """Send every message, then wait once for the broker's acks, all by `deadline`
        (time.monotonic()); KafkaError otherwise. Blocking: run it in a thread."""
        producer = self._get()
        futures = []
        for message in messages:
            if time.monotonic() > deadline:
                raise KafkaTimeoutError("the broker took too long to take the messages")
            futures.append(self._send(producer, source, message))
        for future in futures:
            future.get(timeout=max(0.05, deadline - time.monotonic()))

    def _send(self, producer: KafkaProducer, source: str, message: Message) -> Any:
        key = message.key.encode("utf-8", "backslashreplace") if message.key else None
        if message.reason is None:
            return producer.send(self._topics[message.kind], key=key, value=message.value)
        size = message.original_size if message.original_size is not None else len(message.value)
        headers = deadletter.headers(message.reason, source, message.kind, "receiver", size)
        return producer.send(self._dead_letter_topic, key=source.encode(), value=message.value, headers=headers)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)


class RecentDeliveries:
    """The answers given to the last `size` kept deliveries, by (path, delivery id, body digest).

    A sender re-sends a delivery it is unsure of (a timeout, a manual "Redeliver"): answering it
    from here keeps a bad payload from becoming a new dead letter each time. In memory only.
    """

    def __init__(self, size: int = RECENT_DELIVERIES) -> None:
        self._size = size
        self._answers: OrderedDict[tuple[str, str, str], tuple[int, dict]] = OrderedDict()

    def get(self, key: tuple[str, str, str]) -> tuple[int, dict] | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def remember(self, key: tuple[str, str, str], answer: tuple[int, dict]) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """`given` is 'sha256=<hex HMAC-SHA256 of the body>' (GitHub's and Jira's form).

    Compared as bytes: compare_digest refuses str holding anything but ASCII (a TypeError, which
    was a 500 for a header such as 'sha256=é')."""
    if not given or not given.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, given[len("sha256=") :].strip().encode("utf-8", "backslashreplace"))


def pagerduty_signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    """`given` holds one or more comma-separated 'v1=<hex HMAC-SHA256 of the body>' (several while
    PagerDuty rotates a secret); one matching is enough (developer.pagerduty.com, Verifying Signatures)."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    found = False
    for part in (given or "").split(","):
        version, _, digest = part.strip().partition("=")
        if version == "v1" and hmac.compare_digest(expected, digest.strip().encode("utf-8", "backslashreplace")):
            found = True  # no early return: every signature is compared, so timing says nothing
    return found


def bearer_ok(token: str, given: str | None) -> bool:
    """`given` is an Authorization header 'Bearer <token>' (scheme compared without case)."""
    scheme, _, credentials = (given or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.encode(), credentials.strip().encode("utf-8", "backslashreplace")
    )


def hmac_check(header: str) -> Check:
    def check(secret: str, headers: Headers[str, str], body: bytes) -> str | None:
        if signature_ok(secret, body, headers.get(header)):
            return None
        return f"the {header} signature is missing or does not match the configured secret."

    return check


def pagerduty_check(secret: str, headers: Headers[str, str], body: bytes) -> str | None:
    if pagerduty_signature_ok(secret, body, headers.get("X-PagerDuty-Signature")):
        return None
    return "the X-PagerDuty-Signature is missing or none of its v1 signatures matches the configured secret."


def bearer_check(setting: str) -> Check:
    def check(token: str, headers: Headers[str, str], body: bytes) -> str | None:
        if bearer_ok(token, headers.get("Authorization")):
            return None
        return f"the Authorization header is missing or its Bearer token is not {setting}."

    return check


def gitlab_check(secret: str, headers: Headers[str, str], body: bytes) -> str | None:
    """GitLab sends the webhook's secret token itself, unsigned, in X-Gitlab-Token
    (docs.gitlab.com/user/project/integrations/webhooks/#create-a-webhook, Secret token)."""
    given = headers.get("X-Gitlab-Token", "").strip().encode("utf-8", "backslashreplace")
    if hmac.compare_digest(secret.encode(), given):
        return None
    return "the X-Gitlab-Token header is missing or is not gitlab_secret."


def checked(kind: str, event: dict[str, Any]) -> Message:
    """The event as Kafka will carry it, run through the worker's own parser: a dead letter
    (reason set) when the worker would refuse it, so the answer says so now."""
    field = lone_surrogate_field(event)
    if field is not None:
        value = json.dumps(event, separators=(",", ":")).encode()  # ASCII: the surrogate escaped
        return Message(
            kind,
            None,
            value,
            f"{field} holds a lone surrogate (such as \\ud800), which is not Unicode text; send UTF-8 text.",
        )
    key = routing.key_for(kind, event)
    try:
        value = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    except Exception as exc:  # noqa: BLE001 - any failure of one event is that event's dead letter
        return Message(kind, None, b"", reason_for(exc))
    if len(value) > MAX_MESSAGE:
        return Message(
            kind, None, value, f"the event is {len(value):,} bytes as JSON; at most {MAX_MESSAGE:,} fit in one message."
        )
    try:
        PARSERS[kind](value)
    except Exception as exc:  # noqa: BLE001 - InvalidEvent, and whatever else the parser may raise
        return Message(kind, None, value, reason_for(exc))
    return Message(kind, key, value)


def dead_letter(kind: str, raw: bytes, reason: str) -> Message:
    """A dead letter that fits one message: an oversized one keeps its first bytes and its size."""
    value, original = kept_copy(raw)
    return Message(kind, None, value, printable(reason + size_note(original)), original)


def build_app(conf: Settings, broker: Broker) -> web.Application:
    def json_body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise Unmappable(f"the body is not usable JSON: {reason_for(exc)}") from None

    # Each mapper returns (events, rejects): rejects are (bytes, reason) to dead-letter.
    def jira_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return jira.from_webhook(
            json_body(body),
            team_field=conf.jira_team_field,
            incident_types=conf.jira_incident_types,
            service_field=conf.jira_service_field,
        ), []

    def github_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return github.from_webhook(
            headers.get("X-GitHub-Event", ""),
            json_body(body),
            headers.get("X-GitHub-Delivery"),
            label_states=conf.github_label_states,
            status_field=conf.github_project_status_field,
            incident_label=conf.github_incident_label,
            service_label_prefix=conf.github_service_label_prefix,
        ), []

    def gitlab_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return gitlab.from_webhook(json_body(body), label_states=conf.gitlab_label_states), []

    def alertmanager_events(headers: Headers[str, str], body: bytes) -> Mapping:
        """Each alert on its own: one that cannot be mapped is dead-lettered, the rest are sent."""
        events: Mapped = []
        rejects: list[tuple[bytes, str]] = []
        results = alertmanager.from_webhook(
            json_body(body),
            service_labels=conf.alertmanager_service_labels,
            environment_labels=conf.alertmanager_environment_labels,
            severity_labels=conf.alertmanager_severity_labels,
        )
        for result in results:
            if isinstance(result[1], Unmappable):
                rejects.append((json.dumps(result[0], ensure_ascii=False).encode(), str(result[1])))
            else:
                events.append(result)
        return events, rejects

    def pagerduty_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return pagerduty.from_webhook(json_body(body)), []

    def opsgenie_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return opsgenie.from_webhook(json_body(body), service_key=conf.opsgenie_service_key), []

    def cdevents_events(headers: Headers[str, str], body: bytes) -> Mapping:
        return cdevents.from_cloudevent(dict(headers), body), []

    def v1_events(headers: Headers[str, str], body: bytes) -> Mapping:
        """One object (pretty-printed or not), or JSON Lines: each line on its own, so one bad
        line keeps the rest."""
        try:
            whole = json.loads(body)
        except (ValueError, RecursionError):
            whole = None
        if isinstance(whole, dict):
            try:
                return generic.from_jsonl_line(body), []
            except Exception as exc:  # noqa: BLE001 - Unmappable, or anything else this body raised
                return [], [(body, str(exc) if isinstance(exc, Unmappable) else reason_for(exc))]
        events: Mapped = []
        rejects: list[tuple[bytes, str]] = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    events += generic.from_jsonl_line(line)
                except Exception as exc:  # noqa: BLE001 - one bad line is that line's dead letter
                    reason = str(exc) if isinstance(exc, Unmappable) else reason_for(exc)
                    rejects.append((line, f"line {number}: {reason}"))
        return events, rejects

    app = web.Application(client_max_size=MAX_BODY)
    routes: list[tuple[str, str, Any, Check, Callable[[Headers[str, str], bytes], Mapping]]] = [
        ("/webhooks/jira", "jira", conf.jira_secret, hmac_check("X-Hub-Signature"), jira_events),
        ("/webhooks/github", "github", conf.github_secret, hmac_check("X-Hub-Signature-256"), github_events),
        ("/webhooks/gitlab", "gitlab", conf.gitlab_secret, gitlab_check, gitlab_events),
        ("/webhooks/cdevents", "cdevents", conf.cdevents_secret, hmac_check("X-Flowmeter-Signature"), cdevents_events),
        (
            "/webhooks/alertmanager",
            "alertmanager",
            conf.alertmanager_token,
            bearer_check("alertmanager_token"),
            alertmanager_events,
        ),
        ("/webhooks/pagerduty", "pagerduty", conf.pagerduty_secret, pagerduty_check, pagerduty_events),
        ("/webhooks/opsgenie", "opsgenie", conf.opsgenie_token, bearer_check("opsgenie_token"), opsgenie_events),
        ("/events", "events", conf.events_secret, hmac_check("X-Flowmeter-Signature"), v1_events),
    ]
    recent = RecentDeliveries()
    exposed = not is_loopback(conf.receiver_host)
    for path, name, secret, check, mapper in routes:
        if secret is None and exposed and not conf.allow_open_access:
            # Beyond loopback, a path without its secret is not served at all (docs/security.md).
            log.warning("no secret set for %s: %s is not served on %s", name, path, conf.receiver_host)
            continue
        if secret is None:
            log.warning("no secret set for %s: anyone who can reach %s can post events", name, path)
        app.router.add_post(
            path, _handler(name, secret.get_secret_value() if secret else None, check, mapper, broker, recent)
        )

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    return app


def process(
    name: str, mapper: Callable[[Headers[str, str], bytes], Mapping], headers: Headers[str, str], body: bytes
) -> tuple[list[Message], list[str]]:
    """(messages to send, reasons of the dead letters among them): map, then check each event."""
    try:
        events, rejects = mapper(headers, body)
    except Unmappable as exc:
        events, rejects = [], [(body, str(exc))]
    except Exception as exc:  # noqa: BLE001 - a payload that breaks an adapter is a dead letter, not a 500
        log.debug("the %s adapter failed on a payload", name, exc_info=True)
        events, rejects = [], [(body, reason_for(exc))]
    messages = [dead_letter("unknown", raw, reason) for raw, reason in rejects]
    for kind, event in events:
        message = checked(kind, event)
        if message.reason is not None:
            message = dead_letter(kind, message.value, f"event {_event_name(event)}: {message.reason}")
        messages.append(message)
    return messages, [m.reason for m in messages if m.reason is not None]


def _event_name(event: dict[str, Any]) -> str:
    name = event.get("event_id")
    return printable(name[:80] + ("…" if len(name) > 80 else "")) if isinstance(name, str) else "without an id"


def _handler(
    name: str,
    secret: str | None,
    check: Check,
    mapper: Callable[[Headers[str, str], bytes], Mapping],
    broker: Broker,
    recent: RecentDeliveries,
) -> Callable:
    async def handle(request: web.Request) -> web.Response:
        deadline = time.monotonic() + ANSWER_WITHIN
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(
                413, f"the body is over {MAX_BODY:,} bytes, more than any webhook holds; send fewer events per request."
            )
        refusal = check(secret, request.headers, body) if secret is not None else None
        if refusal is not None:
            return _error(401, refusal)
        if name == "github" and request.headers.get("X-GitHub-Event") == "ping":
            return web.json_response({"ok": True, "pong": True})
        delivery = _delivery(name, request.headers)
        replay = (name, delivery, hashlib.sha256(body).hexdigest()) if delivery else None
        seen = recent.get(replay) if replay else None
        if seen is not None:
            return web.json_response({**seen[1], "replayed": True}, status=seen[0])
        loop = asyncio.get_running_loop()
        source = printable(f"webhook:{name}:{delivery or ''}".rstrip(":"))
        try:
            messages, reasons = await loop.run_in_executor(None, process, name, mapper, request.headers, body)
            await loop.run_in_executor(None, broker.publish, source, messages, deadline)
        except KafkaError as exc:
            await loop.run_in_executor(None, broker.reset)
            return _unavailable(exc)
        for reason in reasons[:LISTED_REASONS]:
            log.warning("dead-lettered a %s payload: %s", name, reason)
        status = 202 if reasons else 200
        answer = {
            "accepted": len(messages) - len(reasons),
            "dead_lettered": reasons[:LISTED_REASONS],
            "dead_lettered_total": len(reasons),
        }
        if replay:
            recent.remember(replay, (status, answer))
        return web.json_response(answer, status=status)

    return handle


def _delivery(name: str, headers: Headers[str, str]) -> str | None:
    """The sender's id of this delivery, unchanged when it re-sends it (GitHub, Jira), else None."""
    header = DELIVERY_HEADERS.get(name)
    value = headers.get(header, "").strip() if header else ""
    return value[:200] or None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _unavailable(exc: Exception) -> web.Response:
    log.error("the broker did not acknowledge: %s", exc)
    return _error(
        503,
        f"the broker did not acknowledge every message within {ANSWER_WITHIN:.0f} s "
        f"({exc.__class__.__name__}); retry later (an event that did reach it lands once).",
    )


def run_receiver(conf: Settings, broker: str) -> None:
    """Serve until SIGINT/SIGTERM."""
    producer = Broker(conf, broker)
    try:
        web.run_app(
            build_app(conf, producer),
            host=conf.receiver_host,
            port=conf.receiver_port,
            print=None,
            access_log=None,
            shutdown_timeout=10,
        )
    finally:
        producer.close()

"""The CDEvents adapter: one CloudEvent carrying a CDEvent (spec 0.3, 0.4 or 0.5) to v1 events.

Transport (CloudEvents 1.0 HTTP binding; header names are case-insensitive):
- binary mode: attributes in ``ce-specversion``, ``ce-id``, ``ce-source``, ``ce-type`` headers,
  the body is the CDEvent JSON;
- structured mode: ``Content-Type: application/cloudevents+json``, the body is the CloudEvent
  and its ``data`` (or ``data_base64``) the CDEvent;
- a plain CDEvent (no ``ce-*`` header, not structured) is accepted too: its ``context`` holds
  the same id, source and type, which is how several emitters post.
Batched mode (``application/cloudevents-batch+json``) is refused: one CloudEvent per request.

The CDEvent is the record: its ``context`` wins over the envelope (the CDEvents CloudEvents
binding makes them equal). The spec version is ``context.version`` (0.3, 0.4) or
``context.specversion`` (0.5); others are refused, since their fields may mean something else.

What maps (the type's version suffix, e.g. ``dev.cdevents.service.deployed.0.1.1``, is not
needed: these fields are the same in every event version of 0.3–0.5):
- ``service.deployed`` and ``service.upgraded`` → deploy, status success;
  ``service.rolledback`` → deploy, status rolled_back. service = ``subject.id`` (the spec's
  stable identity of the running service; ``artifactId`` changes with every version),
  environment = ``subject.content.environment.id`` (``name`` if a sender gives only that),
  at = ``context.timestamp``, version = the version part of a purl ``artifactId``
  (``pkg:oci/app@sha256%3Aab`` → ``sha256:ab``); a non-purl artifactId gives no version.
  CDEvents has no commits or tickets on a deploy; a sender may add them as
  ``customData.flowmeter.{commits, tickets, started_at}`` in v1 form.
- ``ticket.created`` (0.4+) → transition from null to the state ``created``;
  ``ticket.closed`` → transition to its ``resolution`` (``completed``, ``withdrawn``, …;
  ``closed`` when absent), from_state null because the event does not say where it was.
  ticket_id = ``subject.id``, board = ``content.group`` else the subject's or event's source,
  assignee = first of ``assignees``, ticket_type = ``ticketType``, actor = ``creator`` /
  ``updatedBy``. CDEvents tickets carry no workflow status: alias ``created`` and the
  resolutions to board states in the settings.
- ``incident.detected`` and ``incident.reported`` → incident ``opened``; ``incident.resolved``
  → ``resolved``. incident_id = ``subject.id``, service = ``subject.content.service.id``,
  environment = ``subject.content.environment.id``, at = ``context.timestamp``, title =
  ``description``, url = ``ticketURI`` (reported). caused_by = the version of a purl
  ``artifactId`` (the same version a CDEvents deploy of it carries) on detected and reported
  only: on resolved the artifact is the one running once it was fixed, not the cause. A
  sender may add ``customData.flowmeter.severity``.
- nothing else: ``ticket.updated`` (no status field, so no state to move to),
  ``change.merged`` (v1 has no commit kind), pipeline/build/test/artifact events and custom
  ``dev.cdeventsx.*`` types are valid and return [].

event_id = ``cde-<context.id>@<context.source>``: CDEvents ids are unique only within their
source, and a re-delivered CloudEvent keeps both, so it lands once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sources.adapters import Mapped, Unmappable
from sources.adapters.generic import validated
from sources.adapters.incidents import incident

SPEC_VERSION = re.compile(r"0\.([345])(\.\d+)?(-[0-9A-Za-z.-]+)?")
EVENT_TYPE = re.compile(r"dev\.cdevents\.([a-z]+)\.([a-z]+)\.\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?")
ENVELOPE = ("specversion", "id", "source", "type")
MAX_ID = 400  # longer id@source pairs are hashed so the event_id stays within v1's 512 characters
DEPLOY_STATUS = {"deployed": "success", "upgraded": "success", "rolledback": "rolled_back"}


@dataclass(frozen=True)
class _CDEvent:
    type: str
    subject_type: str  # "service" in dev.cdevents.service.deployed.0.1.1
    predicate: str  # "deployed"
    event_id: str
    source: str
    timestamp: str | None
    subject: dict[str, Any]
    content: dict[str, Any]
    custom: Any


def from_cloudevent(headers: dict[str, str], body: bytes) -> Mapped:
    """v1 events for one CloudEvent; [] for a valid CDEvent flowmeter does not measure."""
    envelope, data = _unwrap({name.lower(): value for name, value in headers.items()}, body)
    cdevent = _json_object(data, "the CDEvent")
    event = _read(cdevent, envelope)
    if event is None:
        return []
    mapper = _MAPPERS.get((event.subject_type, event.predicate))
    if mapper is None:
        return []
    kind, v1 = mapper(event)
    try:
        return [(kind, validated(kind, v1))]
    except Unmappable as exc:
        raise Unmappable(f"{event.type} maps to a {kind} that v1 refuses: {exc}") from None


# ---- envelope ------------------------------------------------------------------------------
def _unwrap(headers: dict[str, str], body: bytes) -> tuple[dict[str, Any], Any]:
    """(CloudEvent attributes, the CDEvent as bytes or an already decoded object)."""
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media.startswith("application/cloudevents-batch"):
        raise Unmappable(
            "batched CloudEvents (application/cloudevents-batch+json) are not accepted; "
            "send one CloudEvent per request."
        )
    if media.startswith("application/cloudevents"):
        doc = _json_object(body, "the structured CloudEvent")
        _check_envelope(doc, "", "structured")
        return doc, _structured_data(doc)
    attributes = {name[3:]: value for name, value in headers.items() if name.startswith("ce-")}
    if attributes:
        _check_envelope(attributes, "ce-", "binary")
    return attributes, body


def _check_envelope(attributes: dict[str, Any], prefix: str, mode: str) -> None:
    missing = [prefix + name for name in ENVELOPE if not _text(attributes.get(name))]
    if missing:
        raise Unmappable(
            f"the CloudEvent has no {', '.join(missing)}; {mode} mode needs "
            f"{', '.join(prefix + name for name in ENVELOPE)}."
        )
    if attributes["specversion"].strip() != "1.0":
        raise Unmappable(
            f"CloudEvents specversion '{attributes['specversion']}' is not supported; send CloudEvents 1.0."
        )


def _structured_data(doc: dict[str, Any]) -> Any:
    if doc.get("data") is not None:
        return doc["data"]
    if isinstance(doc.get("data_base64"), str):
        try:
            return base64.b64decode(doc["data_base64"], validate=True)
        except binascii.Error:
            raise Unmappable("the structured CloudEvent's data_base64 is not valid base64.") from None
    raise Unmappable("the structured CloudEvent has no data; it must carry the CDEvent in data.")


def _json_object(raw: Any, what: str) -> dict[str, Any]:
    if isinstance(raw, (bytes, bytearray, str)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise Unmappable(f"{what} is not JSON ({exc}).") from None
        except RecursionError:
            raise Unmappable(f"{what} is nested too deeply to read.") from None
    if not isinstance(raw, dict):
        got = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
        raise Unmappable(f"{what} must be a JSON object, got {got.get(type(raw), 'null')}.")
    return raw


# ---- the CDEvent ---------------------------------------------------------------------------
def _read(cdevent: dict[str, Any], envelope: dict[str, Any]) -> _CDEvent | None:
    """The fields every mapping needs, or None for a custom dev.cdeventsx type."""
    context, subject = cdevent.get("context"), cdevent.get("subject")
    if not isinstance(context, dict):
        raise Unmappable("the CDEvent has no context object.")
    if not isinstance(subject, dict):
        raise Unmappable("the CDEvent has no subject object.")
    _check_spec_version(context)
    event_type = _text(context.get("type")) or _text(envelope.get("type"))
    if event_type is None:
        raise Unmappable("the CDEvent has no context.type.")
    if event_type.startswith("dev.cdeventsx."):
        return None
    matched = EVENT_TYPE.fullmatch(event_type)
    if matched is None:
        raise Unmappable(
            f"type '{event_type}' is not a CDEvents type (dev.cdevents.<subject>.<predicate>.<major.minor.patch>)."
        )
    event_id = _text(context.get("id")) or _text(envelope.get("id"))
    source = _text(context.get("source")) or _text(envelope.get("source"))
    if event_id is None or source is None:
        raise Unmappable(
            f"the CDEvent has no context.{'id' if event_id is None else 'source'}; "
            "flowmeter needs id and source to recognise a re-delivery."
        )
    content = subject.get("content", {})
    if not isinstance(content, dict):
        raise Unmappable("the CDEvent's subject.content must be an object.")
    return _CDEvent(
        type=event_type,
        subject_type=matched.group(1),
        predicate=matched.group(2),
        event_id=_event_id(event_id, source),
        source=source,
        timestamp=_text(context.get("timestamp")) or _text(envelope.get("time")),
        subject=subject,
        content=content,
        custom=cdevent.get("customData"),
    )


def _check_spec_version(context: dict[str, Any]) -> None:
    version = context.get("specversion", context.get("version"))
    if version is None:
        raise Unmappable(
            "the CDEvent's context has neither specversion (0.5) nor version (0.3, 0.4), "
            "so its spec version is unknown."
        )
    if not isinstance(version, str) or not SPEC_VERSION.fullmatch(version.strip()):
        raise Unmappable(f"CDEvents spec version '{version}' is not supported; flowmeter reads 0.3, 0.4 and 0.5.")


def _event_id(cdevent_id: str, source: str) -> str:
    readable = f"cde-{cdevent_id}@{source}"
    if len(readable) <= MAX_ID:
        return readable
    return "cde-" + hashlib.sha256(f"{cdevent_id}\n{source}".encode()).hexdigest()[:32]


# ---- mappings ------------------------------------------------------------------------------
def _deploy(event: _CDEvent) -> tuple[str, dict[str, Any]]:
    environment = event.content.get("environment")
    env = environment if isinstance(environment, dict) else {}
    deploy: dict[str, Any] = {
        "event_id": event.event_id,
        "service": _required(event.subject.get("id"), "subject.id"),
        "environment": _required(_text(env.get("id")) or _text(env.get("name")), "subject.content.environment.id"),
        "status": DEPLOY_STATUS[event.predicate],
        "at": _required(event.timestamp, "context.timestamp"),
        "source": f"cdevents:{event.source}",
    }
    version = purl_version(event.content.get("artifactId"))
    if version:
        deploy["version"] = version
    extra = event.custom.get("flowmeter") if isinstance(event.custom, dict) else None
    if isinstance(extra, dict):
        deploy.update({key: extra[key] for key in ("commits", "tickets", "started_at") if key in extra})
    return "deploy", deploy


def _ticket(event: _CDEvent) -> tuple[str, dict[str, Any]]:
    content = event.content
    if event.predicate == "created":
        to_state, actor = "created", content.get("creator")
    else:
        to_state, actor = _text(content.get("resolution")) or "closed", content.get("updatedBy")
    assignees = content.get("assignees")
    transition = {
        "event_id": event.event_id,
        "ticket_id": _required(event.subject.get("id"), "subject.id"),
        "board": _text(content.get("group")) or _text(event.subject.get("source")) or event.source,
        "from_state": None,
        "to_state": to_state,
        "at": _required(event.timestamp, "context.timestamp"),
        "assignee": assignees[0] if isinstance(assignees, list) and assignees else None,
        "ticket_type": content.get("ticketType"),
        "actor": actor,
        "source": f"cdevents:{event.source}",
    }
    return "transition", {key: value for key, value in transition.items() if value is not None or key == "from_state"}


def _incident(event: _CDEvent) -> tuple[str, dict[str, Any]]:
    content = event.content
    service, environment = content.get("service"), content.get("environment")
    extra = event.custom.get("flowmeter") if isinstance(event.custom, dict) else None
    severity = extra.get("severity") if isinstance(extra, dict) else None
    status = "resolved" if event.predicate == "resolved" else "opened"
    return incident(
        f"cdevents:{event.source}",
        _required(event.subject.get("id"), "subject.id"),
        status,
        _required(event.timestamp, "context.timestamp"),
        _required(service.get("id") if isinstance(service, dict) else None, "subject.content.service.id"),
        environment=_text(environment.get("id")) or _text(environment.get("name"))
        if isinstance(environment, dict)
        else None,
        severity=_text(severity),
        title=_text(content.get("description")),
        url=_text(content.get("ticketURI")),
        caused_by=purl_version(content.get("artifactId")) if status == "opened" else None,
        event_id=event.event_id,
    )


_MAPPERS: dict[tuple[str, str], Callable[[_CDEvent], tuple[str, dict[str, Any]]]] = {
    ("service", "deployed"): _deploy,
    ("service", "upgraded"): _deploy,
    ("service", "rolledback"): _deploy,
    ("ticket", "created"): _ticket,
    ("ticket", "closed"): _ticket,
    ("incident", "detected"): _incident,
    ("incident", "reported"): _incident,
    ("incident", "resolved"): _incident,
}


def purl_version(artifact_id: Any) -> str | None:
    """The decoded version of a package URL (pkg:type/namespace/name@version?qualifiers#subpath)."""
    if not isinstance(artifact_id, str) or not artifact_id.startswith("pkg:"):
        return None
    name, at, version = artifact_id.split("#", 1)[0].split("?", 1)[0].rpartition("@")
    if not at or "/" not in name or not version or "/" in version:
        return None
    return unquote(version)


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _required(value: Any, where: str) -> str:
    text = _text(value)
    if text is None:
        raise Unmappable(f"the CDEvent's {where} is missing or empty; flowmeter needs it.")
    return text

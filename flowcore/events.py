"""Event contract v1: one typed event per kind and one pure parser per kind.

``parse_transition(raw)``, ``parse_deploy(raw)`` and ``parse_incident(raw)`` take the bytes of
one Kafka message (or one line of a file) and return a typed event, or raise
``InvalidEvent`` whose reason is one sentence a person can act on. ``PARSERS`` names them by
kind, for every producer and reader that checks an event before it travels.

Timestamps must carry a UTC offset; they are stored as naive UTC datetimes.
Unknown fields are ignored so that senders may add fields without breaking v1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload

import orjson

from flowcore.deadletter import QUOTE_CHARS, clean_text, quote
from flowcore.errors import InvalidEvent
from flowcore.text import is_utf8

DEPLOY_STATUSES = ("success", "failure", "rolled_back")
INCIDENT_STATUSES = ("opened", "acknowledged", "resolved")
MAX_TEXT = 512  # longest id or name we accept; longer is a sender bug, not a ticket
MAX_LIST = 10_000  # most commits or tickets on one deploy
ATTRIBUTES_MAX_BYTES = 4096  # a transition's optional attributes object, as compact JSON
EARLIEST = datetime(2000, 1, 1)
FUTURE_SLACK = timedelta(days=1)  # clocks drift; a day ahead is a broken clock
_UTC = UTC


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which
# was 11% of `flowmeter load` in a profile; nothing assigns to an event after parsing.
@dataclass(slots=True)
class Transition:
    event_id: str
    ticket_id: str
    board: str
    from_state: str | None
    to_state: str
    at: datetime  # naive UTC
    assignee: str | None = None
    team: str | None = None
    ticket_type: str | None = None
    actor: str | None = None
    source: str | None = None
    # What the source says of the item beyond the contract (labels, priority, Flagged ...), as
    # compact JSON text of at most ATTRIBUTES_MAX_BYTES (docs/contract.md#attributes).
    attributes: str | None = None


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    committed_at: datetime | None  # naive UTC


@dataclass(slots=True)
class Deploy:
    event_id: str
    service: str
    environment: str
    status: str
    at: datetime  # finished, naive UTC
    started_at: datetime | None = None
    version: str | None = None
    commits: tuple[Commit, ...] = ()
    tickets: tuple[str, ...] = ()
    source: str | None = None
    fixes: tuple[str, ...] = ()  # incident_ids this deploy was made to fix (rework rate)


@dataclass(slots=True)
class Incident:
    """One change of an incident's status (docs/contract.md#incident): opened, acknowledged or
    resolved. An incident is its events grouped by incident_id; the views compute its timeline."""

    event_id: str
    incident_id: str
    service: str
    status: str
    at: datetime  # naive UTC
    environment: str | None = None
    severity: str | None = None  # as the source says it; settings map it to critical/high/low
    title: str | None = None
    url: str | None = None
    caused_by: str | None = None  # a deploy's event_id or version
    source: str | None = None


def parse_transition(raw: bytes | str | None, now: datetime | None = None) -> Transition:
    doc = load_object(raw)
    reader = _Reader(doc, now)
    text = reader.text
    event = Transition(  # keywords are evaluated in order: the first problem found is reported
        ticket_id=text("ticket_id"),
        board=text("board"),
        from_state=text("from_state", required=False),
        to_state=text("to_state"),
        at=reader.timestamp("at"),
        assignee=text("assignee", required=False),
        team=text("team", required=False),
        ticket_type=text("ticket_type", required=False),
        actor=text("actor", required=False),
        source=text("source", required=False),
        attributes=_attributes(doc.get("attributes")),
        event_id=text("event_id", required=False) or "",
    )
    if not event.event_id:
        event.event_id = _content_id(event, "t")
    return event


def parse_deploy(raw: bytes | str | None, now: datetime | None = None) -> Deploy:
    doc = load_object(raw)
    reader = _Reader(doc, now)
    status = reader.text("status")
    if status not in DEPLOY_STATUSES:
        raise InvalidEvent(f"status {quote(status)} is not one of {', '.join(DEPLOY_STATUSES)}.")
    at = reader.timestamp("at")
    started_at = reader.timestamp("started_at", required=False)
    if started_at is not None and started_at > at:
        raise InvalidEvent(
            f"started_at {_iso(started_at)} is after at {_iso(at)}; a deploy cannot end before it starts."
        )
    event = Deploy(
        service=reader.text("service"),
        environment=reader.text("environment"),
        status=status,
        at=at,
        started_at=started_at,
        version=reader.text("version", required=False),
        commits=tuple(reader.items("commits", lambda r, i: _commit(r, i))),
        tickets=tuple(reader.items("tickets", lambda r, i: r.item_text("tickets", i))),
        source=reader.text("source", required=False),
        fixes=tuple(reader.items("fixes", lambda r, i: r.item_text("fixes", i))),
        event_id=reader.text("event_id", required=False) or "",
    )
    if not event.event_id:
        event.event_id = _content_id(event, "d")
    return event


def parse_incident(raw: bytes | str | None, now: datetime | None = None) -> Incident:
    doc = load_object(raw)
    reader = _Reader(doc, now)
    text = reader.text
    incident_id = text("incident_id")
    service = text("service")
    status = text("status")
    if status not in INCIDENT_STATUSES:
        raise InvalidEvent(f"status {quote(status)} is not one of {', '.join(INCIDENT_STATUSES)}.")
    event = Incident(
        incident_id=incident_id,
        service=service,
        status=status,
        at=reader.timestamp("at"),
        environment=text("environment", required=False),
        severity=text("severity", required=False),
        title=text("title", required=False),
        url=text("url", required=False),
        caused_by=text("caused_by", required=False),
        source=text("source", required=False),
        event_id=text("event_id", required=False) or "",
    )
    if not event.event_id:
        event.event_id = _content_id(event, "i")
    return event


Event = Transition | Deploy | Incident
PARSERS: dict[str, Callable[..., Event]] = {
    "transition": parse_transition,
    "deploy": parse_deploy,
    "incident": parse_incident,
}


def unknown_kind_reason(raw: bytes | str | None) -> str:
    """Why a message whose kind could not be told is rejected: bad JSON first, else the kind."""
    load_object(raw)
    return (
        "the event's kind cannot be told: it has neither ticket_id/to_state (a transition), "
        "incident_id (an incident) nor service (a deploy)."
    )


def event_to_json(event: Event) -> dict[str, Any]:
    """The v1 wire form of an event (timestamps as UTC ISO-8601 with 'Z')."""
    out: dict[str, Any] = {}
    for name in event.__slots__:
        value = getattr(event, name)
        if isinstance(value, datetime):
            value = _iso(value)
        elif name == "commits":
            value = [{"sha": c.sha, "committed_at": _iso(c.committed_at) if c.committed_at else None} for c in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif name == "attributes" and value is not None:
            value = json.loads(value)
        out[name] = value
    return out


def _commit(reader: _Reader, index: int) -> Commit:
    item = reader.doc["commits"][index]
    where = f"commits[{index}]"
    if not isinstance(item, dict):
        raise InvalidEvent(f"{where} must be an object with sha and committed_at, got {_json_type(item)}.")
    inner = _Reader(item, reader.now, prefix=f"{where}.")
    return Commit(sha=inner.text("sha"), committed_at=inner.timestamp("committed_at", required=False))


def _content_id(event: Event, kind: str) -> str:
    """An id derived from the content, for events sent without one, so that re-sends collide."""
    content = event_to_json(event)
    content.pop("event_id")
    content.pop("attributes", None)  # what a source adds beside the change is not the change
    if not content.get("fixes"):  # added after v1 shipped: ids of deploys sent without it stay the same
        content.pop("fixes", None)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{kind}-{digest[:32]}"


def _attributes(value: Any) -> str | None:
    """A transition's optional attributes: an object, kept as compact JSON text. One larger than
    ATTRIBUTES_MAX_BYTES is replaced by {"truncated": true, "bytes": N}: the transition itself
    is still good, so it is never dead-lettered for its attributes' size."""
    if value is None:
        return None
    if type(value) is not dict:
        raise InvalidEvent(f"attributes is {_kind_of(value)}, not an object.")
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except ValueError:
        raise InvalidEvent("attributes holds NaN or Infinity, which JSON cannot carry.") from None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > ATTRIBUTES_MAX_BYTES:
        return json.dumps({"truncated": True, "bytes": size}, separators=(",", ":"))
    return text


def _kind_of(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def load_object(raw: bytes | str | None) -> dict[str, Any]:
    """One message as a JSON object, or InvalidEvent saying why it is not one."""
    # orjson first: 3-4x faster than json and strict RFC 8259, so what it accepts json reads
    # the same (large integers aside, which no field of ours takes). What it refuses goes to
    # json, whose verdict and message are the contract's (it also reads NaN, which a field
    # check then rejects with its name).
    if raw is not None:
        try:
            doc = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            pass
        else:
            if type(doc) is dict:
                return doc
    return _load_object_strictly(raw)


def _load_object_strictly(raw: bytes | str | None) -> dict[str, Any]:
    if raw is None:
        raise InvalidEvent("the message has no value (a null or tombstone record).")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"the message is not UTF-8 text (bad byte at position {exc.start}).") from None
    else:
        text = raw
    if not text.strip():
        raise InvalidEvent("the message is empty.")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent(f"the message is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.") from None
    except RecursionError:
        raise InvalidEvent("the message is not usable JSON: it is nested too deeply.") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits (CVE-2020-10735)
        raise InvalidEvent("the message is not usable JSON: a number in it has more than 4,300 digits.") from None
    if not isinstance(doc, dict):
        raise InvalidEvent(f"the message must be a JSON object, got {_json_type(doc)}.")
    # orjson refuses escaped lone surrogates ("\ud800"); json reads them into text that is not
    # valid Unicode and would fail later, at commit or in a Kafka header. Only this slow path
    # can hold one, so only it pays for the walk.
    where = _lone_surrogate(doc)
    if where is not None:
        raise InvalidEvent(
            f"{where} holds a lone UTF-16 surrogate (an escape such as \\ud800 with no pair), "
            "which is not valid Unicode text."
        )
    return doc


def _lone_surrogate(doc: Any) -> str | None:
    """The path of the first key or string holding a lone surrogate, or None. Iterative: the
    document may be nested as deeply as json allows."""
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not is_utf8(value):
                return f"field {clean_text(path, QUOTE_CHARS)}" if path else "the message"
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if not is_utf8(key):
                    return f"a field name ({quote(name)})"
                stack.append((name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


class _Reader:
    """Typed field access over one JSON object, raising InvalidEvent with the field's name."""

    def __init__(self, doc: dict[str, Any], now: datetime | None, prefix: str = "") -> None:
        self.doc = doc
        self.now = now
        self.prefix = prefix

    def _get(self, name: str, required: bool) -> Any:
        value = self.doc.get(name)
        if value is None and required:
            state = "is null" if name in self.doc else "is missing"
            raise InvalidEvent(f"required field {self.prefix}{name} {state}.")
        return value

    # Overloads: a required field's value is never None; an optional one's may be.
    @overload
    def text(self, name: str, required: Literal[True] = ...) -> str: ...
    @overload
    def text(self, name: str, required: bool) -> str | None: ...

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.doc.get(name)
        if type(value) is str:  # the common cases, checked inline
            stripped = value.strip()
            if stripped and len(stripped) <= MAX_TEXT:
                return stripped
        elif value is None and not required:
            return None
        value = self._get(name, required)
        if value is None:
            return None
        return _check_text(value, f"{self.prefix}{name}", required)

    def item_text(self, name: str, index: int) -> str:
        return _check_text(self.doc[name][index], f"{self.prefix}{name}[{index}]", True)

    @overload
    def timestamp(self, name: str, required: Literal[True] = ...) -> datetime: ...
    @overload
    def timestamp(self, name: str, required: bool) -> datetime | None: ...

    def timestamp(self, name: str, required: bool = True) -> datetime | None:
        value = self._get(name, required)
        if value is None:
            return None
        return _check_timestamp(value, f"{self.prefix}{name}", self.now)

    def items(self, name: str, convert: Callable[[_Reader, int], Any]) -> list[Any]:
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidEvent(f"{self.prefix}{name} must be a list, got {_json_type(value)}.")
        if len(value) > MAX_LIST:
            raise InvalidEvent(f"{self.prefix}{name} has {len(value)} entries; at most {MAX_LIST} are accepted.")
        return [convert(self, index) for index in range(len(value))]


@overload
def _check_text(value: Any, where: str, required: Literal[True]) -> str: ...
@overload
def _check_text(value: Any, where: str, required: bool) -> str | None: ...


def _check_text(value: Any, where: str, required: bool) -> str | None:
    if not isinstance(value, str):
        raise InvalidEvent(f"{where} must be a string, got {_json_type(value)}.")
    stripped = value.strip()
    if not stripped:
        if required:
            raise InvalidEvent(f"required field {where} is empty.")
        return None  # an empty optional is the same as absent
    if len(stripped) > MAX_TEXT:
        raise InvalidEvent(f"{where} is {len(stripped)} characters long; at most {MAX_TEXT} are accepted.")
    return stripped


def _check_timestamp(value: Any, where: str, now: datetime | None) -> datetime:
    if not isinstance(value, str):
        raise InvalidEvent(f"{where} must be an ISO-8601 string with a UTC offset, got {_json_type(value)}.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidEvent(
            f"{where} {quote(value)} is not an ISO-8601 timestamp such as 2024-05-01T09:30:00Z."
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidEvent(
            f"{where} {quote(value)} has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous."
        )
    # fromisoformat gives 'Z' as timezone.utc: no conversion needed then.
    try:
        utc = (parsed if parsed.tzinfo is _UTC else parsed.astimezone(_UTC)).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the last moment a datetime holds
        raise InvalidEvent(f"{where} {quote(value)} is outside the years 1-9999 once converted to UTC.") from None
    if utc < EARLIEST:
        raise InvalidEvent(f"{where} {quote(value)} is before 2000-01-01; that is not a plausible event time.")
    current = now if now is not None else datetime.now(_UTC).replace(tzinfo=None)
    if utc > current + FUTURE_SLACK:
        raise InvalidEvent(f"{where} {quote(value)} is more than a day in the future; check the sender's clock.")
    return utc


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace(".000000", "") + "Z"

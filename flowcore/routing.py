"""Where a v1 event travels: its kind, its topic and its message key (docs/contract.md).

Every producer (the receiver, `flowmeter produce`, `import`, the demo) and every reader of
a JSON Lines file asks here, so the wire protocol is spelled once. The key keeps one
ticket's (or one service's) events on one partition, in order.
"""

from __future__ import annotations

from typing import Any

KINDS = ("transition", "deploy", "incident")
TOPIC_SUFFIX = {"transition": "transitions", "deploy": "deploys", "incident": "incidents"}
KEY_FIELD = {"transition": "ticket_id", "deploy": "service", "incident": "service"}
DEAD_LETTER_SUFFIX = "dead-letter"
ALERTS_SUFFIX = "alerts"


def topic_for(prefix: str, kind: str) -> str:
    """The topic of one kind of event, e.g. ``flow.transitions``."""
    return prefix + TOPIC_SUFFIX[kind]


def key_for(kind: str, event: Any) -> str | None:
    """The message key of an event (a dict, not yet validated): its ticket or service, when text."""
    key = event.get(KEY_FIELD[kind]) if isinstance(event, dict) and kind in KEY_FIELD else None
    return key if isinstance(key, str) else None


def kind_of(doc: Any) -> str:
    """A JSON Lines record's kind, told by its fields: 'incident' if it names an incident,
    'deploy' if it names a service, 'transition' if it names a ticket or a state, else 'unknown'."""
    if not isinstance(doc, dict):
        return "unknown"
    if "incident_id" in doc:  # first: an incident names its service too
        return "incident"
    if "service" in doc:
        return "deploy"
    if "ticket_id" in doc or "to_state" in doc:
        return "transition"
    return "unknown"

"""Adapters: pure functions from what a source sends (a webhook payload, a saved export) to v1 events.

Every adapter returns a list of ``(kind, event)`` pairs, kind "transition", "deploy" or
"incident" and event a v1 dict that the kind's parser in ``flowcore.events.PARSERS`` accepts
(times as ISO-8601 with an offset). A payload that is valid but says nothing flowmeter measures (a
comment, a label nobody maps) returns ``[]``. A payload that cannot be mapped raises
``Unmappable`` with a one-sentence reason: the receiver keeps it on the dead-letter topic.

event_id comes from the source's own stable identifiers of the change (a Jira changelog id,
a GitHub delivery or timeline event id, a CloudEvent id), so a re-delivered webhook or a
re-run import yields the same ids and lands once.
"""

from __future__ import annotations

from typing import Any

from flowcore.errors import FlowmeterError

Mapped = list[tuple[str, dict[str, Any]]]


class Unmappable(FlowmeterError):
    """A payload an adapter cannot turn into v1 events; the message says why in one sentence."""

"""PagerDuty: v3 webhooks and a saved incidents list -> v1 incidents.

Webhooks (https://developer.pagerduty.com/docs/webhooks/v3-overview): one ``event`` per
delivery; ``event.data`` is the incident for the incident.* types.

- ``incident.triggered`` -> ``opened`` at ``data.created_at`` (when PagerDuty opened it);
  ``incident.reopened`` -> ``opened`` at ``event.occurred_at``;
  ``incident.acknowledged`` -> ``acknowledged`` and ``incident.resolved`` -> ``resolved``, at
  ``event.occurred_at``; every other event type (annotated, escalated, service.*) gives nothing.
- incident_id ``pagerduty:<data.id>``; service ``data.service.summary`` (the service's name);
  severity: the priority's name (``P1``...) where the account uses priorities, else the
  ``urgency`` (high, low); title ``data.title``; url ``data.html_url``.

Saved list (``iter_import``): the JSON of ``GET /incidents`` (``{"incidents": [...]}``, one page
or several concatenated, or a bare array). Each incident gives ``opened`` at ``created_at``,
then ``acknowledged`` at ``last_status_change_at`` if it is acknowledged now, ``resolved`` at
``resolved_at`` (else ``last_status_change_at``) if it is resolved. Only its present status is
in the list: an acknowledgement before a resolve is not.

event_id ``pagerduty:<id>:<status>:<at>``: the opening has the same id from a webhook and from
an import (both use created_at); a resolve seen by both may differ by milliseconds and land twice,
which the views read as one resolve (the first after the opening).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sources.adapters import Mapped, Unmappable
from sources.adapters.incidents import incident, text, utc

SOURCE = "pagerduty"
WEBHOOK_STATUS = {
    "incident.triggered": "opened",
    "incident.reopened": "opened",
    "incident.acknowledged": "acknowledged",
    "incident.resolved": "resolved",
}


def from_webhook(payload: Any) -> Mapped:
    """The incident event one v3 webhook delivery says; [] for event types flowmeter does not measure."""
    event = payload.get("event") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        raise Unmappable("the PagerDuty payload has no event object (is this a v3 webhook?).")
    status = WEBHOOK_STATUS.get(event.get("event_type"))  # type: ignore[arg-type]
    if status is None:
        return []
    data = event.get("data")
    if not isinstance(data, dict):
        raise Unmappable(f"the PagerDuty {event.get('event_type')} event has no data object.")
    if event.get("event_type") == "incident.triggered":
        at = utc(data.get("created_at"), "event.data.created_at")
    else:
        at = utc(event.get("occurred_at"), "event.occurred_at")
    return [_event(data, status, at, "event.data")]


def from_incident(item: Any) -> Mapped:
    """The events a listed incident (GET /incidents) tells: its opening and its present status."""
    if not isinstance(item, dict):
        raise Unmappable("an entry of the incidents list is not an object.")
    opened = _event(item, "opened", utc(item.get("created_at"), "created_at"), "the incident")
    events = [opened]
    status = item.get("status")
    if status == "acknowledged":
        events.append(_event(item, "acknowledged", utc(item.get("last_status_change_at"), "last_status_change_at"), ""))
    elif status == "resolved":
        stamp = item.get("resolved_at") or item.get("last_status_change_at")
        events.append(_event(item, "resolved", utc(stamp, "resolved_at"), ""))
    elif status != "triggered":
        raise Unmappable(f"incident {item.get('id')} has status {status!r}, none of triggered, acknowledged, resolved.")
    return events


def iter_import(path: Path) -> Iterator[tuple[str, dict[str, Any]] | Unmappable]:
    """Stream a saved incidents list: events per incident, an Unmappable per incident that cannot be mapped."""
    for page_number, page in enumerate(_pages(path), start=1):
        if isinstance(page, Unmappable):
            yield page
            return
        for number, item in enumerate(page, start=1):
            try:
                yield from from_incident(item)
            except Unmappable as exc:
                where = f"page {page_number}, incident {number}" if page_number > 1 else f"incident {number}"
                yield Unmappable(f"{where}: {exc}")


def _pages(path: Path) -> Iterator[list[Any] | Unmappable]:
    decoder = json.JSONDecoder()
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        yield Unmappable("the file is not UTF-8 text.")
        return
    pos = 0
    while True:
        while pos < len(content) and content[pos].isspace():
            pos += 1
        if pos >= len(content):
            return
        try:
            value, pos = decoder.raw_decode(content, pos)
        except json.JSONDecodeError as exc:
            yield Unmappable(f"the file is not JSON at line {exc.lineno} ({exc.msg}); the rest is not read.")
            return
        if isinstance(value, list):
            yield value
        elif isinstance(value, dict) and isinstance(value.get("incidents"), list):
            yield value["incidents"]
        elif isinstance(value, dict) and "error" in value:
            yield Unmappable(f"PagerDuty answered an error instead of incidents: {str(value['error'])[:200]}.")
            return
        else:
            yield Unmappable('the file holds neither {"incidents": [...]} (GET /incidents) nor a list of incidents.')
            return


def _event(data: dict[str, Any], status: str, at: str, where: str) -> tuple[str, dict[str, Any]]:
    incident_id = text(data.get("id"))
    if incident_id is None:
        raise Unmappable(f"{where or 'the incident'} has no id.")
    service = data.get("service")
    name = text(service.get("summary")) if isinstance(service, dict) else None
    if name is None:
        raise Unmappable(f"incident {incident_id} has no service.summary to name its service.")
    priority = data.get("priority")
    severity = (text(priority.get("summary")) if isinstance(priority, dict) else None) or text(data.get("urgency"))
    return incident(
        SOURCE,
        f"{SOURCE}:{incident_id}",
        status,
        at,
        name,
        severity=severity,
        title=text(data.get("title")) or text(data.get("summary")),
        url=text(data.get("html_url")),
    )

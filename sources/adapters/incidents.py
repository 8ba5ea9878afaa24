"""What every incident adapter shares: one v1 incident event, its id, its times.

An incident adapter (Alertmanager, PagerDuty, Opsgenie, CDEvents, GitHub and Jira issues) maps
a vendor's change of an alert or incident to one v1 ``incident`` event (docs/contract.md#incident).
Its event_id is ``<source>:<the vendor's incident id>:<status>:<at>``: the same change sent twice
(a re-delivery, a repeated notification, a re-run import) gives the same id and lands once, and
a second change of the same kind (a reopen, then a second resolve) gives another.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sources.adapters import Unmappable
from sources.adapters.generic import validated

MAX_ID = 300  # longer vendor ids are cut: the event_id stays within v1's 512 characters


def incident(
    source: str,
    incident_id: str,
    status: str,
    at: str,
    service: str,
    *,
    environment: str | None = None,
    severity: str | None = None,
    title: str | None = None,
    url: str | None = None,
    caused_by: str | None = None,
    event_id: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """("incident", v1 event) checked by the worker's own parser; Unmappable when v1 refuses it.
    event_id: the sender's own id of this change where it has one (a CloudEvent id)."""
    event = {
        "event_id": event_id or f"{incident_id[:MAX_ID]}:{status}:{at}",
        "incident_id": incident_id,
        "service": service,
        "status": status,
        "at": at,
        "environment": environment,
        "severity": severity,
        "title": title[:500] if title else None,  # a title is for reading; v1 caps text at 512
        "url": url,
        "caused_by": caused_by,
        "source": source,
    }
    try:
        return "incident", validated("incident", {k: v for k, v in event.items() if v is not None})
    except Unmappable as exc:
        raise Unmappable(f"incident {incident_id[:80]} maps to an event v1 refuses: {exc}") from None


def utc(value: Any, where: str) -> str:
    """An ISO-8601 timestamp with an offset as UTC with 'Z', one spelling so ids built from it agree.

    Go writes nanoseconds (Alertmanager: 2023-02-06T13:08:45.828266876+02:00); Python reads at
    most microseconds, so the digits past six are dropped."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{where} is missing.")
    text = value.strip().replace("z", "Z")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError(text)
        moment = moment.astimezone(UTC)
    except ValueError:
        raise Unmappable(f"{where} '{value}' is not an ISO-8601 timestamp with a UTC offset.") from None
    except OverflowError:
        raise Unmappable(f"{where} '{value}' is out of range once converted to UTC.") from None
    return moment.isoformat().replace("+00:00", "Z")


def epoch(value: Any, where: str) -> str:
    """Epoch milliseconds, microseconds or nanoseconds (told by size) as UTC ISO-8601 with 'Z'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise Unmappable(f"{where} is {value!r}, not an epoch time.")
    seconds = value / 1e9 if value > 1e17 else value / 1e6 if value > 1e14 else value / 1e3
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise Unmappable(f"{where} is {value!r}, outside any calendar.") from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text(value: Any) -> str | None:
    """A non-blank string, stripped, else None."""
    return value.strip() or None if isinstance(value, str) else None

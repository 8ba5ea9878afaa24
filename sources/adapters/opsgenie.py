"""Opsgenie's outgoing webhook integration: alert actions -> v1 incidents.

The body is Opsgenie's "alert action data"
(https://support.atlassian.com/opsgenie/docs/opsgenie-edge-connector-alert-action-data/):
``action``, ``alert`` (``alertId``, ``message``, ``tags``, ``entity``, ``createdAt`` in epoch
milliseconds, ``updatedAt`` in epoch nanoseconds, and ``details`` on Create when the integration
sends them), ``source``, ``integrationName``.

- ``Create`` -> ``opened`` at ``createdAt``; ``Acknowledge`` -> ``acknowledged`` and ``Close`` ->
  ``resolved``, at ``updatedAt``; every other action (AddNote, Delete, ...) gives nothing.
- incident_id ``opsgenie:<alertId>``; title ``message``; severity ``priority`` (P1-P5) where the
  payload has it.
- service: ``details[<key>]``, else a tag ``<key>:<name>``, else the alert's ``entity``, where
  ``<key>`` is the setting ``opsgenie_service_key`` (default ``service``). Only Create carries
  details, so a tag or the entity is what names the service of an acknowledgement or a close.
"""

from __future__ import annotations

from typing import Any

from sources.adapters import Mapped, Unmappable
from sources.adapters.incidents import epoch, incident, text

SOURCE = "opsgenie"
STATUS = {"Create": "opened", "Acknowledge": "acknowledged", "Close": "resolved"}


def from_webhook(payload: Any, *, service_key: str = "service") -> Mapped:
    """The incident event of one alert action; [] for actions flowmeter does not measure."""
    if not isinstance(payload, dict):
        raise Unmappable("the Opsgenie payload is not a JSON object.")
    status = STATUS.get(payload.get("action"))  # type: ignore[arg-type]
    if status is None:
        return []
    alert = payload.get("alert")
    if not isinstance(alert, dict):
        raise Unmappable(f"the Opsgenie {payload.get('action')} payload has no alert object.")
    alert_id = text(alert.get("alertId"))
    if alert_id is None:
        raise Unmappable("the Opsgenie alert has no alertId.")
    service = _service(alert, service_key)
    if service is None:
        raise Unmappable(
            f"Opsgenie alert {alert_id} names no service: no details['{service_key}'], no tag "
            f"'{service_key}:<name>' and no entity; add one, or set opsgenie_service_key."
        )
    if status == "opened":
        at = epoch(alert.get("createdAt"), "alert.createdAt")
    else:
        at = epoch(alert.get("updatedAt"), "alert.updatedAt")
    return [
        incident(
            SOURCE,
            f"{SOURCE}:{alert_id}",
            status,
            at,
            service,
            severity=text(alert.get("priority")),
            title=text(alert.get("message")),
        )
    ]


def _service(alert: dict[str, Any], key: str) -> str | None:
    details = alert.get("details")
    if isinstance(details, dict) and text(details.get(key)):
        return text(details.get(key))
    tags = alert.get("tags")
    prefix = key.lower() + ":"
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, str) and tag.lower().startswith(prefix) and tag[len(prefix) :].strip():
            return tag[len(prefix) :].strip()
    return text(alert.get("entity"))

"""Prometheus Alertmanager's webhook receiver: one incident per alert, by fingerprint.

Alertmanager POSTs a group of alerts (``webhook_config``, payload ``version`` "4",
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). Each alert is
mapped on its own, whatever the group's ``status``:

- ``status`` firing -> ``opened`` at ``startsAt``; resolved -> ``resolved`` at ``endsAt``;
- incident_id ``alertmanager:<fingerprint>``: the alert's identity (a hash of its labels), the
  same in every notification about it; event_id adds the status and the time, so a repeated
  notification of a still-firing alert (``repeat_interval``) or a re-delivery lands once, and
  an alert that fires again later (a new ``startsAt``) opens the incident again;
- service, environment and severity are the first present label among those the settings name
  (``alertmanager_service_labels`` and so on); an alert with no service label is Unmappable;
- title: the ``summary`` annotation, else ``alertname``; url: ``generatorURL``.

One alert that cannot be mapped does not sink its group: ``from_webhook`` returns it as an
``Unmappable`` (with the alert) in place of its event, and the receiver dead-letters just that.

Alertmanager before 0.23 sends no ``fingerprint``: such an alert gets one made from its sorted
labels, which is what Alertmanager hashes too (not the same digits, but stable).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sources.adapters import Unmappable
from sources.adapters.incidents import incident, text, utc

SOURCE = "alertmanager"
STATUS = {"firing": "opened", "resolved": "resolved"}
Result = tuple[str, dict[str, Any]] | tuple[dict[str, Any], Unmappable]  # an event, or (the alert, why not)


def from_webhook(
    payload: Any,
    *,
    service_labels: Sequence[str] = ("service", "job"),
    environment_labels: Sequence[str] = ("env", "environment"),
    severity_labels: Sequence[str] = ("severity",),
) -> list[Result]:
    """One incident event per alert of the notification, or (alert, Unmappable) for one that cannot be."""
    if not isinstance(payload, dict):
        raise Unmappable("the Alertmanager payload is not a JSON object.")
    version = payload.get("version")
    if version != "4":
        raise Unmappable(f"Alertmanager webhook version {version!r} is not supported; flowmeter reads version 4.")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise Unmappable("the Alertmanager payload has no alerts list.")
    results: list[Result] = []
    for number, alert in enumerate(alerts, start=1):
        if not isinstance(alert, dict):
            results.append(({"alert": alert}, Unmappable(f"alert {number} of the notification is not an object.")))
            continue
        try:
            results.append(_alert(alert, number, service_labels, environment_labels, severity_labels))
        except Unmappable as exc:
            results.append((alert, exc))
    return results


def _alert(
    alert: dict[str, Any],
    number: int,
    service_labels: Sequence[str],
    environment_labels: Sequence[str],
    severity_labels: Sequence[str],
) -> tuple[str, dict[str, Any]]:
    labels = _object(alert.get("labels"))
    annotations = _object(alert.get("annotations"))
    name = text(labels.get("alertname")) or f"alert {number}"
    status = STATUS.get(alert.get("status"))  # type: ignore[arg-type]
    if status is None:
        raise Unmappable(f"{name} has status {alert.get('status')!r}, neither firing nor resolved.")
    service = _first(labels, service_labels)
    if service is None:
        raise Unmappable(
            f"{name} has none of the labels {', '.join(service_labels)} to name its service; "
            "add one to the alert rule or set alertmanager_service_labels."
        )
    when = "startsAt" if status == "opened" else "endsAt"
    at = utc(alert.get(when), f"{name}'s {when}")
    return incident(
        SOURCE,
        f"{SOURCE}:{_fingerprint(alert, labels)}",
        status,
        at,
        service,
        environment=_first(labels, environment_labels),
        severity=_first(labels, severity_labels),
        title=text(annotations.get("summary")) or text(labels.get("alertname")),
        url=text(alert.get("generatorURL")),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(labels: dict[str, Any], names: Sequence[str]) -> str | None:
    return next((value for value in (text(labels.get(name)) for name in names) if value), None)


def _fingerprint(alert: dict[str, Any], labels: dict[str, Any]) -> str:
    given = text(alert.get("fingerprint"))
    if given:
        return given
    pairs = "\n".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return "labels-" + hashlib.sha256(pairs.encode()).hexdigest()[:16]

"""Alertmanager webhook -> v1 incidents, with payloads shaped as
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config documents them
(tests/helpers/incident_payloads.py)."""

from __future__ import annotations

import json

import pytest

from flowcore.events import parse_incident
from sources.adapters import Unmappable
from sources.adapters.alertmanager import from_webhook
from tests.helpers.incident_payloads import alert, alertmanager


def test_firing_opens_at_starts_at_and_resolved_resolves_at_ends_at():
    firing = from_webhook(alertmanager(alert("firing")))
    resolved = from_webhook(alertmanager(alert("resolved", ends="2025-03-04T16:55:00Z"), status="resolved"))
    # startsAt 17:20:00.123456789+01:00 is 16:20:00.123456 UTC (nanoseconds cut to microseconds)
    assert firing == [
        (
            "incident",
            {
                "event_id": "alertmanager:1a30ba71cca2921f:opened:2025-03-04T16:20:00.123456Z",
                "incident_id": "alertmanager:1a30ba71cca2921f",
                "service": "payments-api",  # no `service` label: `job` is next in alertmanager_service_labels
                "status": "opened",
                "at": "2025-03-04T16:20:00.123456Z",
                "environment": "production",
                "severity": "critical",
                "title": "5xx above 5% for 5 minutes",
                "url": "http://prometheus.example.org:9090/graph?g0.expr=rate%28http_5xx%5B5m%5D%29&g0.tab=1",
                "source": "alertmanager",
            },
        )
    ]
    ((_, event),) = resolved
    assert (event["status"], event["at"], event["incident_id"]) == (
        "resolved",
        "2025-03-04T16:55:00Z",
        "alertmanager:1a30ba71cca2921f",
    )
    assert parse_incident(json.dumps(event)).status == "resolved"  # the worker takes it as it is


def test_a_repeated_notification_gives_the_same_event_id_and_a_new_firing_another():
    first = from_webhook(alertmanager(alert()))
    again = from_webhook(alertmanager(alert()))  # repeat_interval: the same alert, the same startsAt
    later = from_webhook(alertmanager(alert(starts="2025-03-05T09:00:00Z")))
    assert first == again
    assert later[0][1]["event_id"] != first[0][1]["event_id"]


def test_each_alert_of_a_group_maps_on_its_own_whatever_the_group_status():
    results = from_webhook(
        alertmanager(
            alert("resolved", fingerprint="aaa", ends="2025-03-04T16:30:00Z"),
            alert("firing", fingerprint="bbb", service="checkout", environment="staging"),
            status="firing",
        )
    )
    assert [(e["incident_id"], e["status"], e["service"], e["environment"]) for _, e in results] == [
        ("alertmanager:aaa", "resolved", "payments-api", "production"),
        ("alertmanager:bbb", "opened", "checkout", "production"),  # env is listed before environment
    ]


def test_which_labels_name_service_environment_and_severity_are_settings():
    ((_, event),) = from_webhook(
        alertmanager(alert(app="ledger", tier="prod", priority="P2")),
        service_labels=["app"],
        environment_labels=["tier"],
        severity_labels=["priority"],
    )
    assert (event["service"], event["environment"], event["severity"]) == ("ledger", "prod", "P2")


def test_an_alert_without_a_service_label_is_refused_naming_the_setting_and_the_rest_map():
    results = from_webhook(alertmanager(alert(fingerprint="ok"), alert(fingerprint="bad")), service_labels=["app"])
    assert all(isinstance(r[1], Unmappable) for r in results)
    reason = str(results[0][1])
    assert "alertmanager_service_labels" in reason and "app" in reason
    mixed = from_webhook(alertmanager(alert(fingerprint="ok"), {**alert(fingerprint="bad"), "labels": {}}))
    assert mixed[0][0] == "incident" and isinstance(mixed[1][1], Unmappable)


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"version": "3", "alerts": []}, "version '3'"),
        ({"version": "4"}, "no alerts list"),
        ([], "not a JSON object"),
    ],
)
def test_payloads_that_are_not_version_4_notifications_are_refused(payload, reason):
    with pytest.raises(Unmappable, match=reason):
        from_webhook(payload)

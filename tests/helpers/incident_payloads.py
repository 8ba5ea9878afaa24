"""Incident webhooks shaped exactly as their vendors document them, values filled in.

- Alertmanager: the webhook_config JSON of https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
  (version "4", groupKey, truncatedAlerts, status, receiver, groupLabels, commonLabels,
  commonAnnotations, externalURL, alerts[] with status, labels, annotations, startsAt, endsAt,
  generatorURL, fingerprint). A firing alert's endsAt is Go's zero time, as Alertmanager sends it.
- PagerDuty: the v3 webhook payload of https://developer.pagerduty.com/docs/webhooks/v3-overview
  ("Webhook Payload": event.id, event_type, resource_type, occurred_at, agent, client, data =
  the "incident" event data type), and a GET /incidents list of the REST API reference.
- Opsgenie: the alert action data of
  https://support.atlassian.com/opsgenie/docs/opsgenie-edge-connector-alert-action-data/
  (Create: createdAt in ms, updatedAt in ns; Acknowledge and Close without details).
"""

from __future__ import annotations

import copy
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"
FINGERPRINT = "1a30ba71cca2921f"


def alertmanager(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "flowmeter",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
        "commonAnnotations": {"summary": "5xx above 5% for 5 minutes"},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": list(alerts),
    }


def alert(
    status: str = "firing",
    *,
    fingerprint: str = FINGERPRINT,
    starts: str = "2025-03-04T17:20:00.123456789+01:00",
    ends: str = ZERO_TIME,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "job": "payments-api", "env": "production", "severity": "critical"}
        | labels,
        "annotations": {"summary": "5xx above 5% for 5 minutes", "runbook_url": "https://runbooks.example.org/5xx"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=rate%28http_5xx%5B5m%5D%29&g0.tab=1",
        "fingerprint": fingerprint,
    }


PD_INCIDENT = {  # the "incident" event data type, verbatim from the v3 overview
    "id": "PGR0VU2",
    "type": "incident",
    "self": "https://api.pagerduty.com/incidents/PGR0VU2",
    "html_url": "https://acme.pagerduty.com/incidents/PGR0VU2",
    "number": 2,
    "status": "triggered",
    "incident_key": "d3640fbd41094207a1c11e58e46b1662",
    "created_at": "2020-04-09T15:16:27Z",
    "title": "A little bump in the road",
    "service": {
        "html_url": "https://acme.pagerduty.com/services/PF9KMXH",
        "id": "PF9KMXH",
        "self": "https://api.pagerduty.com/services/PF9KMXH",
        "summary": "API Service",
        "type": "service_reference",
    },
    "assignees": [
        {
            "html_url": "https://acme.pagerduty.com/users/PTUXL6G",
            "id": "PTUXL6G",
            "self": "https://api.pagerduty.com/users/PTUXL6G",
            "summary": "User 123",
            "type": "user_reference",
        }
    ],
    "escalation_policy": {
        "html_url": "https://acme.pagerduty.com/escalation_policies/PUS0KTE",
        "id": "PUS0KTE",
        "self": "https://api.pagerduty.com/escalation_policies/PUS0KTE",
        "summary": "Default",
        "type": "escalation_policy_reference",
    },
    "teams": [
        {
            "html_url": "https://acme.pagerduty.com/teams/PFCVPS0",
            "id": "PFCVPS0",
            "self": "https://api.pagerduty.com/teams/PFCVPS0",
            "summary": "Engineering",
            "type": "team_reference",
        }
    ],
    "priority": {
        "html_url": "https://acme.pagerduty.com/account/incident_priorities",
        "id": "PSO75BM",
        "self": "https://api.pagerduty.com/priorities/PSO75BM",
        "summary": "P1",
        "type": "priority_reference",
    },
    "urgency": "high",
    "conference_bridge": {"conference_number": "+1 1234123412,,987654321#", "conference_url": "https://example.com"},
    "resolve_reason": None,
}


def pagerduty(event_type: str, occurred_at: str = "2020-10-02T18:45:22.169Z", **data: Any) -> dict[str, Any]:
    return {
        "event": {
            "id": "5ac64822-4adc-4fda-ade0-410becf0de4f",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at,
            "agent": {
                "html_url": "https://acme.pagerduty.com/users/PLH1HKV",
                "id": "PLH1HKV",
                "self": "https://api.pagerduty.com/users/PLH1HKV",
                "summary": "Tenex Engineer",
                "type": "user_reference",
            },
            "client": {"name": "PagerDuty"},
            "data": copy.deepcopy(PD_INCIDENT) | data,
        }
    }


def pagerduty_listed(**over: Any) -> dict[str, Any]:
    """One incident of GET /incidents (REST API v2 reference, List incidents)."""
    item = {k: v for k, v in copy.deepcopy(PD_INCIDENT).items() if k != "conference_bridge"}
    item |= {
        "summary": "[#2] A little bump in the road",
        "last_status_change_at": "2020-04-09T15:16:27Z",
        "incident_number": 2,
    }
    return item | over


def opsgenie(action: str, **alert: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "updatedAt": 1420452224764002246,
        "tags": ["tag1", "tag2"],
        "message": "test alert",
        "username": "fili@ifountain.com",
        "alertId": "052652ac-5d1c-464a-812a-7dd18bbfba8c",
        "source": "fili@ifountain.com",
        "alias": "aliastest",
        "tinyId": "23",
        "createdAt": 1420452191104,
        "userId": "daed1180-0ce8-438b-8f8e-57e1a5920a2d",
        "entity": "",
    }
    if action == "Create":
        base |= {"updatedAt": 1420452193166002000, "teams": ["team1", "team2"], "recipients": ["r1", "r2"]}
    return {
        "source": {"name": "web", "type": "API"} if action == "Create" else {"name": "", "type": "web"},
        "alert": base | alert,
        "action": action,
        "integrationId": "37c8f316-17c6-49d7-899b-9c7e540c048d",
        "integrationName": "Integration1",
    }

"""PagerDuty v3 webhooks and a saved GET /incidents list -> v1 incidents. Payloads as
https://developer.pagerduty.com/docs/webhooks/v3-overview ("Webhook Payload", the "incident"
event data type) and the REST API's List incidents show them (tests/helpers/incident_payloads.py);
signatures as https://developer.pagerduty.com/docs/webhooks/webhook-signatures describes them."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from sources.adapters import Unmappable
from sources.adapters.pagerduty import from_webhook, iter_import
from sources.receiver import pagerduty_signature_ok
from tests.helpers.incident_payloads import pagerduty, pagerduty_listed

OPENED = {
    "event_id": "pagerduty:PGR0VU2:opened:2020-04-09T15:16:27Z",
    "incident_id": "pagerduty:PGR0VU2",
    "service": "API Service",
    "status": "opened",
    "at": "2020-04-09T15:16:27Z",  # data.created_at, not the event's occurred_at
    "severity": "P1",  # the priority's name where the account has priorities
    "title": "A little bump in the road",
    "url": "https://acme.pagerduty.com/incidents/PGR0VU2",
    "source": "pagerduty",
}


def test_triggered_acknowledged_resolved_and_reopened():
    assert from_webhook(pagerduty("incident.triggered")) == [("incident", OPENED)]
    for event_type, status in [
        ("incident.acknowledged", "acknowledged"),
        ("incident.resolved", "resolved"),
        ("incident.reopened", "opened"),
    ]:
        ((_, event),) = from_webhook(pagerduty(event_type, "2020-04-09T16:01:02.5Z"))
        assert (event["status"], event["at"]) == (status, "2020-04-09T16:01:02.500000Z")


def test_urgency_is_the_severity_without_priorities_and_other_event_types_give_nothing():
    ((_, event),) = from_webhook(pagerduty("incident.triggered", priority=None))
    assert event["severity"] == "high"
    assert from_webhook(pagerduty("incident.annotated")) == []
    assert from_webhook(pagerduty("incident.priority_updated")) == []


def test_a_payload_without_a_service_or_event_is_refused():
    with pytest.raises(Unmappable, match="service.summary"):
        from_webhook(pagerduty("incident.triggered", service=None))
    with pytest.raises(Unmappable, match="v3 webhook"):
        from_webhook({"messages": []})  # a v2 webhook


def test_signature_is_any_of_several_v1_hmacs():
    body = json.dumps(pagerduty("incident.triggered")).encode()
    good = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    other = hmac.new(b"rotated-away", body, hashlib.sha256).hexdigest()
    assert pagerduty_signature_ok("s3cret", body, f"v1={good}")
    assert pagerduty_signature_ok("s3cret", body, f"v1={other},v1={good}")  # during a secret rotation
    assert not pagerduty_signature_ok("s3cret", body, f"v1={other}")
    assert not pagerduty_signature_ok("s3cret", body, f"v0={good}")
    assert not pagerduty_signature_ok("s3cret", body, None)
    assert not pagerduty_signature_ok("s3cret", body, "v1=é")


def test_import_of_a_saved_incidents_list(tmp_path):
    page = {
        "incidents": [
            pagerduty_listed(),  # triggered: opened only
            pagerduty_listed(id="PACK", status="acknowledged", last_status_change_at="2020-04-09T15:20:00Z"),
            pagerduty_listed(
                id="PRES",
                status="resolved",
                urgency="low",
                priority=None,
                resolved_at="2020-04-09T17:16:27Z",
                last_status_change_at="2020-04-09T17:16:27Z",
            ),
            pagerduty_listed(id="PBAD", service=None),
        ],
        "limit": 25,
        "offset": 0,
        "more": False,
    }
    path = tmp_path / "incidents.json"
    path.write_text(json.dumps(page) + "\n" + json.dumps({"incidents": [pagerduty_listed(id="P2ND")]}))
    out = list(iter_import(path))
    events = [(e["incident_id"], e["status"], e["at"]) for r in out if not isinstance(r, Unmappable) for e in [r[1]]]
    assert events == [
        ("pagerduty:PGR0VU2", "opened", "2020-04-09T15:16:27Z"),
        ("pagerduty:PACK", "opened", "2020-04-09T15:16:27Z"),
        ("pagerduty:PACK", "acknowledged", "2020-04-09T15:20:00Z"),
        ("pagerduty:PRES", "opened", "2020-04-09T15:16:27Z"),
        ("pagerduty:PRES", "resolved", "2020-04-09T17:16:27Z"),
        ("pagerduty:P2ND", "opened", "2020-04-09T15:16:27Z"),
    ]
    skipped = [str(r) for r in out if isinstance(r, Unmappable)]
    assert skipped == ["incident 4: incident PBAD has no service.summary to name its service."]
    # The webhook's opening and the import's are one event: the same id.
    assert from_webhook(pagerduty("incident.triggered"))[0][1]["event_id"] == out[0][1]["event_id"]

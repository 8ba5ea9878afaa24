"""Opsgenie outgoing webhooks -> v1 incidents, with the alert action data of
https://support.atlassian.com/opsgenie/docs/opsgenie-edge-connector-alert-action-data/
(tests/helpers/incident_payloads.py)."""

from __future__ import annotations

import pytest

from sources.adapters import Unmappable
from sources.adapters.opsgenie import from_webhook
from tests.helpers.incident_payloads import opsgenie

ALERT = "052652ac-5d1c-464a-812a-7dd18bbfba8c"


def test_create_acknowledge_close_with_the_service_in_a_tag():
    tags = {"tags": ["service:payments", "tag2"], "priority": "P2"}
    ((_, created),) = from_webhook(opsgenie("Create", **tags))
    # createdAt 1420452191104 ms = 2015-01-05T10:03:11.104Z
    assert created == {
        "event_id": f"opsgenie:{ALERT}:opened:2015-01-05T10:03:11.104Z",
        "incident_id": f"opsgenie:{ALERT}",
        "service": "payments",
        "status": "opened",
        "at": "2015-01-05T10:03:11.104Z",
        "severity": "P2",
        "title": "test alert",
        "source": "opsgenie",
    }
    # updatedAt 1420452224764002246 ns = 2015-01-05T10:03:44.764Z
    ((_, acked),) = from_webhook(opsgenie("Acknowledge", **tags))
    ((_, closed),) = from_webhook(opsgenie("Close", **tags, updatedAt=1420455824764002246))  # one hour later
    assert (acked["status"], acked["at"]) == ("acknowledged", "2015-01-05T10:03:44.764Z")
    assert (closed["status"], closed["at"]) == ("resolved", "2015-01-05T11:03:44.764Z")


def test_the_service_from_details_else_a_tag_else_the_entity():
    created = opsgenie("Create", details={"service": "ledger"}, tags=["service:payments"], entity="web")
    assert from_webhook(created)[0][1]["service"] == "ledger"
    assert from_webhook(opsgenie("Close", entity="web-frontend"))[0][1]["service"] == "web-frontend"
    keyed = opsgenie("Close", tags=["app:billing"])
    assert from_webhook(keyed, service_key="app")[0][1]["service"] == "billing"


def test_an_alert_naming_no_service_is_refused_naming_the_setting_and_other_actions_give_nothing():
    with pytest.raises(Unmappable, match="opsgenie_service_key"):
        from_webhook(opsgenie("Create"))  # the documented sample: tags tag1, tag2 and an empty entity
    assert from_webhook(opsgenie("AddNote", entity="web")) == []
    assert from_webhook(opsgenie("Delete", entity="web")) == []

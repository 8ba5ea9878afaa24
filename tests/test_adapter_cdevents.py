"""CDEvents over CloudEvents → v1: payloads shaped as the CDEvents spec documents them for 0.3,
0.4 and 0.5 (conformance examples of cdevents/spec, SDK-generated type versions), in binary and
structured mode, with the expected v1 output written by hand.

Type versions per spec release (cdevents/sdk-go pkg/api/v03, v04, v05):
  service.*  0.1.1 (0.3), 0.2.0 (0.4), 0.3.0 (0.5)    ticket.*  —, 0.1.0 (0.4), 0.2.0 (0.5)
  incident.* 0.1.0 (0.3), 0.2.0 (0.4), 0.3.0 (0.5)    change.merged 0.1.2, 0.2.0, 0.3.0
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from flowcore.events import Deploy, Incident, Transition, parse_deploy, parse_incident, parse_transition
from sources.adapters import Unmappable
from sources.adapters.cdevents import from_cloudevent, purl_version

NOW = datetime(2025, 6, 1, 12, 0, 0)
PARSE: dict[str, Callable[..., Transition | Deploy | Incident]] = {
    "deploy": parse_deploy,
    "transition": parse_transition,
    "incident": parse_incident,
}

LINKS = [  # 0.4/0.5 context links, as in the conformance examples
    {
        "linkType": "RELATION",
        "linkKind": "TRIGGER",
        "target": {"contextId": "5328c37f-bb7e-4bb7-84ea-9f5f85e4a7ce"},
        "tags": {"foo1": "bar"},
    },
    {"linkType": "PATH", "from": {"contextId": "5328c37f-bb7e-4bb7-84ea-9f5f85e4a7ce"}},
]

# spec 0.3: cdevents/spec conformance/service_deployed.json at v0.3.0 (context.version, subject.type)
V03_DEPLOYED = {
    "context": {
        "version": "0.3.0",
        "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
        "source": "/event/source/123",
        "type": "dev.cdevents.service.deployed.0.1.1",
        "timestamp": "2023-03-20T14:27:05.315384Z",
    },
    "subject": {
        "id": "mySubject123",
        "source": "/event/source/123",
        "type": "service",
        "content": {
            "environment": {"id": "test123"},
            "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427",
        },
    },
}

# spec 0.4: context.version 0.4.1 with chainId, schemaUri and links
V04_UPGRADED = {
    "context": {
        "version": "0.4.1",
        "id": "9a1c2f0e-1d6e-4c55-8f0b-2a7c1f3e4d5b",
        "chainId": "4c8cb7dd-3448-41de-8768-eec704e2829b",
        "source": "/tekton/prod",
        "type": "dev.cdevents.service.upgraded.0.2.0",
        "timestamp": "2024-04-02T08:15:00+02:00",
        "schemaUri": "https://myorg.com/schema/custom",
        "links": LINKS,
    },
    "subject": {
        "id": "service/payments-api",
        "source": "/tekton/prod",
        "type": "service",
        "content": {
            "environment": {"id": "production", "source": "/k8s/eu-1"},
            "artifactId": "pkg:golang/mygit.com/myorg/payments-api@v1.4.2",
        },
    },
}

# spec 0.5: context.specversion, links, no subject.type, customData
V05_ROLLEDBACK = {
    "context": {
        "specversion": "0.5.0",
        "id": "f3d8c2a1-0b9e-4e7a-9c6d-5b4a3f2e1d0c",
        "source": "/argocd/eu-1",
        "type": "dev.cdevents.service.rolledback.0.3.0",
        "timestamp": "2025-05-30T16:45:10Z",
        "links": LINKS,
    },
    "subject": {
        "id": "service/payments-api",
        "source": "/argocd/eu-1",
        "content": {
            "environment": {"id": "production"},
            "artifactId": "pkg:oci/payments-api@sha256%3Aab12?repository_url=ghcr.io%2Facme",
        },
    },
    "customData": {"argo": {"revision": 41}},
    "customDataContentType": "application/json",
}

# spec 0.4: ticket.created 0.1.0 (continuous-operations.md: summary, creator, uri mandatory)
V04_TICKET_CREATED = {
    "context": {
        "version": "0.4.1",
        "id": "1b0c9d3e-7f2a-4c1d-9e8b-6a5f4e3d2c1b",
        "source": "/jira/acme",
        "type": "dev.cdevents.ticket.created.0.1.0",
        "timestamp": "2024-11-11T13:52:20.079Z",
    },
    "subject": {
        "id": "PAY-101",
        "source": "/jira/acme",
        "type": "ticket",
        "content": {
            "summary": "Refunds time out",
            "ticketType": "bug",
            "group": "payments",
            "creator": "Alice",
            "assignees": ["Bob", "Carol"],
            "priority": "high",
            "labels": ["refunds"],
            "milestone": "sprint-12",
            "uri": "https://jira.acme.dev/browse/PAY-101",
        },
    },
}

# spec 0.5: cdevents/spec conformance/ticket_closed.json at v0.5.0
V05_TICKET_CLOSED = {
    "context": {
        "specversion": "0.5.0",
        "id": "F4BD2B55-B6F6-4F44-AF72-BD2D0E7A8708",
        "source": "/ticketing/system",
        "type": "dev.cdevents.ticket.closed.0.2.0",
        "timestamp": "2022-11-11T13:52:20.079Z",
        "schemaUri": "https://myorg.com/schema/custom",
        "links": LINKS,
    },
    "subject": {
        "id": "ticket-123",
        "source": "/ticketing/system",
        "content": {
            "summary": "New CVE-123 detected",
            "ticketType": "task",
            "group": "security",
            "creator": "Alice",
            "assignees": ["Bob"],
            "priority": "high",
            "labels": ["bug"],
            "milestone": "123",
            "uri": "https://example.issues.com/ticket123",
            "resolution": "completed",
            "updatedBy": "Bob",
        },
    },
}


def binary(cdevent: dict[str, Any], **headers: str) -> tuple[dict[str, str], bytes]:
    """HTTP binary mode as in the CDEvents CloudEvents binding example."""
    context = cdevent["context"]
    sent = {
        "ce-specversion": "1.0",
        "ce-id": context["id"],
        "ce-source": context["source"],
        "ce-type": context["type"],
        "ce-time": context["timestamp"],
        "ce-subject": cdevent["subject"]["id"],
        "Content-Type": "application/json; charset=utf-8",
    }
    sent.update(headers)
    return sent, json.dumps(cdevent).encode()


def structured(cdevent: dict[str, Any], **attributes: Any) -> tuple[dict[str, str], bytes]:
    context = cdevent["context"]
    envelope = {
        "specversion": "1.0",
        "id": context["id"],
        "source": context["source"],
        "type": context["type"],
        "time": context["timestamp"],
        "subject": cdevent["subject"]["id"],
        "datacontenttype": "application/json",
        "data": cdevent,
    }
    envelope.update(attributes)
    return {"Content-Type": "application/cloudevents+json; charset=utf-8"}, json.dumps(envelope).encode()


def mapped(headers: dict[str, str], body: bytes) -> list[tuple[str, dict[str, Any]]]:
    """from_cloudevent, checking that every event passes the v1 parser."""
    events = from_cloudevent(headers, body)
    for kind, event in events:
        assert PARSE[kind](json.dumps(event).encode(), now=NOW).event_id == event["event_id"]
    return events


def refusal(headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(Unmappable) as caught:
        from_cloudevent(headers, body)
    return str(caught.value)


def changed(cdevent: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    """A deep copy with the dotted path `where` set to value (... deletes it)."""
    doc = copy.deepcopy(cdevent)
    *path, last = where.split(".")
    node = doc
    for key in path:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


# ---- deploys -------------------------------------------------------------------------------
def test_v03_service_deployed_in_binary_mode():
    assert mapped(*binary(V03_DEPLOYED)) == [
        (
            "deploy",
            {
                "event_id": "cde-271069a8-fc18-44f1-b38f-9d70a1695819@/event/source/123",
                "service": "mySubject123",
                "environment": "test123",
                "status": "success",
                "at": "2023-03-20T14:27:05.315384Z",
                "source": "cdevents:/event/source/123",
                # purl version, percent-decoded: %3A is ':'
                "version": "sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427",
            },
        )
    ]


def test_v04_service_upgraded_in_structured_mode_is_a_successful_deploy():
    assert mapped(*structured(V04_UPGRADED)) == [
        (
            "deploy",
            {
                "event_id": "cde-9a1c2f0e-1d6e-4c55-8f0b-2a7c1f3e4d5b@/tekton/prod",
                "service": "service/payments-api",
                "environment": "production",
                "status": "success",
                "at": "2024-04-02T08:15:00+02:00",
                "source": "cdevents:/tekton/prod",
                "version": "v1.4.2",
            },
        )
    ]
    # stored in UTC: 08:15 at +02:00 is 06:15 UTC
    ((_, event),) = mapped(*structured(V04_UPGRADED))
    assert parse_deploy(json.dumps(event), now=NOW).at == datetime(2024, 4, 2, 6, 15)


def test_v05_service_rolledback_with_links_and_custom_data():
    assert mapped(*binary(V05_ROLLEDBACK)) == [
        (
            "deploy",
            {
                "event_id": "cde-f3d8c2a1-0b9e-4e7a-9c6d-5b4a3f2e1d0c@/argocd/eu-1",
                "service": "service/payments-api",
                "environment": "production",
                "status": "rolled_back",
                "at": "2025-05-30T16:45:10Z",
                "source": "cdevents:/argocd/eu-1",
                "version": "sha256:ab12",  # qualifiers after '?' are not part of the version
            },
        )
    ]


def test_deployed_events_of_each_spec_version_map_alike():
    v04 = changed(
        changed(V03_DEPLOYED, "context.version", "0.4.1"), "context.type", "dev.cdevents.service.deployed.0.2.0"
    )
    v05 = changed(
        changed(changed(V03_DEPLOYED, "context.version", ...), "context.specversion", "0.5.0"),
        "context.type",
        "dev.cdevents.service.deployed.0.3.0",
    )
    results = [mapped(*binary(doc))[0][1] for doc in (V03_DEPLOYED, v04, v05)]
    assert results[0] == results[1] == results[2]


def test_sender_supplied_commits_and_tickets_in_custom_data():
    doc = changed(V05_ROLLEDBACK, "context.type", "dev.cdevents.service.deployed.0.3.0")
    doc["customData"] = {
        "flowmeter": {
            "commits": [{"sha": "a1b2c3", "committed_at": "2025-05-30T09:00:00Z"}],
            "tickets": ["PAY-101"],
            "started_at": "2025-05-30T16:40:00Z",
        }
    }
    ((_, event),) = mapped(*binary(doc))
    assert (event["status"], event["commits"], event["tickets"], event["started_at"]) == (
        "success",
        [{"sha": "a1b2c3", "committed_at": "2025-05-30T09:00:00Z"}],
        ["PAY-101"],
        "2025-05-30T16:40:00Z",
    )


def test_environment_name_is_used_when_a_sender_gives_no_id():
    doc = changed(V03_DEPLOYED, "subject.content.environment", {"name": "staging"})
    assert mapped(*binary(doc))[0][1]["environment"] == "staging"


@pytest.mark.parametrize(
    "artifact_id, version",
    [
        ("pkg:oci/myapp@sha256%3A0b31", "sha256:0b31"),
        ("pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c", "234fd47e07d1004f0aed9c"),
        ("pkg:npm/%40angular/core@16.2.0?arch=x64#dist", "16.2.0"),
        ("pkg:oci/myapp", None),  # a purl without a version
        ("six-1.14.0-py2.py3-none-any.whl", None),  # the spec's own non-purl example: no version invented
        ("0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427", None),
        (None, None),
    ],
)
def test_purl_version(artifact_id, version):
    assert purl_version(artifact_id) == version


def test_a_deploy_without_a_purl_has_no_version_key():
    doc = changed(V03_DEPLOYED, "subject.content.artifactId", "six-1.14.0-py2.py3-none-any.whl")
    assert "version" not in mapped(*binary(doc))[0][1]


# ---- tickets -------------------------------------------------------------------------------
def test_v04_ticket_created_is_a_creation():
    assert mapped(*binary(V04_TICKET_CREATED)) == [
        (
            "transition",
            {
                "event_id": "cde-1b0c9d3e-7f2a-4c1d-9e8b-6a5f4e3d2c1b@/jira/acme",
                "ticket_id": "PAY-101",
                "board": "payments",
                "from_state": None,
                "to_state": "created",
                "at": "2024-11-11T13:52:20.079Z",
                "assignee": "Bob",
                "ticket_type": "bug",
                "actor": "Alice",
                "source": "cdevents:/jira/acme",
            },
        )
    ]


def test_v05_ticket_closed_moves_to_its_resolution():
    assert mapped(*structured(V05_TICKET_CLOSED)) == [
        (
            "transition",
            {
                "event_id": "cde-F4BD2B55-B6F6-4F44-AF72-BD2D0E7A8708@/ticketing/system",
                "ticket_id": "ticket-123",
                "board": "security",
                "from_state": None,
                "to_state": "completed",
                "at": "2022-11-11T13:52:20.079Z",
                "assignee": "Bob",
                "ticket_type": "task",
                "actor": "Bob",
                "source": "cdevents:/ticketing/system",
            },
        )
    ]


def test_ticket_without_group_lands_on_the_board_named_by_its_source():
    doc = changed(changed(V05_TICKET_CLOSED, "subject.content.group", ...), "subject.content.resolution", ...)
    ((_, event),) = mapped(*binary(doc))
    assert (event["board"], event["to_state"]) == ("/ticketing/system", "closed")


# ---- incidents -----------------------------------------------------------------------------
# spec 0.5: cdevents/spec conformance/incident_detected.json, incident_reported.json and
# incident_resolved.json (the same subject: incident-123 of the service myApp in prod1)
def _incident_doc(predicate: str, artifact_digest: str, **content: Any) -> dict[str, Any]:
    return {
        "context": {
            "specversion": "0.5.0",
            "id": "F4BD2B55-B6F6-4F44-AF72-BD2D0E7A8708" + ("" if predicate == "detected" else f"-{predicate}"),
            "chainId": "4c8cb7dd-3448-41de-8768-eec704e2829b",
            "source": "/monitoring/prod1",
            "type": f"dev.cdevents.incident.{predicate}.0.3.0",
            "timestamp": "2022-11-11T13:52:20.079Z",
            "schemaUri": "https://myorg.com/schema/custom",
            "links": LINKS,
        },
        "subject": {
            "id": "incident-123",
            "source": "/monitoring/prod1",
            "content": {
                "description": "Response time above threshold of 100ms",
                "environment": {"id": "prod1", "source": "/iaas/geo1"},
                "service": {"id": "myApp", "source": "/clusterA/namespaceB"},
                "artifactId": f"pkg:oci/myapp@sha256%3A{artifact_digest}",
                **content,
            },
        },
        "customData": {"metric": "responseTime", "threshold": "100ms", "value": "200ms"},
        "customDataContentType": "application/json",
    }


DIGEST = "0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"


def test_incident_detected_opens_an_incident_caused_by_the_artifact_version():
    ((kind, event),) = mapped(*binary(_incident_doc("detected", DIGEST)))
    assert (kind, event) == (
        "incident",
        {
            "event_id": "cde-F4BD2B55-B6F6-4F44-AF72-BD2D0E7A8708@/monitoring/prod1",
            "incident_id": "incident-123",
            "service": "myApp",
            "status": "opened",
            "at": "2022-11-11T13:52:20.079Z",
            "environment": "prod1",
            "title": "Response time above threshold of 100ms",
            "caused_by": f"sha256:{DIGEST}",  # the version a CDEvents deploy of that artifact carries
            "source": "cdevents:/monitoring/prod1",
        },
    )


def test_incident_reported_opens_with_its_ticket_and_resolved_names_no_cause():
    reported = _incident_doc("reported", DIGEST, ticketURI="https://my-issues.example/incidents/ticket-345")
    ((_, opened),) = mapped(*structured(reported))
    assert (opened["status"], opened["url"]) == ("opened", "https://my-issues.example/incidents/ticket-345")
    resolved = _incident_doc("resolved", DIGEST[:-2] + "39", description="Response time restored below 100ms")
    ((_, event),) = mapped(*binary(resolved))
    # the artifact on a resolve is the fixed one that runs now, not the cause
    assert (event["status"], "caused_by" in event) == ("resolved", False)


def test_an_incident_without_a_service_is_refused():
    doc = changed(_incident_doc("detected", DIGEST), "subject.content.service", ...)
    assert "subject.content.service.id" in refusal(*binary(doc))


# ---- valid events flowmeter does not measure ---------------------------------------------
@pytest.mark.parametrize(
    "event_type, content",
    [
        ("dev.cdevents.ticket.updated.0.2.0", {"uri": "https://example.issues.com/ticket123", "updatedBy": "Bob"}),
        ("dev.cdevents.change.merged.0.2.0", {"repository": {"id": "acme/payments"}}),
        ("dev.cdevents.service.removed.0.1.1", {"environment": {"id": "production"}}),
        ("dev.cdevents.pipelinerun.finished.0.3.0", {"pipelineName": "release", "outcome": "success"}),
        ("dev.cdeventsx.mytool-process.finished.0.1.0", {}),
    ],
)
def test_valid_events_without_a_v1_meaning_map_to_nothing(event_type, content):
    doc = {
        "context": {
            "specversion": "0.5.0",
            "id": "x-1",
            "source": "/s",
            "type": event_type,
            "timestamp": "2025-05-30T10:00:00Z",
        },
        "subject": {"id": "subject-1", "content": content},
    }
    assert from_cloudevent(*binary(doc)) == []


# ---- transport -----------------------------------------------------------------------------
def test_header_names_are_case_insensitive():
    headers, body = binary(V03_DEPLOYED)
    shouted = {name.upper(): value for name, value in headers.items()}
    assert mapped(shouted, body) == mapped(headers, body)
    headers, body = structured(V04_UPGRADED)
    assert mapped({"content-TYPE": headers["Content-Type"]}, body) == mapped(headers, body)


def test_redelivery_and_either_mode_give_the_same_event_id():
    first = mapped(*binary(V05_ROLLEDBACK))
    assert mapped(*binary(V05_ROLLEDBACK)) == first
    assert mapped(*structured(V05_ROLLEDBACK)) == first


def test_the_same_cdevent_id_from_another_source_is_another_event():
    other = changed(V05_ROLLEDBACK, "context.source", "/argocd/us-1")
    assert mapped(*binary(other))[0][1]["event_id"] == "cde-f3d8c2a1-0b9e-4e7a-9c6d-5b4a3f2e1d0c@/argocd/us-1"


def test_structured_data_base64_and_plain_cdevent_are_accepted():
    expected = mapped(*binary(V03_DEPLOYED))
    encoded = base64.b64encode(json.dumps(V03_DEPLOYED).encode()).decode()
    headers, body = structured(V03_DEPLOYED, data=None, data_base64=encoded)
    assert mapped(headers, body) == expected
    assert mapped({"Content-Type": "application/json"}, json.dumps(V03_DEPLOYED).encode()) == expected


def test_a_very_long_id_and_source_are_hashed_into_the_event_id():
    doc = changed(V03_DEPLOYED, "context.source", "/" + "s" * 500)
    event_id = mapped(*binary(doc))[0][1]["event_id"]
    assert event_id.startswith("cde-") and len(event_id) == 36
    assert mapped(*binary(doc))[0][1]["event_id"] == event_id


# ---- refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["0.2.0", "0.6.0-draft", "1.0.0", "draft"])
def test_spec_versions_outside_0_3_to_0_5_are_refused(version):
    doc = changed(V03_DEPLOYED, "context.version", version)
    assert refusal(*binary(doc)) == (
        f"CDEvents spec version '{version}' is not supported; flowmeter reads 0.3, 0.4 and 0.5."
    )


def test_a_context_without_any_version_is_refused():
    assert refusal(*binary(changed(V03_DEPLOYED, "context.version", ...))) == (
        "the CDEvent's context has neither specversion (0.5) nor version (0.3, 0.4), so its spec version is unknown."
    )


def test_binary_envelope_without_id_or_type_is_refused():
    headers, body = binary(V03_DEPLOYED)
    del headers["ce-id"], headers["ce-type"]
    assert refusal(headers, body) == (
        "the CloudEvent has no ce-id, ce-type; binary mode needs ce-specversion, ce-id, ce-source, ce-type."
    )


def test_structured_envelope_without_id_is_refused():
    assert refusal(*structured(V03_DEPLOYED, id="  ")) == (
        "the CloudEvent has no id; structured mode needs specversion, id, source, type."
    )


def test_other_cloudevents_versions_and_batches_are_refused():
    assert refusal(*binary(V03_DEPLOYED, **{"ce-specversion": "0.3"})) == (
        "CloudEvents specversion '0.3' is not supported; send CloudEvents 1.0."
    )
    assert refusal({"Content-Type": "application/cloudevents-batch+json"}, b"[]") == (
        "batched CloudEvents (application/cloudevents-batch+json) are not accepted; send one CloudEvent per request."
    )


def test_unreadable_payloads_are_refused():
    headers, _ = binary(V03_DEPLOYED)
    assert refusal(headers, b"{not json") == (
        "the CDEvent is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))."
    )
    assert refusal(headers, b"[1, 2]") == "the CDEvent must be a JSON object, got a list."
    assert refusal(headers, json.dumps({"subject": {}}).encode()) == "the CDEvent has no context object."
    assert refusal(*structured(V03_DEPLOYED, data=None)) == (
        "the structured CloudEvent has no data; it must carry the CDEvent in data."
    )


def test_a_type_outside_the_cdevents_vocabulary_is_refused():
    doc = changed(V03_DEPLOYED, "context.type", "com.github.push")
    assert refusal(*binary(doc)) == (
        "type 'com.github.push' is not a CDEvents type (dev.cdevents.<subject>.<predicate>.<major.minor.patch>)."
    )


def test_a_deploy_without_environment_is_refused():
    doc = changed(V03_DEPLOYED, "subject.content.environment", ...)
    assert refusal(*binary(doc)) == (
        "the CDEvent's subject.content.environment.id is missing or empty; flowmeter needs it."
    )


def test_a_deploy_that_v1_refuses_says_why():
    doc = changed(V03_DEPLOYED, "context.timestamp", "2023-03-20T14:27:05")  # no offset: not RFC 3339
    assert refusal(*binary(doc)) == (
        "dev.cdevents.service.deployed.0.1.1 maps to a deploy that v1 refuses: at '2023-03-20T14:27:05' has no "
        "UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous."
    )

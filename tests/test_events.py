"""Event contract v1: every rejection reason, and what valid input becomes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from flowcore.errors import InvalidEvent
from flowcore.events import Commit, event_to_json, parse_deploy, parse_incident, parse_transition, unknown_kind_reason
from flowcore.routing import key_for, kind_of

NOW = datetime(2025, 6, 1, 12, 0, 0)


def tr(**over):
    doc = {
        "event_id": "e1",
        "ticket_id": "PAY-1",
        "board": "payments",
        "from_state": "Backlog",
        "to_state": "In Progress",
        "at": "2025-05-31T23:30:00-02:00",
    }
    doc.update(over)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def dp(**over):
    doc = {
        "event_id": "d1",
        "service": "api",
        "environment": "production",
        "status": "success",
        "at": "2025-05-31T10:00:00Z",
    }
    doc.update(over)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def reason(parse, raw) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse(raw, NOW)
    return caught.value.reason


# ---- valid input -------------------------------------------------------------
def test_transition_is_typed_and_stored_in_utc():
    event = parse_transition(tr(assignee="ana", team="core", ticket_type="bug"), NOW)
    # 23:30 at UTC-2 is 01:30 UTC the next day.
    assert event.at == datetime(2025, 6, 1, 1, 30)
    assert (event.ticket_id, event.board, event.from_state, event.to_state) == (
        "PAY-1",
        "payments",
        "Backlog",
        "In Progress",
    )
    assert (event.assignee, event.team, event.ticket_type, event.event_id) == ("ana", "core", "bug", "e1")


def test_creation_has_null_from_state_and_unknown_fields_are_ignored():
    event = parse_transition(tr(from_state=None, labels=["x"], priority=3), NOW)
    assert event.from_state is None


def test_event_id_is_derived_from_content_when_absent_and_ignores_offset_notation():
    a = parse_transition(tr(event_id=..., at="2025-05-31T10:00:00Z"), NOW)
    b = parse_transition(tr(event_id=..., at="2025-05-31T12:00:00+02:00"), NOW)  # the same instant
    c = parse_transition(tr(event_id=..., to_state="Review", at="2025-05-31T10:00:00Z"), NOW)
    assert a.event_id == b.event_id and a.event_id.startswith("t-")
    assert c.event_id != a.event_id


def test_deploy_with_commits_and_tickets():
    event = parse_deploy(
        dp(
            started_at="2025-05-31T09:50:00Z",
            version="1.2.3",
            commits=[{"sha": "abc", "committed_at": "2025-05-30T08:00:00+01:00"}],
            tickets=["PAY-1", "PAY-2"],
        ),
        NOW,
    )
    assert event.commits == (Commit("abc", datetime(2025, 5, 30, 7, 0)),)
    assert event.tickets == ("PAY-1", "PAY-2")
    assert event.started_at == datetime(2025, 5, 31, 9, 50)
    assert event_to_json(event)["commits"] == [{"sha": "abc", "committed_at": "2025-05-30T07:00:00Z"}]


@pytest.mark.parametrize("status", ["success", "failure", "rolled_back"])
def test_every_deploy_status_is_accepted(status):
    assert parse_deploy(dp(status=status), NOW).status == status


# ---- rejections: one sentence each ----------------------------------------------
@pytest.mark.parametrize(
    "raw, expected",
    [
        (b"{oops", "the message is not JSON: Expecting property name enclosed in double quotes at line 1 column 2."),
        (b"", "the message is empty."),
        (b"   ", "the message is empty."),
        (None, "the message has no value (a null or tombstone record)."),
        (b"\xff\xfe{}", "the message is not UTF-8 text (bad byte at position 0)."),
        (b"[1, 2]", "the message must be a JSON object, got a list."),
        (b'"text"', "the message must be a JSON object, got a string."),
        (b"[" * 100_000, "the message is not usable JSON: it is nested too deeply."),
    ],
)
def test_undecodable_messages(raw, expected):
    assert reason(parse_transition, raw) == expected


@pytest.mark.parametrize("field", ["ticket_id", "board", "to_state", "at"])
def test_missing_required_transition_field(field):
    assert reason(parse_transition, tr(**{field: ...})) == f"required field {field} is missing."


def test_null_and_empty_required_fields():
    assert reason(parse_transition, tr(ticket_id=None)) == "required field ticket_id is null."
    assert reason(parse_transition, tr(to_state="  ")) == "required field to_state is empty."


@pytest.mark.parametrize(
    "over, expected",
    [
        ({"ticket_id": 17}, "ticket_id must be a string, got a number."),
        ({"board": True}, "board must be a string, got a boolean."),
        ({"team": ["a"]}, "team must be a string, got a list."),
        ({"assignee": {"name": "x"}}, "assignee must be a string, got an object."),
        ({"at": 1717200000}, "at must be an ISO-8601 string with a UTC offset, got a number."),
        ({"ticket_id": "x" * 513}, "ticket_id is 513 characters long; at most 512 are accepted."),
    ],
)
def test_wrong_types_and_sizes(over, expected):
    assert reason(parse_transition, tr(**over)) == expected


@pytest.mark.parametrize(
    "at, expected",
    [
        (
            "2025-05-31T10:00:00",
            "at '2025-05-31T10:00:00' has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous.",
        ),
        ("31/05/2025 10:00", "at '31/05/2025 10:00' is not an ISO-8601 timestamp such as 2024-05-01T09:30:00Z."),
        ("1999-12-31T23:59:59Z", "at '1999-12-31T23:59:59Z' is before 2000-01-01; that is not a plausible event time."),
        (
            "0001-01-01T00:00:00+00:00",
            "at '0001-01-01T00:00:00+00:00' is before 2000-01-01; that is not a plausible event time.",
        ),
        # NOW is 2025-06-01T12:00Z; a day and a minute later is beyond the clock-drift slack.
        (
            "2025-06-02T12:01:00Z",
            "at '2025-06-02T12:01:00Z' is more than a day in the future; check the sender's clock.",
        ),
        (
            "9999-12-31T23:59:59+14:00",
            "at '9999-12-31T23:59:59+14:00' is more than a day in the future; check the sender's clock.",
        ),
    ],
)
def test_bad_timestamps(at, expected):
    assert reason(parse_transition, tr(at=at)) == expected


def test_a_day_ahead_is_still_accepted_as_clock_drift():
    assert parse_transition(tr(at="2025-06-02T11:59:00Z"), NOW).at == datetime(2025, 6, 2, 11, 59)


@pytest.mark.parametrize(
    "over, expected",
    [
        ({"service": ...}, "required field service is missing."),
        ({"environment": ...}, "required field environment is missing."),
        ({"status": ...}, "required field status is missing."),
        ({"status": "ok"}, "status 'ok' is not one of success, failure, rolled_back."),
        ({"status": "SUCCESS"}, "status 'SUCCESS' is not one of success, failure, rolled_back."),
        (
            {"started_at": "2025-05-31T10:00:01Z"},
            "started_at 2025-05-31T10:00:01Z is after at 2025-05-31T10:00:00Z; a deploy cannot end before it starts.",
        ),
        (
            {"started_at": "2025-05-31T09:00:00"},
            "started_at '2025-05-31T09:00:00' has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous.",
        ),
        ({"commits": "abc"}, "commits must be a list, got a string."),
        ({"commits": ["abc"]}, "commits[0] must be an object with sha and committed_at, got a string."),
        ({"commits": [{"committed_at": "2025-05-30T08:00:00Z"}]}, "required field commits[0].sha is missing."),
        (
            {"commits": [{"sha": "a", "committed_at": "yesterday"}]},
            "commits[0].committed_at 'yesterday' is not an ISO-8601 timestamp such as 2024-05-01T09:30:00Z.",
        ),
        ({"tickets": ["PAY-1", 7]}, "tickets[1] must be a string, got a number."),
        ({"tickets": ["t"] * 10_001}, "tickets has 10001 entries; at most 10000 are accepted."),
    ],
)
def test_deploy_rejections(over, expected):
    assert reason(parse_deploy, dp(**over)) == expected


def test_unknown_kind_reason_prefers_the_json_error():
    with pytest.raises(InvalidEvent, match="not JSON"):
        unknown_kind_reason(b"nope")
    assert "neither ticket_id/to_state" in unknown_kind_reason(b'{"foo": 1}')


# ---- the fast decode (orjson) agrees with the contract's json -----------------
# The parser decodes with orjson and falls back to json for what orjson refuses; these
# inputs sit where the two libraries differ or where the inline field checks take over.
AWKWARD_MESSAGES = [
    b'{"ticket_id":"A-1","ticket_id":"A-2","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z"}',  # last wins
    b'{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z","n":NaN}',  # json only
    b'{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z","n":123456789012345678901234567890}',
    b'{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z",}',  # trailing comma
    b'\xef\xbb\xbf{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z"}',  # BOM
    b'{"ticket_id":"\\ud800","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z"}',  # lone surrogate
    '{"ticket_id":"\u00a0A-1\u2003","board":" b ","to_state":"Done\\t","at":" 2025-05-01T00:00:00Z "}'.encode(),
    b'{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z","team":" ","actor":""}',
    b'{"ticket_id":"A-1","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z","team":7}',
    b'{"ticket_id":"' + b"x" * 513 + b'","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z"}',
    b'{"ticket_id":" ' + b"x" * 512 + b' ","board":"b","to_state":"Done","at":"2025-05-01T00:00:00Z"}',
    b"[1, 2]",
    b'"text"',
    b"   ",
    b"\xff\xfe",
    b'{"a":',
    b"[" * 5000 + b"]" * 5000,
]


def _outcome(parse, raw):
    try:
        return parse(raw, NOW)
    except InvalidEvent as exc:
        return exc.reason


@pytest.mark.parametrize("raw", AWKWARD_MESSAGES, ids=range(len(AWKWARD_MESSAGES)))
def test_fast_decode_gives_the_same_event_or_reason_as_json(raw, monkeypatch):
    fast = _outcome(parse_transition, raw)
    # The reference: the same parser with orjson made to refuse everything, so json decides.
    import flowcore.events as events

    def refuse(_raw):
        raise events.orjson.JSONDecodeError("refused", "", 0)

    monkeypatch.setattr(events.orjson, "loads", refuse)
    assert fast == _outcome(parse_transition, raw)


def test_padded_fields_are_stripped_by_python_whitespace_rules():
    raw = '{"ticket_id":"\u00a0A-1\u2003","board":" b ","to_state":"Done\\t","at":"2025-05-01T00:00:00Z"}'.encode()
    event = parse_transition(raw, NOW)
    assert (event.ticket_id, event.board, event.to_state) == ("A-1", "b", "Done")
    assert event.event_id.startswith("t-")  # no id given: derived from the content
    # A 512-character id padded with spaces is within the limit once stripped.
    assert len(parse_transition(AWKWARD_MESSAGES[10], NOW).ticket_id) == 512
    assert "at most 512" in _outcome(parse_transition, AWKWARD_MESSAGES[9])


# ---- incidents (docs/contract.md#incident) --------------------------------------------
def inc(**over):
    doc = {
        "event_id": "i1",
        "incident_id": "PD-7",
        "service": "api",
        "status": "opened",
        "at": "2025-05-31T10:00:00+02:00",
    }
    doc.update(over)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


def test_incident_is_typed_and_stored_in_utc():
    event = parse_incident(
        inc(environment="production", severity="P1", title="5xx", url="https://x/PD-7", caused_by="d1"), NOW
    )
    # 10:00 at UTC+2 is 08:00 UTC.
    assert (event.incident_id, event.service, event.status, event.at) == (
        "PD-7",
        "api",
        "opened",
        datetime(2025, 5, 31, 8),
    )
    assert (event.environment, event.severity, event.title, event.caused_by) == ("production", "P1", "5xx", "d1")


@pytest.mark.parametrize("status", ["opened", "acknowledged", "resolved"])
def test_every_incident_status_is_accepted(status):
    assert parse_incident(inc(status=status), NOW).status == status


def test_an_incident_id_is_derived_from_content_and_the_same_moment_in_two_offsets_collides():
    a = parse_incident(inc(event_id=..., at="2025-05-31T08:00:00Z"), NOW)
    b = parse_incident(inc(event_id=..., at="2025-05-31T10:00:00+02:00"), NOW)
    c = parse_incident(inc(event_id=..., status="resolved", at="2025-05-31T08:00:00Z"), NOW)
    assert a.event_id == b.event_id and a.event_id.startswith("i-") and c.event_id != a.event_id


def test_a_deploy_without_fixes_keeps_the_id_it_had_before_fixes_existed():
    # Content ids are how re-sent deploys without an event_id collide: adding the optional `fixes`
    # field must not change them. The digest below was computed before the field existed.
    assert parse_deploy(dp(event_id=...), NOW).event_id == "d-f26db794034bd8676957a9ba30075037"
    assert parse_deploy(dp(event_id=..., fixes=["PD-7"]), NOW).event_id != "d-f26db794034bd8676957a9ba30075037"
    assert parse_deploy(dp(fixes=["PD-7", "PD-9"]), NOW).fixes == ("PD-7", "PD-9")


@pytest.mark.parametrize(
    "over, expected",
    [
        ({"incident_id": ...}, "required field incident_id is missing."),
        ({"service": None}, "required field service is null."),
        ({"status": ...}, "required field status is missing."),
        ({"status": "firing"}, "status 'firing' is not one of opened, acknowledged, resolved."),
        ({"status": "Resolved"}, "status 'Resolved' is not one of opened, acknowledged, resolved."),
        (
            {"at": "2025-05-31T10:00:00"},
            "at '2025-05-31T10:00:00' has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous.",
        ),
        ({"severity": 1}, "severity must be a string, got a number."),
        ({"caused_by": ["d1"]}, "caused_by must be a string, got a list."),
        ({"incident_id": "x" * 513}, "incident_id is 513 characters long; at most 512 are accepted."),
    ],
)
def test_incident_rejections(over, expected):
    assert reason(parse_incident, inc(**over)) == expected


def test_deploy_fixes_must_be_incident_ids():
    assert reason(parse_deploy, dp(fixes="PD-7")) == "fixes must be a list, got a string."
    assert reason(parse_deploy, dp(fixes=[7])) == "fixes[0] must be a string, got a number."


def test_an_incident_is_told_from_a_deploy_by_its_incident_id():
    assert kind_of(json.loads(inc())) == "incident"  # it names a service too
    assert kind_of(json.loads(dp())) == "deploy"
    assert key_for("incident", json.loads(inc())) == "api"

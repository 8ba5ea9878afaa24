"""Jira adapter: webhooks and search results shaped as Atlassian documents them -> v1 transitions.

The payloads (issue PAY-7) come from tests/helpers/jira_payloads.py. Expected events are
written out by hand; every produced event must also pass the v1 parser.
"""

from __future__ import annotations

import copy
import json
import tracemalloc
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from flowcore.events import parse_transition
from sources.adapters import Unmappable
from sources.adapters.jira import from_issue, from_webhook, iter_import, with_changelog
from tests.helpers.jira_payloads import (
    ANN,
    ASSIGN_ANN_TO_BO,
    ASSIGN_BO_TO_NONE,
    BO,
    HISTORIES,
    LABELS,
    SITE,
    STATUS_PROGRESS_TO_REVIEW,
    STATUS_REVIEW_TO_DONE,
    STATUS_TODO_TO_PROGRESS,
    T_0730,
    TEAM,
    TEAM_PLATFORM_TO_CHECKOUT,
    created,
    history,
    item,
    searched_issue,
    updated,
)

NOW = datetime(2024, 6, 1)  # naive UTC, after every fixture time


def event(**given: Any) -> tuple[str, dict[str, Any]]:
    """A hand-written expected PAY-7 transition; fields not given take PAY-7's values."""
    base = {
        "event_id": None,
        "ticket_id": "PAY-7",
        "board": "PAY",
        "from_state": None,
        "to_state": None,
        "at": None,
        "assignee": None,
        "team": None,
        "ticket_type": "Story",
        "actor": "Mia Krystof",
        "source": "jira",
    }
    return "transition", {**base, **given}


def valid(mapped: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Every event must pass the v1 parser, keep its event_id, and be a transition."""
    for kind, doc in mapped:
        assert kind == "transition"
        parsed = parse_transition(json.dumps(doc).encode(), now=NOW)
        assert parsed.event_id == doc["event_id"]
    return mapped


# -- webhooks -------------------------------------------------------------------------------


def test_status_change_is_a_transition_at_the_webhook_timestamp() -> None:
    mapped = valid(from_webhook(updated([STATUS_TODO_TO_PROGRESS])))
    assert mapped == [
        event(
            event_id="jira-10002-10500",
            from_state="To Do",
            to_state="In Progress",
            at="2024-05-01T07:30:00.123Z",
            assignee="Ann Lee",
        )
    ]
    assert parse_transition(json.dumps(mapped[0][1]), now=NOW).at == datetime(2024, 5, 1, 7, 30, 0, 123000)


def test_several_items_in_one_update_are_one_transition_with_the_new_assignee() -> None:
    # One edit moved PAY-7 to Review, handed it from Ann to Bo and added a label.
    payload = updated(
        [LABELS, STATUS_PROGRESS_TO_REVIEW, ASSIGN_ANN_TO_BO], status="Review", assignee=BO, changelog_id="10502"
    )
    assert valid(from_webhook(payload)) == [
        event(
            event_id="jira-10002-10502",
            from_state="In Progress",
            to_state="Review",
            at="2024-05-01T07:30:00.123Z",
            assignee="Bo Chen",
        )
    ]


def test_reassignment_is_a_transition_to_the_current_state() -> None:
    payload = updated([ASSIGN_ANN_TO_BO], assignee=BO, changelog_id="10501")
    assert valid(from_webhook(payload)) == [
        event(
            event_id="jira-10002-10501",
            from_state="In Progress",
            to_state="In Progress",
            at="2024-05-01T07:30:00.123Z",
            assignee="Bo Chen",
        )
    ]


def test_team_field_change_is_a_reassignment_when_the_team_field_is_configured() -> None:
    payload = updated(
        [TEAM_PLATFORM_TO_CHECKOUT],
        team={"self": f"{SITE}/rest/api/2/customFieldOption/10021", "value": "Checkout", "id": "10021"},
    )
    assert valid(from_webhook(payload, team_field=TEAM)) == [
        event(
            event_id="jira-10002-10500",
            from_state="In Progress",
            to_state="In Progress",
            at="2024-05-01T07:30:00.123Z",
            assignee="Ann Lee",
            team="Checkout",
        )
    ]
    assert from_webhook(payload) == []  # without the option a custom field is just a field


@pytest.mark.parametrize(
    "items",
    [
        pytest.param([LABELS], id="labels only"),
        pytest.param([item("summary", None, "Retry payments", None, "Retry card payments")], id="summary"),
        pytest.param([ASSIGN_BO_TO_NONE], id="unassigned: nothing v1 can carry"),
        pytest.param([], id="no items"),
    ],
)
def test_update_without_a_status_or_new_assignee_maps_to_nothing(items: list[dict[str, Any]]) -> None:
    assert from_webhook(updated(items, assignee=None)) == []


def test_comment_created_maps_to_nothing() -> None:
    payload = {
        "timestamp": T_0730,
        "webhookEvent": "comment_created",
        "comment": {
            "self": f"{SITE}/rest/api/2/issue/10002/comment/10100",
            "id": "10100",
            "author": ANN,
            "body": "Gateway logs attached.",
            "updateAuthor": ANN,
            "created": "2024-05-01T09:30:00.123+0200",
            "updated": "2024-05-01T09:30:00.123+0200",
            "jsdPublic": True,
        },
        "issue": {
            "id": "10002",
            "self": f"{SITE}/rest/api/2/10002",
            "key": "PAY-7",
            "fields": {
                "summary": "Retry card payments once on a gateway timeout",
                "issuetype": {"name": "Story"},
                "project": {"key": "PAY", "name": "Payments"},
            },
        },
    }
    assert from_webhook(payload) == []


def test_issue_created_starts_at_fields_created_with_its_offset() -> None:
    # fields.created "2024-04-29T10:15:00.000+0200" (no colon) -> "+02:00", i.e. 08:15 UTC.
    mapped = valid(from_webhook(created()))
    assert mapped == [
        event(
            event_id="jira-10002-created",
            from_state=None,
            to_state="To Do",
            at="2024-04-29T10:15:00.000+02:00",
            assignee=None,
        )
    ]
    assert parse_transition(json.dumps(mapped[0][1]), now=NOW).at == datetime(2024, 4, 29, 8, 15)


def test_issue_created_without_fields_created_uses_the_timestamp() -> None:
    payload = created(assignee=ANN)
    del payload["issue"]["fields"]["created"]
    assert valid(from_webhook(payload)) == [
        event(event_id="jira-10002-created", to_state="To Do", at="2024-05-01T07:30:00.123Z", assignee="Ann Lee")
    ]


@pytest.mark.parametrize(
    ("value", "team"),
    [
        ("Checkout", "Checkout"),
        ({"self": f"{SITE}/rest/api/2/customFieldOption/10021", "value": "Checkout", "id": "10021"}, "Checkout"),
        ({"id": "36885b3c-1bf0-4f85-a357-c5b858c31de4", "name": "Checkout", "title": "Checkout"}, "Checkout"),
        ([{"value": "Checkout", "id": "10021"}], "Checkout"),
        (None, None),
    ],
)
def test_team_comes_from_the_configured_custom_field(value: Any, team: str | None) -> None:
    [(_, doc)] = valid(from_webhook(updated([STATUS_TODO_TO_PROGRESS], team=value), team_field=TEAM))
    assert doc["team"] == team


def test_redelivery_gives_identical_output() -> None:
    payload = updated([STATUS_PROGRESS_TO_REVIEW, ASSIGN_ANN_TO_BO], status="Review", assignee=BO)
    first = from_webhook(payload, team_field=TEAM)
    assert from_webhook(copy.deepcopy(payload), team_field=TEAM) == first
    assert from_webhook(created()) == from_webhook(created())


def _without_key(payload: dict[str, Any]) -> dict[str, Any]:
    del payload["issue"]["key"]
    return payload


def _without_changelog_id(payload: dict[str, Any]) -> dict[str, Any]:
    del payload["changelog"]["id"]
    return payload


def _with_timestamp(value: Any) -> dict[str, Any]:
    payload = updated([STATUS_TODO_TO_PROGRESS])
    payload["timestamp"] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(_without_key(updated([STATUS_TODO_TO_PROGRESS])), "no issue.key", id="no key"),
        pytest.param(updated([item("status", "10000", "To Do", "3", None)]), "without toString", id="no toString"),
        pytest.param(_with_timestamp("1714548600123"), "not epoch milliseconds", id="timestamp string"),
        pytest.param(_with_timestamp(True), "not epoch milliseconds", id="timestamp bool"),
        pytest.param(_with_timestamp(None), "not epoch milliseconds", id="timestamp missing"),
        pytest.param(
            _without_changelog_id(updated([STATUS_TODO_TO_PROGRESS])), "changelog.id is missing", id="no changelog id"
        ),
    ],
)
def test_unmappable_payloads_say_why_in_one_sentence(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unmappable, match=reason) as caught:
        from_webhook(payload)
    assert str(caught.value).count(". ") == 0 and str(caught.value).endswith(".")


def test_created_with_an_unreadable_time_is_unmappable() -> None:
    payload = created()
    payload["issue"]["fields"]["created"] = "29/04/2024 10:15"
    with pytest.raises(Unmappable, match="not a Jira time"):
        from_webhook(payload)


# -- backfill: one issue of the search API with expand=changelog ----------------------------


def test_issue_history_is_its_creation_then_every_change_in_time_order() -> None:
    # Created in To Do (the first status change leaves To Do), unassigned (the first assignee
    # change starts from nobody); each event carries the assignee of its moment, not today's.
    assert valid(from_issue(searched_issue())) == [
        event(event_id="jira-10002-created", to_state="To Do", at="2024-04-29T10:15:00.000+02:00"),
        event(
            event_id="jira-10002-10400",
            from_state="To Do",
            to_state="To Do",
            at="2024-04-29T11:00:00.000+02:00",
            assignee="Ann Lee",
        ),
        event(
            event_id="jira-10002-10500",
            from_state="To Do",
            to_state="In Progress",
            at="2024-05-01T09:30:00.000+02:00",
            assignee="Ann Lee",
            actor="Ann Lee",
        ),
        event(
            event_id="jira-10002-10502",
            from_state="In Progress",
            to_state="Review",
            at="2024-05-02T11:00:00.000+02:00",
            assignee="Bo Chen",
            actor="Ann Lee",
        ),
        # 10503 only unassigns: nothing to emit. Done is reached with nobody assigned.
        event(
            event_id="jira-10002-10504",
            from_state="Review",
            to_state="Done",
            at="2024-05-03T16:00:00.000+02:00",
            assignee=None,
            actor="Bo Chen",
        ),
    ]


def test_issue_history_follows_the_team_field_through_its_changes() -> None:
    # Team was Platform until 10501 moved it to Checkout (a reassignment in In Progress).
    mapped = valid(from_issue(searched_issue(), team_field=TEAM))
    assert [(doc["event_id"], doc["from_state"], doc["to_state"], doc["team"]) for _, doc in mapped] == [
        ("jira-10002-created", None, "To Do", "Platform"),
        ("jira-10002-10400", "To Do", "To Do", "Platform"),
        ("jira-10002-10500", "To Do", "In Progress", "Platform"),
        ("jira-10002-10501", "In Progress", "In Progress", "Checkout"),
        ("jira-10002-10502", "In Progress", "Review", "Checkout"),
        ("jira-10002-10504", "Review", "Done", "Checkout"),
    ]
    assert mapped[3][1]["assignee"] == "Ann Lee" and mapped[3][1]["actor"] == "Mia Krystof"


def test_issue_without_status_changes_was_created_in_its_current_state() -> None:
    issue = searched_issue(histories=[])
    assert valid(from_issue(issue)) == [
        event(event_id="jira-10002-created", to_state="Done", at="2024-04-29T10:15:00.000+02:00")
    ]


def test_webhook_and_import_of_the_same_change_share_the_event_id() -> None:
    [(_, live)] = from_webhook(updated([STATUS_TODO_TO_PROGRESS], changelog_id="10500"))
    imported = {doc["event_id"]: doc for _, doc in from_issue(searched_issue())}
    assert live["event_id"] == "jira-10002-10500"
    same = imported[live["event_id"]]
    # The change itself agrees; only `at` differs (delivery time vs history time; the id decides).
    assert {k: v for k, v in same.items() if k not in ("at", "actor")} == {
        k: v for k, v in live.items() if k not in ("at", "actor")
    }
    [(_, born)] = from_webhook(created())
    assert born["event_id"] in imported


def test_truncated_changelog_is_refused_and_completed_from_changelog_pages() -> None:
    # Jira caps the changelog in search results: here 2 of the 6 histories came back.
    truncated = searched_issue(histories=HISTORIES[:2], total=6)
    with pytest.raises(Unmappable, match=r"holds 2 of its 6 changes.*GET /rest/api/3/issue/PAY-7/changelog"):
        from_issue(truncated)
    # GET /rest/api/3/issue/PAY-7/changelog pages (oldest first, 4 per page).
    oldest_first = HISTORIES[::-1]
    pages = [
        {
            "self": f"{SITE}/rest/api/3/issue/PAY-7/changelog?startAt={start}&maxResults=4",
            "maxResults": 4,
            "startAt": start,
            "total": 6,
            "isLast": start == 4,
            "values": oldest_first[start : start + 4],
        }
        for start in (0, 4)
    ]
    assert from_issue(with_changelog(truncated, pages)) == from_issue(searched_issue())
    with pytest.raises(Unmappable, match="hold 4 of its 6 changes"):
        with_changelog(searched_issue(histories=[], total=6), pages[:1])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(lambda i: i.pop("key"), "no issue.key", id="no key"),
        pytest.param(lambda i: i.pop("fields"), "has no fields \\(a search must ask for fields=", id="no fields"),
        pytest.param(lambda i: i.pop("changelog"), "search with expand=changelog", id="no changelog"),
        pytest.param(
            lambda i: i["changelog"]["histories"][0].update(created="yesterday"),
            "not a Jira time",
            id="bad history time",
        ),
        pytest.param(lambda i: i["changelog"]["histories"][0].pop("id"), "no stable id", id="no history id"),
    ],
)
def test_unmappable_issues_say_why(change: Any, reason: str) -> None:
    issue = searched_issue()
    change(issue)
    with pytest.raises(Unmappable, match=reason):
        from_issue(issue)


# -- iter_import: saved search results, streamed --------------------------------------------


def numbered_issue(n: int) -> dict[str, Any]:
    """PAY-n: created in To Do, moved to In Progress by Ann; 2 events."""
    issue = searched_issue(
        histories=[history(str(20000 + n), "2024-05-01T09:30:00.000+0200", ANN, [STATUS_TODO_TO_PROGRESS])]
    )
    issue.update(id=str(30000 + n), key=f"PAY-{n}", self=f"{SITE}/rest/api/3/issue/{30000 + n}")
    issue["fields"]["status"]["name"] = "In Progress"
    issue["fields"]["description"] = "x" * 2000  # bulk, so the file is far larger than one issue
    return issue


def write_search_results(path: Path, issues: list[dict[str, Any]]) -> Path:
    path.write_text(
        json.dumps(
            {"expand": "schema,names", "startAt": 0, "maxResults": len(issues), "total": len(issues), "issues": issues}
        )
    )
    return path


def test_iter_import_streams_a_large_search_results_file(tmp_path: Path) -> None:
    path = write_search_results(tmp_path / "page-1.json", [numbered_issue(n) for n in range(1, 2001)])
    size = path.stat().st_size
    assert size > 5_000_000
    tracemalloc.start()
    try:
        out = list(iter_import(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not [o for o in out if isinstance(o, Unmappable)]
    events = [o for o in out if not isinstance(o, Unmappable)]  # all of them (just checked), typed so
    assert len(events) == 4000  # 2,000 issues x (creation + one status change)
    assert events[0] == (
        "transition",
        {
            **event(
                event_id="jira-30001-created", ticket_id="PAY-1", to_state="To Do", at="2024-04-29T10:15:00.000+02:00"
            )[1]
        },
    )
    assert events[-1][1]["event_id"] == "jira-32000-22000"
    # Measured: streaming peaks near 4 MB (mostly the 4,000 events kept in `out`); json.load of the
    # same ~11 MB file peaks near 36 MB. The file's own size lies between the two.
    assert peak < size, f"peak {peak:,} bytes for a {size:,}-byte file: the file was not streamed"
    valid(events)


def test_iter_import_yields_one_unmappable_for_a_bad_issue_and_goes_on(tmp_path: Path) -> None:
    bad = numbered_issue(2)
    bad["changelog"]["histories"][0]["items"][0]["toString"] = None
    path = write_search_results(tmp_path / "page-1.json", [numbered_issue(1), bad, numbered_issue(3)])
    out = list(iter_import(path))
    skipped = [o for o in out if isinstance(o, Unmappable)]
    assert len(skipped) == 1
    assert str(skipped[0]).startswith("page-1.json, issue 2 (PAY-2): issue PAY-2 has a status change without toString")
    assert [o[1]["ticket_id"] for o in out if not isinstance(o, Unmappable)] == ["PAY-1", "PAY-1", "PAY-3", "PAY-3"]


@pytest.mark.parametrize("shape", ["array", "lines", "two pages concatenated"])
def test_iter_import_accepts_an_array_json_lines_and_concatenated_pages(tmp_path: Path, shape: str) -> None:
    issues = [numbered_issue(n) for n in (1, 2, 3)]
    path = tmp_path / "issues.json"
    if shape == "array":
        path.write_text(json.dumps(issues, indent=2))
    elif shape == "lines":
        path.write_text("".join(json.dumps(issue) + "\n" for issue in issues))
    else:
        path.write_text(
            json.dumps({"issues": issues[:2], "isLast": False, "nextPageToken": "Ch4jU3RyaW5n"})
            + "\n"
            + json.dumps({"issues": issues[2:], "isLast": True})
        )
    out = valid(list(iter_import(path)))  # type: ignore[arg-type]
    assert [doc["event_id"] for _, doc in out] == [
        "jira-30001-created",
        "jira-30001-20001",
        "jira-30002-created",
        "jira-30002-20002",
        "jira-30003-created",
        "jira-30003-20003",
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param(
            '{"errorMessages":["The value \'PAYX\' does not exist for the field \'project\'."],"errors":{}}',
            "is a Jira error response",
            id="jira error",
        ),
        pytest.param("<html><body>Log in</body></html>", "is not JSON search results", id="html login page"),
        pytest.param('{"foo": 1}', "holds neither search results", id="other json"),
    ],
)
def test_iter_import_refuses_a_file_that_is_not_search_results(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "page-1.json"
    path.write_text(content)
    with pytest.raises(Unmappable, match=reason):
        list(iter_import(path))


def test_iter_import_reads_up_to_a_break_in_the_json_and_then_says_so(tmp_path: Path) -> None:
    path = write_search_results(tmp_path / "page-1.json", [numbered_issue(1), numbered_issue(2)])
    text = path.read_text()
    path.write_text(text[: text.index('"key": "PAY-2"') + 20])  # cut inside the second issue
    events = iter_import(path)
    first, second = next(events), next(events)
    assert not isinstance(first, Unmappable) and not isinstance(second, Unmappable), (first, second)
    assert [first[1]["event_id"], second[1]["event_id"]] == ["jira-30001-created", "jira-30001-20001"]
    with pytest.raises(Unmappable, match="stops being valid JSON after issue 1"):
        next(events)


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59.000-1400", "0001-01-01T00:00:00.000+1400"])
def test_created_whose_utc_conversion_overflows_is_unmappable_not_a_crash(moment: str) -> None:
    """Issue 13: an OverflowError from astimezone escaped (a 500 in the receiver, a crash in an import)."""
    payload = created()
    payload["issue"]["fields"]["created"] = moment
    with pytest.raises(Unmappable, match="out of range once converted to UTC"):
        from_webhook(payload)


# ---- issues of an incident type are incidents too ----------------------------------------
def _incident_type(payload: dict[str, Any], category: str = "indeterminate", **extra: Any) -> dict[str, Any]:
    payload["issue"]["fields"]["issuetype"]["name"] = "Incident"
    payload["issue"]["fields"]["status"]["statusCategory"]["key"] = category
    payload["issue"]["fields"].update(extra)
    return payload


def test_an_incident_issue_opens_at_creation_and_resolves_when_its_status_is_done():
    events = from_webhook(_incident_type(created()), incident_types=["incident"])
    assert [kind for kind, _ in events] == ["transition", "incident"]  # its transitions stay transitions
    assert events[1][1] == {
        "event_id": "jira-10002-created-incident",
        "incident_id": "jira:PAY-7",
        "service": "PAY",  # no service field, no component: the project key
        "status": "opened",
        "at": "2024-04-29T10:15:00.000+02:00",  # fields.created
        "severity": "Medium",
        "title": "Retry card payments once on a gateway timeout",
        "source": "jira",
    }
    done = _incident_type(updated([STATUS_REVIEW_TO_DONE], status="Done"), "done", components=[{"name": "gateway"}])
    (_, resolved) = from_webhook(done, incident_types=["Incident"])[1]
    # timestamp 1714548600123 ms = 2024-05-01T07:30:00.123Z
    assert (resolved["status"], resolved["at"], resolved["service"]) == (
        "resolved",
        "2024-05-01T07:30:00.123Z",
        "gateway",
    )
    back = _incident_type(updated([item("status", "10003", "Done", "3", "In Progress")], changelog_id="10501"))
    (_, reopened) = from_webhook(back, incident_types=["Incident"])[1]
    assert (reopened["status"], reopened["event_id"]) == ("opened", "jira-10002-10501-incident")


def test_a_reassignment_or_another_type_is_no_incident_event():
    reassigned = _incident_type(updated([ASSIGN_ANN_TO_BO]))
    assert [kind for kind, _ in from_webhook(reassigned, incident_types=["Incident"])] == ["transition"]
    story = updated([STATUS_REVIEW_TO_DONE], status="Done")
    assert [kind for kind, _ in from_webhook(story, incident_types=["Incident"])] == ["transition"]
    field = _incident_type(created(), customfield_10050={"value": "ledger"})
    assert (
        from_webhook(field, incident_types=["Incident"], service_field="customfield_10050")[1][1]["service"] == "ledger"
    )

"""GitHub adapter: documented webhook and REST shapes in, hand-written v1 events out.

The payloads come from tests/helpers/github_payloads.py: they follow GitHub's webhook docs and
octokit/webhooks' examples, trimmed to the fields that matter plus a few that do not (urls, node
ids) so the adapter is seen ignoring them.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest

from flowcore.events import parse_deploy, parse_transition
from sources.adapters import Unmappable, github
from sources.adapters.github import from_webhook, iter_import, merged_commit
from tests.helpers.github_payloads import (
    DELIVERY,
    SHA,
    deployment_status,
    issue,
    issues_event,
    label,
    project_edit,
    pull_request,
    rest_issue,
    status_change,
    timeline_event,
    user,
)

NOW = datetime(2025, 6, 1, 12, 0, 0)
LABELS = {"in progress": "In Progress", "review": "Review"}


def check(mapped):
    """Every event must pass the v1 parser; returns the mapped list for comparison."""
    for kind, event in mapped:
        parse = parse_transition if kind == "transition" else parse_deploy
        parse(json.dumps(event).encode(), now=NOW)
    return mapped


def transition(event_id, from_state, to_state, at, *, assignee=None, actor="ana", ticket="acme/api#12"):
    return (
        "transition",
        {
            "event_id": event_id,
            "ticket_id": ticket,
            "board": "acme/api",
            "from_state": from_state,
            "to_state": to_state,
            "at": at,
            "assignee": assignee,
            "ticket_type": "issue",
            "actor": actor,
            "source": "github",
        },
    )


# ---- issues ------------------------------------------------------------------------------------
def test_opened_is_the_creation_into_open():
    payload = issues_event("opened", issue(assignees=["bo"], updated_at="2025-05-19T08:00:00Z"))
    # creation: from null, at created_at; the id needs no time, an issue is created once
    assert check(from_webhook("issues", payload, DELIVERY, label_states=LABELS)) == [
        transition("gh-444500012-opened", None, "Open", "2025-05-19T08:00:00Z", assignee="bo")
    ]


def test_closed_goes_to_closed_and_not_planned_is_kept_apart():
    closed = issue(
        labels=["review"],
        state="closed",
        state_reason="completed",
        updated_at="2025-05-22T17:00:01Z",
        closed_at="2025-05-22T17:00:00Z",
    )
    assert check(from_webhook("issues", issues_event("closed", closed), label_states=LABELS)) == [
        transition("gh-444500012-closed-2025-05-22T17:00:00Z", "Review", "Closed", "2025-05-22T17:00:00Z")
    ]
    dropped = issue(state="closed", state_reason="not_planned", closed_at="2025-05-22T17:00:00Z")
    assert check(from_webhook("issues", issues_event("closed", dropped))) == [
        transition("gh-444500012-closed-2025-05-22T17:00:00Z", "Open", "Not Planned", "2025-05-22T17:00:00Z")
    ]


def test_reopened_returns_to_the_state_its_labels_give():
    reopened = issue(
        labels=["bug", "in progress"], state="open", state_reason="reopened", updated_at="2025-05-23T09:00:00Z"
    )
    assert check(from_webhook("issues", issues_event("reopened", reopened), label_states=LABELS)) == [
        transition("gh-444500012-reopened-2025-05-23T09:00:00Z", "Closed", "In Progress", "2025-05-23T09:00:00Z")
    ]
    bare = issue(state="open", updated_at="2025-05-23T09:00:00Z")
    assert from_webhook("issues", issues_event("reopened", bare), label_states=LABELS)[0][1]["to_state"] == "Open"


def test_labeled_moves_through_label_states():
    # GitHub's payload lists the labels after the change: here "in progress" was just added.
    payload = issues_event(
        "labeled", issue(labels=["bug", "In Progress"], updated_at="2025-05-20T10:00:00Z"), label=label("In Progress")
    )
    assert check(from_webhook("issues", payload, label_states=LABELS)) == [
        transition(
            "gh-444500012-labeled-in progress-2025-05-20T10:00:00Z", "Open", "In Progress", "2025-05-20T10:00:00Z"
        )
    ]


def test_label_changes_that_move_nothing_give_nothing():
    unmapped = issues_event("labeled", issue(labels=["bug"]), label=label("bug"))
    assert from_webhook("issues", unmapped, label_states=LABELS) == []
    assert from_webhook("issues", issues_event("labeled", issue(labels=["review"]), label=label("review"))) == []
    # "review" is listed after "in progress": adding "in progress" to a reviewed issue leaves it in Review
    behind = issues_event("labeled", issue(labels=["review", "in progress"]), label=label("in progress"))
    assert from_webhook("issues", behind, label_states=LABELS) == []
    closed = issues_event(
        "labeled", issue(labels=["review"], state="closed", closed_at="2025-05-20T09:00:00Z"), label=label("review")
    )
    assert from_webhook("issues", closed, label_states=LABELS) == []


def test_unlabeled_falls_back_to_the_remaining_labels():
    payload = issues_event(
        "unlabeled", issue(labels=["in progress"], updated_at="2025-05-21T11:00:00Z"), label=label("review")
    )
    assert check(from_webhook("issues", payload, label_states=LABELS)) == [
        transition(
            "gh-444500012-unlabeled-review-2025-05-21T11:00:00Z", "Review", "In Progress", "2025-05-21T11:00:00Z"
        )
    ]
    last = issues_event("unlabeled", issue(labels=[], updated_at="2025-05-21T11:00:00Z"), label=label("in progress"))
    assert from_webhook("issues", last, label_states=LABELS)[0][1]["to_state"] == "Open"


def test_assigned_is_a_reassignment_in_the_current_state():
    payload = issues_event(
        "assigned",
        issue(labels=["in progress"], assignees=["ana", "bo"], updated_at="2025-05-20T12:00:00Z"),
        assignee=user("bo"),
    )
    assert check(from_webhook("issues", payload, label_states=LABELS)) == [
        transition(
            "gh-444500012-assigned-bo-2025-05-20T12:00:00Z",
            "In Progress",
            "In Progress",
            "2025-05-20T12:00:00Z",
            assignee="bo",
        )
    ]


def test_unassigned_hands_over_to_who_remains_and_nobody_is_not_expressible():
    payload = issues_event(
        "unassigned", issue(assignees=["ana"], updated_at="2025-05-20T13:00:00Z"), assignee=user("bo")
    )
    assert check(from_webhook("issues", payload, label_states=LABELS)) == [
        transition(
            "gh-444500012-unassigned-bo-2025-05-20T13:00:00Z", "Open", "Open", "2025-05-20T13:00:00Z", assignee="ana"
        )
    ]
    alone = issues_event("unassigned", issue(assignees=[]), assignee=user("bo"))
    assert from_webhook("issues", alone) == []


def test_a_redelivery_or_a_second_hook_gives_the_same_ids():
    payload = issues_event("labeled", issue(labels=["review"]), label=label("review"))
    first = from_webhook("issues", payload, DELIVERY, label_states=LABELS)
    again = from_webhook("issues", copy.deepcopy(payload), DELIVERY, label_states=LABELS)
    org_hook = from_webhook(
        "issues", copy.deepcopy(payload), "0b989ba4-242f-11e5-81e1-c7b6966d2516", label_states=LABELS
    )
    assert first == again == org_hook and len(first) == 1


def test_the_delivery_guid_keys_a_payload_without_ids():
    payload = issues_event("opened", {k: v for k, v in issue().items() if k != "id"})
    assert from_webhook("issues", payload, DELIVERY)[0][1]["event_id"] == f"gh-{DELIVERY}-opened"
    with pytest.raises(Unmappable, match="no id and there is no X-GitHub-Delivery"):
        from_webhook("issues", payload)


def test_issue_types_and_pull_requests_become_the_ticket_type():
    typed = issue() | {"type": {"id": 1, "node_id": "IT_kwDOB", "name": "Bug", "color": "red"}}
    assert from_webhook("issues", issues_event("opened", typed))[0][1]["ticket_type"] == "Bug"


def test_what_the_issues_event_needs_is_checked():
    with pytest.raises(Unmappable, match="no number"):
        from_webhook("issues", issues_event("opened", {k: v for k, v in issue().items() if k != "number"}))
    with pytest.raises(Unmappable, match="issue.updated_at is missing"):
        from_webhook(
            "issues", issues_event("labeled", issue(updated_at=None), label=label("review")), label_states=LABELS
        )
    with pytest.raises(Unmappable, match="no UTC offset|with a UTC offset"):
        from_webhook("issues", issues_event("opened", issue() | {"created_at": "2025-05-19T08:00:00"}))
    with pytest.raises(Unmappable, match="no label.name"):
        from_webhook("issues", issues_event("labeled", issue()), label_states=LABELS)
    with pytest.raises(Unmappable, match="not a JSON object"):
        from_webhook("issues", [])


def test_other_events_and_actions_say_nothing():
    assert from_webhook("issues", issues_event("edited", issue())) == []
    assert from_webhook("issues", issues_event("milestoned", {})) == []  # not read, so not checked
    assert from_webhook("push", {"ref": "refs/heads/main", "commits": []}) == []
    assert from_webhook("star", {"action": "created", "starred_at": "2025-05-01T00:00:00Z"}) == []


# ---- projects_v2_item --------------------------------------------------------------------------
def test_a_status_change_on_a_project_is_a_transition():
    mapped = from_webhook("projects_v2_item", project_edit(status_change("Todo", "In Progress")), DELIVERY)
    assert check(mapped) == [
        (
            "transition",
            {
                "event_id": "gh-pv2-5678510-PVTSSF_lADOAWcTxs07G84AAali-In Progress-2025-05-20T14:30:00Z",
                "ticket_id": "I_kwDOAWcTxs5kQ9Ab",
                "board": "acme/projects/3",
                "from_state": "Todo",
                "to_state": "In Progress",
                "at": "2025-05-20T14:30:00Z",
                "assignee": None,
                "ticket_type": "issue",
                "actor": "bo",
                "source": "github",
            },
        )
    ]


def test_a_first_status_is_the_items_entry_and_a_cleared_one_says_nothing():
    first = from_webhook("projects_v2_item", project_edit(status_change(None, "Todo")))
    assert check(first)[0][1]["from_state"] is None
    assert from_webhook("projects_v2_item", project_edit(status_change("Todo", None))) == []


def test_project_edits_without_status_names_or_of_other_fields_say_nothing():
    # The older shape GitHub sent (and octokit's example shows): no field name, no option names.
    old = {"field_node_id": "PVTF_lADOAWcTxs07G84AAali", "field_type": "single_select"}
    assert from_webhook("projects_v2_item", project_edit(old)) == []
    nameless = status_change("Todo", "Done") | {"to": {"id": "47fc9ee4"}}
    assert from_webhook("projects_v2_item", project_edit(nameless)) == []
    priority = status_change("P2", "P1") | {"field_name": "Priority"}
    assert from_webhook("projects_v2_item", project_edit(priority)) == []
    assert from_webhook("projects_v2_item", project_edit(priority), status_field="priority")[0][1]["to_state"] == "P1"
    archived = project_edit(status_change("Todo", "Done")) | {"action": "archived"}
    assert from_webhook("projects_v2_item", archived) == []


def test_a_project_item_without_content_is_unmappable():
    payload = project_edit(status_change("Todo", "Done"))
    payload["projects_v2_item"]["content_node_id"] = None
    with pytest.raises(Unmappable, match="content_node_id"):
        from_webhook("projects_v2_item", payload)


# ---- deployment_status -------------------------------------------------------------------------
def deploy(status: str, **over) -> tuple[str, dict]:
    event = {
        "event_id": "gh-deployment-status-209916254",
        "service": "acme/api",
        "environment": "production",
        "status": status,
        "at": "2025-05-20T15:21:40Z",
        "started_at": "2025-05-20T15:20:53Z",
        "version": "f95f852bd8fc",
        "commits": [{"sha": SHA, "committed_at": None}],
        "tickets": [],
        "source": "github",
    }
    return "deploy", event | over


def test_a_successful_deployment_status_is_a_success_deploy():
    # The id is the status's own: the same for every delivery and for any later import of it.
    assert check(from_webhook("deployment_status", deployment_status("success"), DELIVERY)) == [deploy("success")]
    assert from_webhook("deployment_status", deployment_status("success"), "another-guid") == [deploy("success")]


@pytest.mark.parametrize("state", ["failure", "error"])
def test_failed_and_errored_deployments_are_failures(state):
    assert check(from_webhook("deployment_status", deployment_status(state))) == [deploy("failure")]


@pytest.mark.parametrize("state", ["pending", "queued", "in_progress", "inactive"])
def test_unfinished_deployment_states_say_nothing(state):
    assert from_webhook("deployment_status", deployment_status(state)) == []


def test_an_undocumented_deployment_state_is_unmappable():
    with pytest.raises(Unmappable, match="'exploded' is none of"):
        from_webhook("deployment_status", deployment_status("exploded"))


def test_a_deployment_can_carry_tickets_and_commit_times_in_its_payload():
    extra = {"tickets": ["acme/api#12"], "commits": [{"sha": "0a1b2c3d", "committed_at": "2025-05-20T09:00:00+02:00"}]}
    mapped = from_webhook("deployment_status", deployment_status("success", payload=extra))
    assert check(mapped) == [
        deploy(
            "success",
            tickets=["acme/api#12"],
            commits=[{"sha": SHA, "committed_at": None}, {"sha": "0a1b2c3d", "committed_at": "2025-05-20T07:00:00Z"}],
        )
    ]
    with pytest.raises(Unmappable, match="payload.tickets must be a list"):
        from_webhook("deployment_status", deployment_status("success", payload={"tickets": "acme/api#12"}))


def test_a_deployment_without_environment_is_unmappable():
    payload = deployment_status("success", environment="")
    with pytest.raises(Unmappable, match="no environment"):
        from_webhook("deployment_status", payload)


# ---- pull_request ------------------------------------------------------------------------------
def test_a_merged_pull_request_sends_nothing_in_v1_but_its_commit_time_is_readable():
    assert from_webhook("pull_request", pull_request(merged=True)) == []
    assert merged_commit(pull_request(merged=True)) == (SHA, "2025-05-20T11:00:00Z")
    assert merged_commit(pull_request(merged=False)) is None


# ---- backfill: saved timelines -----------------------------------------------------------------
TIMELINE_12 = [
    timeline_event(101, "assigned", "2025-05-19T08:00:00Z", assignee=user("bo"), assigner=user("ana")),
    timeline_event(102, "labeled", "2025-05-20T10:00:00Z", label={"name": "In Progress", "color": "0e8a16"}),
    {"event": "commented", "id": 2001, "body": "on it", "user": user("bo"), "created_at": "2025-05-20T10:05:00Z"},
    {"event": "committed", "sha": SHA, "author": {"name": "Bo", "date": "2025-05-20T12:00:00Z"}},
    timeline_event(103, "labeled", "2025-05-21T09:00:00Z", label={"name": "review", "color": "fbca04"}),
]
TIMELINE_12_PAGE_2 = [
    timeline_event(104, "unlabeled", "2025-05-21T09:00:05Z", label={"name": "In Progress", "color": "0e8a16"}),
    timeline_event(105, "closed", "2025-05-22T17:00:00Z", state_reason="completed"),
    timeline_event(106, "labeled", "2025-05-22T17:01:00Z", label={"name": "in progress", "color": "0e8a16"}),
    timeline_event(107, "reopened", "2025-05-23T09:00:00Z"),
]
TIMELINE_13 = [timeline_event(201, "closed", "2025-05-19T09:00:00Z", actor="bo", state_reason="not_planned")]


def write_import(tmp_path: Path) -> tuple[Path, list[int]]:
    """What the README's loop of curl calls writes (pretty-printed, concatenated), plus a JSON Lines record;
    and the first line of each part."""
    bad = rest_issue(14)
    del bad["number"]
    parts = [
        json.dumps(rest_issue(12, labels=["in progress", "review"], state="open"), indent=2),
        json.dumps(TIMELINE_12, indent=2),
        json.dumps(TIMELINE_12_PAGE_2, indent=2),  # two timeline pages
        json.dumps({"issue": rest_issue(13, state="closed"), "timeline": TIMELINE_13}),  # a JSON Lines record
        json.dumps(bad, indent=2),
        "[]",  # an issue without number
        json.dumps({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
        json.dumps({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    ]
    path = tmp_path / "acme-api.github.json"
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    starts = [1]
    for part in parts:
        starts.append(starts[-1] + part.count("\n") + 1)
    return path, starts


def expected_import() -> list:
    t12 = lambda *a, **k: transition(*a, **k)  # noqa: E731
    return [
        # issue 12: created, assigned to bo, worked, reviewed, closed, labeled while closed (nothing), reopened
        t12("gh-444500012-opened", None, "Open", "2025-05-19T08:00:00Z"),
        t12("gh-444500012-assigned-bo-2025-05-19T08:00:00Z", "Open", "Open", "2025-05-19T08:00:00Z", assignee="bo"),
        t12("gh-444500012-labeled-in progress-2025-05-20T10:00:00Z", "Open", "In Progress", "2025-05-20T10:00:00Z"),
        t12("gh-444500012-labeled-review-2025-05-21T09:00:00Z", "In Progress", "Review", "2025-05-21T09:00:00Z"),
        # unlabeling "in progress" while "review" stays moves nothing (Review is listed later)
        t12("gh-444500012-closed-2025-05-22T17:00:00Z", "Review", "Closed", "2025-05-22T17:00:00Z"),
        # labels now: review + in progress -> Review (the later-listed one)
        t12("gh-444500012-reopened-2025-05-23T09:00:00Z", "Closed", "Review", "2025-05-23T09:00:00Z"),
        # issue 13: created by ana, dropped as not planned by bo
        transition("gh-444500013-opened", None, "Open", "2025-05-19T08:00:00Z", ticket="acme/api#13"),
        transition(
            "gh-444500013-closed-2025-05-19T09:00:00Z",
            "Open",
            "Not Planned",
            "2025-05-19T09:00:00Z",
            actor="bo",
            ticket="acme/api#13",
        ),
    ]


def test_an_import_replays_each_issue_and_reports_the_bad_ones(tmp_path):
    path, starts = write_import(tmp_path)
    records = list(iter_import(path, label_states=LABELS))
    events = [r for r in records if not isinstance(r, Unmappable)]
    skipped = [str(r) for r in records if isinstance(r, Unmappable)]
    assert check(events) == expected_import()
    bad_issue, not_found = starts[4], starts[6]  # parts: #12, its 2 pages, #13, the bad one, [], the 404 pair
    assert skipped == [
        f"line {bad_issue}: the issue has no number, so the ticket cannot be named.",
        f"line {not_found}: GitHub answered 'Not Found' instead of an issue; check the URL and token.",
    ]


def test_a_reimport_and_the_webhooks_of_the_same_changes_share_ids(tmp_path):
    path, _ = write_import(tmp_path)
    first = [r for r in iter_import(path, label_states=LABELS) if not isinstance(r, Unmappable)]
    again = [r for r in iter_import(path, label_states=LABELS) if not isinstance(r, Unmappable)]
    assert first == again
    webhook = from_webhook(
        "issues",
        issues_event(
            "labeled", issue(labels=["in progress"], updated_at="2025-05-20T10:00:00Z"), label=label("in progress")
        ),
        DELIVERY,
        label_states=LABELS,
    )
    closed = from_webhook(
        "issues",
        issues_event(
            "closed",
            issue(labels=["review"], state="closed", state_reason="completed", closed_at="2025-05-22T17:00:00Z"),
        ),
        DELIVERY,
        label_states=LABELS,
    )
    ids = {event["event_id"] for _, event in first}
    assert webhook[0][1]["event_id"] in ids and closed[0][1]["event_id"] in ids


def test_import_reads_across_chunk_boundaries_and_stops_at_broken_json(tmp_path, monkeypatch):
    monkeypatch.setattr(github, "_CHUNK", 7)  # every value spans many reads
    path, _ = write_import(tmp_path)
    assert [r for r in iter_import(path, label_states=LABELS) if not isinstance(r, Unmappable)] == expected_import()
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"number": 15, "title": "cut off\n')
    lines = path.read_text().count("\n")
    tail = list(iter_import(path, label_states=LABELS))
    assert str(tail[-1]).startswith(f"line {lines}: the file is not JSON here")
    assert [r for r in tail if not isinstance(r, Unmappable)] == expected_import()


def test_an_issue_without_its_timeline_is_reported(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(rest_issue(12)) + "\n" + json.dumps(rest_issue(13)) + "\n" + "[]\n")
    records = list(iter_import(path))
    assert str(records[0]) == "line 1: acme/api#12 is not followed by its timeline array; save both responses."
    assert records[1][1]["ticket_id"] == "acme/api#13"


def test_the_repo_argument_names_issues_saved_without_repository_url(tmp_path):
    doc = rest_issue(12)
    del doc["repository_url"]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"issue": doc, "timeline": []}) + "\n")
    assert "names no repository" in str(next(iter_import(path)))
    assert next(iter_import(path, repo="acme/web"))[1]["ticket_id"] == "acme/web#12"


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_whose_utc_conversion_overflows_is_unmappable_not_a_crash(moment):
    """Issue 13: an OverflowError from astimezone escaped the adapter (a 500 in the receiver)."""
    payload = issues_event("opened", issue())
    payload["issue"]["created_at"] = moment
    with pytest.raises(Unmappable, match="out of range once converted to UTC"):
        from_webhook("issues", payload, DELIVERY)


# ---- issues with the incident label are incidents too ------------------------------------
def test_an_issue_with_the_incident_label_opens_and_resolves_an_incident_beside_its_transitions():
    opened = issues_event("opened", issue(labels=["incident", "service:payments", "severity:SEV2"]))
    events = from_webhook("issues", opened, DELIVERY, incident_label="Incident")
    assert [kind for kind, _ in events] == ["transition", "incident"]  # the ticket still flows on its board
    assert events[1][1] == {
        "event_id": "github:acme/api#12:opened:2025-05-19T08:00:00Z",
        "incident_id": "github:acme/api#12",
        "service": "payments",  # from the service: label
        "status": "opened",
        "at": "2025-05-19T08:00:00Z",  # created_at
        "severity": "SEV2",
        "title": "Checkout times out",
        "url": "https://github.com/acme/api/issues/12",
        "source": "github",
    }
    closed = issues_event("closed", issue(labels=["incident"], state="closed", closed_at="2025-05-19T09:30:00Z"))
    (_, resolved) = from_webhook("issues", closed, DELIVERY, incident_label="incident")[1]
    assert (resolved["status"], resolved["at"], resolved["service"]) == ("resolved", "2025-05-19T09:30:00Z", "acme/api")
    reopened = issues_event("reopened", issue(labels=["incident"], updated_at="2025-05-20T10:00:00Z"))
    (_, again) = from_webhook("issues", reopened, DELIVERY, incident_label="incident")[1]
    assert (again["status"], again["at"]) == ("opened", "2025-05-20T10:00:00Z")


def test_labelling_an_open_issue_an_incident_opens_it_at_creation_once():
    labelled = issues_event("labeled", issue(labels=["incident"]), label=label("incident"))
    incidents = [
        e for kind, e in from_webhook("issues", labelled, DELIVERY, incident_label="incident") if kind == "incident"
    ]
    opened = issues_event("opened", issue(labels=["incident"]))
    (_, at_open) = from_webhook("issues", opened, DELIVERY, incident_label="incident")[1]
    assert [e["event_id"] for e in incidents] == [at_open["event_id"]]  # the same event: it lands once
    other = issues_event("labeled", issue(labels=["incident", "bug"]), label=label("bug"))
    assert all(kind == "transition" for kind, _ in from_webhook("issues", other, DELIVERY, incident_label="incident"))


def test_without_the_setting_or_the_label_an_issue_is_no_incident():
    plain = issues_event("opened", issue(labels=["incident"]))
    assert all(kind == "transition" for kind, _ in from_webhook("issues", plain, DELIVERY))
    unlabelled = issues_event("opened", issue(labels=["bug"]))
    assert all(
        kind == "transition" for kind, _ in from_webhook("issues", unlabelled, DELIVERY, incident_label="incident")
    )

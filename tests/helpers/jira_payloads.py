"""Jira payloads shaped as Atlassian documents them, for the adapter and receiver tests: issue
PAY-7 on board PAY, as webhooks deliver its changes and as the search API returns its history."""

from __future__ import annotations

import copy
from typing import Any

SITE = "https://your-domain.atlassian.net"
TEAM = "customfield_10001"

# 2024-05-01T07:30:00.123Z: 19844 days from 1970-01-01 to 2024-05-01 (54 years, 13 leap days,
# then 31+29+31+30 days) = 1,714,521,600 s, + 7.5 h (27,000 s) = 1,714,548,600 s, + 123 ms.
T_0730 = 1714548600123


def user(account_id: str, name: str) -> dict[str, Any]:
    return {
        "self": f"{SITE}/rest/api/2/user?accountId={account_id}",
        "accountId": account_id,
        "avatarUrls": {
            size: f"https://avatar-management.example/{account_id}.png?s={size}"
            for size in ("48x48", "24x24", "16x16", "32x32")
        },
        "displayName": name,
        "active": True,
        "timeZone": "Europe/Berlin",
        "accountType": "atlassian",
    }


MIA = user("5b10a2844c20165700ede21g", "Mia Krystof")
ANN = user("5b10ac8d82e05b22cc7d4ef5", "Ann Lee")
BO = user("712020:0e99e8b3-7b6d-4a5e-9f1e-22e4d1a1b3c4", "Bo Chen")


def fields(status: str, assignee: dict[str, Any] | None, team: Any = None) -> dict[str, Any]:
    """An issue's fields as a webhook or the search API sends them (most left out: they are ignored)."""
    return {
        "statuscategorychangedate": "2024-04-30T09:00:00.000+0200",
        "issuetype": {
            "self": f"{SITE}/rest/api/2/issuetype/10001",
            "id": "10001",
            "description": "Functionality or a feature expressed as a user goal.",
            "iconUrl": f"{SITE}/secure/viewavatar?size=medium&avatarId=10315&avatarType=issuetype",
            "name": "Story",
            "subtask": False,
            "avatarId": 10315,
            "hierarchyLevel": 0,
        },
        "project": {
            "self": f"{SITE}/rest/api/2/project/10000",
            "id": "10000",
            "key": "PAY",
            "name": "Payments",
            "projectTypeKey": "software",
            "simplified": False,
            "avatarUrls": {"48x48": f"{SITE}/secure/projectavatar?pid=10000&avatarId=10400"},
        },
        TEAM: team,
        "resolution": None,
        "created": "2024-04-29T10:15:00.000+0200",
        "priority": {"self": f"{SITE}/rest/api/2/priority/3", "name": "Medium", "id": "3"},
        "labels": ["checkout"],
        "assignee": assignee,
        "updated": "2024-05-01T09:30:00.123+0200",
        "status": {
            "self": f"{SITE}/rest/api/2/status/3",
            "description": "",
            "iconUrl": f"{SITE}/",
            "name": status,
            "id": "3",
            "statusCategory": {
                "self": f"{SITE}/rest/api/2/statuscategory/4",
                "id": 4,
                "key": "indeterminate",
                "colorName": "yellow",
                "name": "In Progress",
            },
        },
        "summary": "Retry card payments once on a gateway timeout",
        "creator": MIA,
        "reporter": MIA,
    }


def item(
    field: str,
    from_: str | None,
    from_string: str | None,
    to: str | None,
    to_string: str | None,
    fieldtype: str = "jira",
    field_id: str | None = None,
) -> dict[str, Any]:
    return {
        "field": field,
        "fieldtype": fieldtype,
        "fieldId": field_id or field,
        "from": from_,
        "fromString": from_string,
        "to": to,
        "toString": to_string,
    }


STATUS_TODO_TO_PROGRESS = item("status", "10000", "To Do", "3", "In Progress")
STATUS_PROGRESS_TO_REVIEW = item("status", "3", "In Progress", "10002", "Review")
STATUS_REVIEW_TO_DONE = item("status", "10002", "Review", "10003", "Done")
ASSIGN_NONE_TO_ANN = item("assignee", None, None, ANN["accountId"], "Ann Lee")
ASSIGN_ANN_TO_BO = item("assignee", ANN["accountId"], "Ann Lee", BO["accountId"], "Bo Chen")
ASSIGN_BO_TO_NONE = item("assignee", BO["accountId"], "Bo Chen", None, None)
LABELS = {
    "field": "labels",
    "fieldtype": "jira",
    "fieldId": "labels",
    "from": None,
    "fromString": "",
    "to": None,
    "toString": "checkout",
}
TEAM_PLATFORM_TO_CHECKOUT = item("Team", "10020", "Platform", "10021", "Checkout", "custom", TEAM)


def updated(
    items: list[dict[str, Any]],
    status: str = "In Progress",
    assignee: dict[str, Any] | None = ANN,
    team: Any = None,
    changelog_id: str = "10500",
) -> dict[str, Any]:
    """A jira:issue_updated delivery, as on developer.atlassian.com/cloud/jira/platform/webhooks."""
    return {
        "timestamp": T_0730,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": MIA,
        "issue": {
            "id": "10002",
            "self": f"{SITE}/rest/api/2/10002",
            "key": "PAY-7",
            "fields": fields(status, assignee, team),
        },
        "changelog": {"id": changelog_id, "items": copy.deepcopy(items)},
    }


def created(assignee: dict[str, Any] | None = None) -> dict[str, Any]:
    payload = updated([], status="To Do", assignee=assignee)
    payload["webhookEvent"] = "jira:issue_created"
    payload["issue_event_type_name"] = "issue_created"
    del payload["changelog"]
    return payload


def history(history_id: str, created_at: str, author: dict[str, Any], items: list[dict[str, Any]]) -> dict:
    return {"id": history_id, "author": author, "created": created_at, "items": items}


def searched_issue(histories: list[dict[str, Any]] | None = None, total: int | None = None) -> dict[str, Any]:
    """PAY-7 as GET /rest/api/3/search/jql?expand=changelog returns it: now Done, unassigned, team Checkout."""
    histories = copy.deepcopy(HISTORIES if histories is None else histories)  # tests may edit their copy
    return {
        "expand": "operations,versionedRepresentations,editmeta,changelog,renderedFields",
        "id": "10002",
        "self": f"{SITE}/rest/api/3/issue/10002",
        "key": "PAY-7",
        "changelog": {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories) if total is None else total,
            "histories": histories,
        },
        "fields": fields("Done", None, {"value": "Checkout", "id": "10021"}),
    }


# Newest first, as Jira Cloud lists them; the adapter orders by time.
HISTORIES = [
    history("10504", "2024-05-03T16:00:00.000+0200", BO, [STATUS_REVIEW_TO_DONE]),
    history("10503", "2024-05-03T15:00:00.000+0200", BO, [ASSIGN_BO_TO_NONE]),
    history("10502", "2024-05-02T11:00:00.000+0200", ANN, [STATUS_PROGRESS_TO_REVIEW, ASSIGN_ANN_TO_BO]),
    history("10501", "2024-05-01T12:00:00.000+0200", MIA, [LABELS, TEAM_PLATFORM_TO_CHECKOUT]),
    history("10500", "2024-05-01T09:30:00.000+0200", ANN, [STATUS_TODO_TO_PROGRESS]),
    history("10400", "2024-04-29T11:00:00.000+0200", MIA, [ASSIGN_NONE_TO_ANN]),
]

"""Webhook and REST payloads shaped as GitHub documents them, for the adapter and receiver tests.

They follow GitHub's webhook docs and octokit/webhooks' examples, trimmed to the fields
that matter plus a few that do not (urls, node ids) so the adapter is seen ignoring them:
issues, projects_v2_item, deployment_status and pull_request deliveries, and the REST issue and
timeline documents an import reads.
"""

from __future__ import annotations

# An X-GitHub-Delivery GUID: the one in the example delivery of GitHub's webhook docs.
DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"


def user(login: str) -> dict:
    return {
        "login": login,
        "id": abs(hash(login)) % 10**7,
        "node_id": "MDQ6VXNlcjE=",
        "type": "User",
        "url": f"https://api.github.com/users/{login}",
        "site_admin": False,
    }


def label(name: str) -> dict:
    return {
        "id": 1362934389,
        "node_id": "MDU6TGFiZWwxMzYyOTM0Mzg5",
        "name": name,
        "color": "d73a4a",
        "default": False,
        "description": None,
        "url": f"https://api.github.com/repos/acme/api/labels/{name.replace(' ', '%20')}",
    }


REPOSITORY = {
    "id": 186853002,
    "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
    "name": "api",
    "full_name": "acme/api",
    "private": False,
    "owner": user("acme"),
    "html_url": "https://github.com/acme/api",
    "default_branch": "main",
}


def issue(
    number: int = 12,
    *,
    labels=(),
    assignees=(),
    state="open",
    state_reason=None,
    updated_at="2025-05-20T10:00:00Z",
    closed_at=None,
) -> dict:
    return {
        "url": f"https://api.github.com/repos/acme/api/issues/{number}",
        "repository_url": "https://api.github.com/repos/acme/api",
        "html_url": f"https://github.com/acme/api/issues/{number}",
        "id": 444500000 + number,
        "node_id": "I_kwDOCyhMys5",
        "number": number,
        "title": "Checkout times out",
        "user": user("ana"),
        "labels": [label(n) for n in labels],
        "state": state,
        "locked": False,
        "assignee": user(assignees[0]) if assignees else None,
        "assignees": [user(a) for a in assignees],
        "milestone": None,
        "comments": 0,
        "created_at": "2025-05-19T08:00:00Z",
        "updated_at": updated_at,
        "closed_at": closed_at,
        "author_association": "MEMBER",
        "state_reason": state_reason,
        "body": "Seen in production.",
    }


def issues_event(action: str, the_issue: dict, **extra) -> dict:
    return {"action": action, "issue": the_issue, **extra, "repository": REPOSITORY, "sender": user("ana")}


def project_edit(field_value: dict) -> dict:
    return {
        "action": "edited",
        "projects_v2_item": {
            "id": 5678510,
            "node_id": "PVTI_lADOAWcTxs07G84AVqWu",
            "project_node_id": "PVT_kwDOAWcTxs07Gw",
            "content_node_id": "I_kwDOAWcTxs5kQ9Ab",
            "content_type": "Issue",
            "creator": user("ana"),
            "created_at": "2025-05-19T08:05:00Z",
            "updated_at": "2025-05-20T14:30:00Z",
            "archived_at": None,
        },
        "changes": {"field_value": field_value},
        "organization": {"login": "acme", "id": 38302899, "node_id": "MDEyOk9yZ2FuaXphdGlvbjM4MzAyODk5"},
        "sender": user("bo"),
    }


def status_change(frm, to) -> dict:
    option = lambda oid, name: {"id": oid, "name": name, "color": "YELLOW", "description": ""}  # noqa: E731
    return {
        "field_node_id": "PVTSSF_lADOAWcTxs07G84AAali",
        "field_type": "single_select",
        "field_name": "Status",
        "project_number": 3,
        "from": frm and option("f75ad846", frm),
        "to": to and option("47fc9ee4", to),
    }


SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


def deployment_status(state: str, *, environment="production", payload=None) -> dict:
    return {
        "action": "created",
        "deployment_status": {
            "url": "https://api.github.com/repos/acme/api/deployments/145988746/statuses/209916254",
            "id": 209916254,
            "node_id": "MDE2OkRlcGxveW1lbnRTdGF0dXMyMDk5MTYyNTQ=",
            "state": state,
            "creator": user("deploy-bot"),
            "description": "",
            "environment": environment,
            "target_url": "",
            "created_at": "2025-05-20T15:20:55Z",
            "updated_at": "2025-05-20T15:21:40Z",
        },
        "deployment": {
            "url": "https://api.github.com/repos/acme/api/deployments/145988746",
            "id": 145988746,
            "sha": SHA,
            "ref": "main",
            "task": "deploy",
            "payload": payload or {},
            "original_environment": environment,
            "environment": environment,
            "description": None,
            "creator": user("deploy-bot"),
            "created_at": "2025-05-20T15:20:53Z",
            "updated_at": "2025-05-20T15:21:40Z",
        },
        "repository": REPOSITORY,
        "sender": user("deploy-bot"),
    }


def pull_request(merged: bool) -> dict:
    return {
        "action": "closed",
        "number": 7,
        "repository": REPOSITORY,
        "sender": user("ana"),
        "pull_request": {
            "id": 279147437,
            "number": 7,
            "state": "closed",
            "merged": merged,
            "merge_commit_sha": SHA if merged else None,
            "created_at": "2025-05-19T10:00:00Z",
            "closed_at": "2025-05-20T11:00:00Z",
            "merged_at": "2025-05-20T11:00:00Z" if merged else None,
            "head": {"ref": "fix-timeout", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
            "base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b"},
        },
    }


def timeline_event(event_id: int, event: str, at: str, actor="ana", **extra) -> dict:
    return {
        "id": event_id,
        "node_id": "LE_lADOCyhMys5",
        "url": f"https://api.github.com/repos/acme/api/issues/events/{event_id}",
        "actor": user(actor),
        "event": event,
        "commit_id": None,
        "commit_url": None,
        "created_at": at,
        "performed_via_github_app": None,
        **extra,
    }


def rest_issue(number: int, **over) -> dict:
    doc = issue(number, **over)
    doc.pop("state_reason")
    return doc

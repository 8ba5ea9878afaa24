"""GitLab: issues and deployments as v1 events, mapped as the GitHub adapter maps its equivalents.

Issues are tickets ``group/project#iid`` on the board ``group/project`` (the project's
``path_with_namespace``). An open issue is in the state of its labels: the state of the label
listed last in ``label_states`` (the ``gitlab_label_states`` setting, in flow order) among those
it carries, else "Open"; a closed one is in "Closed". "Open" and "Closed" are aliases of Backlog
and Done in the built-in workflow. Label changes of a closed issue give nothing: it stays closed
until reopened.

Two ways in, one mapping:

- Pulled (``from_issue``): the issue from ``GET /projects/:id/issues`` with its resource state
  events (closed, reopened) and resource label events (add, remove), replayed oldest first.
- Webhooks (``from_webhook``): the Issue Hook (object_kind issue, or work_item for the same
  payload of other work item types): action open, close, reopen, and update with
  ``changes.labels`` or ``changes.assignees``; the Deployment Hook (object_kind deployment).
  Merge Request Hooks and everything else give nothing: v1 has no commit event.

Deployments: success -> a "success" deploy, failed -> "failure"; created, running, blocked,
skipped and canceled give nothing (nothing finished reaching the environment; a cancelled deploy
is neither delivered nor a failed change). Service: the project path; environment: its name;
commits: the deployed commit, with its time where the API gives it, and the commits of the
merge requests that commit merged (pulled only).

event_id, from GitLab's own ids, so a re-delivery, a rerun pass and the overlap land once:

- ``gl-<issue id>-opened``: the opening, the same from a pull and a webhook;
- pulled changes: ``gl-<issue id>-state-<resource state event id>``,
  ``gl-<issue id>-label-<resource label event id>`` (the last of the label events of one instant);
- webhook changes: ``gl-<issue id>-hook-<change>-<at>``. The Issue Hook carries no resource event
  id, and its times (``updated_at``, ``closed_at``) are not the resource event's ``created_at``,
  so a webhook and a pull of the same label or state change get different ids: run one of the two
  per project for issues (docs/sources.md#gitlab);
- ``gl-deployment-<deployment id>-<status>``: the same from a pull and a webhook (the Deployment
  Hook's ``deployment_id``; a hook from a GitLab too old to send it falls back to
  ``gl-deployable-<job id>-<status>``, which a pull cannot match).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sources.adapters import Mapped, Unmappable

SOURCE = "gitlab"
OPEN = "Open"
CLOSED = "Closed"
_DEPLOY_STATUS = {"success": "success", "failed": "failure"}
_UNFINISHED = ("created", "running", "blocked", "skipped", "canceled", "canceling")
_ISSUE_KINDS = ("issue", "work_item")
_SHA = re.compile(r"[0-9a-f]{40}")


# ---- issues -------------------------------------------------------------------------------------
class _Issue:
    """What every transition of one issue shares: ticket, board, type, and the id changes key on."""

    def __init__(self, issue_id: Any, iid: Any, project: Any, ticket_type: Any) -> None:
        if not isinstance(iid, int) or isinstance(iid, bool):
            raise Unmappable("the issue has no iid, so the ticket cannot be named.")
        if not isinstance(project, str) or not project.strip():
            raise Unmappable(f"issue #{iid} names no project path (path_with_namespace).")
        if not isinstance(issue_id, int) or isinstance(issue_id, bool):
            raise Unmappable(f"issue {project}#{iid} has no id, so a re-delivery could not be recognised.")
        self.key = f"gl-{issue_id}"
        self.ticket_id = f"{project.strip()}#{iid}"
        self.board = project.strip()
        self.ticket_type = (
            ticket_type.strip().lower() if isinstance(ticket_type, str) and ticket_type.strip() else "issue"
        )

    def transition(
        self, change: str, from_state: str | None, to_state: str, at: str, actor: str | None, assignee: str | None
    ) -> tuple[str, dict[str, Any]]:
        return "transition", {
            "event_id": f"{self.key}-{change}",
            "ticket_id": self.ticket_id,
            "board": self.board,
            "from_state": from_state,
            "to_state": to_state,
            "at": at,
            "assignee": assignee,
            "ticket_type": self.ticket_type,
            "actor": actor,
            "source": SOURCE,
        }


def from_issue(
    project: str,
    issue: dict[str, Any],
    state_events: list[dict[str, Any]],
    label_events: list[dict[str, Any]],
    label_states: dict[str, str] | None = None,
) -> Mapped:
    """The transitions of one pulled issue: its opening, then its state and label events replayed.

    The issue's current assignee is put on its newest transition only: GitLab's API keeps no
    assignee history beyond system notes, so an older transition cannot say who held it then."""
    if not isinstance(issue, dict):
        raise Unmappable("there is no issue object where one was expected.")
    states = label_states or {}
    it = _Issue(issue.get("id"), issue.get("iid"), project, issue.get("issue_type"))
    created = _time(issue.get("created_at"), f"{it.ticket_id}: created_at")
    out = [it.transition("opened", None, OPEN, created, _username(issue.get("author")), None)]
    changes: list[tuple[datetime, int, str, dict[str, Any]]] = []
    for kind, events in (("state", state_events), ("label", label_events)):
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("id"), int):
                raise Unmappable(f"a resource {kind} event of {it.ticket_id} has no id.")
            at = _time(event.get("created_at"), f"{it.ticket_id}: resource {kind} event {event['id']}")
            changes.append((_parse(at), event["id"], kind, event))
    # Oldest first; GitLab records one label change (Doing -> Review) as a remove and an add of
    # the same instant: they are applied together, so no passing state appears between them.
    changes.sort(key=lambda c: (c[0], c[2] == "state", c[1]))
    labels: set[str] = set()
    closed = False
    for (moment, kind), grouped in groupby(changes, key=lambda c: (c[0], c[2])):
        group = list(grouped)
        at = _iso(moment)
        if kind == "label":
            current = _label_state(labels, states)
            for _, _, _, event in group:
                label = _obj(event.get("label")).get("name")
                if isinstance(label, str) and label.strip():  # a deleted label: GitLab answers label null
                    name = label.strip().lower()
                    labels = labels | {name} if event.get("action") == "add" else labels - {name}
            new = _label_state(labels, states)
            if not closed and new != current:
                last = group[-1]
                out.append(it.transition(f"label-{last[1]}", current, new, at, _username(last[3].get("user")), None))
            continue
        for _, event_id, _, event in group:
            actor = _username(event.get("user"))
            if event.get("state") == "closed" and not closed:
                closed = True
                out.append(it.transition(f"state-{event_id}", _label_state(labels, states), CLOSED, at, actor, None))
            elif event.get("state") in ("reopened", "opened") and closed:
                closed = False
                out.append(it.transition(f"state-{event_id}", CLOSED, _label_state(labels, states), at, actor, None))
    out[-1][1]["assignee"] = _first_username(issue.get("assignees"), issue.get("assignee"))
    return out


def from_webhook(payload: dict[str, Any], *, label_states: dict[str, str] | None = None) -> Mapped:
    """The v1 events of one GitLab webhook delivery; [] when it says nothing flowmeter measures."""
    if not isinstance(payload, dict):
        raise Unmappable("the GitLab payload is not a JSON object.")
    kind = payload.get("object_kind")
    if kind in _ISSUE_KINDS:
        return _issue_hook(payload, label_states or {})
    if kind == "deployment":
        return _deployment_hook(payload)
    return []


def _issue_hook(payload: dict[str, Any], states: dict[str, str]) -> Mapped:
    attrs = payload.get("object_attributes")
    if not isinstance(attrs, dict):
        raise Unmappable("the issue hook has no object_attributes.")
    action = attrs.get("action")
    if action not in ("open", "close", "reopen", "update"):
        return []
    project = payload.get("project")
    path = project.get("path_with_namespace") if isinstance(project, dict) else None
    it = _Issue(attrs.get("id"), attrs.get("iid"), path, attrs.get("type") or attrs.get("issue_type"))
    actor = _username(payload.get("user"))
    changes = _obj(payload.get("changes"))
    now_labels = _titles(payload.get("labels") if "labels" in payload else attrs.get("labels"))
    label_change = changes.get("labels")
    before_labels = _titles(label_change.get("previous")) if isinstance(label_change, dict) else now_labels
    if isinstance(label_change, dict) and "current" in label_change:
        now_labels = _titles(label_change.get("current"))
    assignee = _first_username(payload.get("assignees"), payload.get("assignee"))
    before, after = _label_state(before_labels, states), _label_state(now_labels, states)
    if action == "open":
        at = _time(attrs.get("created_at"), "object_attributes.created_at")
        out = [it.transition("opened", None, OPEN, at, actor, assignee)]
        if after != OPEN:  # opened carrying a mapped label: into its state at once
            out.append(it.transition(f"hook-labels-{at}", OPEN, after, at, actor, assignee))
        return out
    if action == "close":
        at = _time(attrs.get("closed_at") or attrs.get("updated_at"), "object_attributes.closed_at")
        return [it.transition(f"hook-closed-{at}", before, CLOSED, at, actor, assignee)]
    at = _time(attrs.get("updated_at"), "object_attributes.updated_at")
    if action == "reopen":
        return [it.transition(f"hook-reopened-{at}", CLOSED, after, at, actor, assignee)]
    if attrs.get("state") == "closed":
        return []  # labels or assignees of a closed issue: it stays Closed
    out = []
    if before != after:
        out.append(it.transition(f"hook-labels-{at}", before, after, at, actor, assignee))
    assignees = changes.get("assignees")
    if isinstance(assignees, dict) and not out:
        now = _first_username(assignees.get("current"), None)
        if now and now != _first_username(assignees.get("previous"), None):
            out.append(it.transition(f"hook-assignees-{now}-{at}", after, after, at, actor, now))
        # unassigned to nobody: v1 cannot say "nobody"; the last assignee stays the responsible party
    return out


# ---- deployments --------------------------------------------------------------------------------
def from_deployment(
    project: str, deployment: dict[str, Any], merged_commits: list[dict[str, Any]] | None = None
) -> Mapped:
    """The deploy of one pulled deployment (``GET /projects/:id/deployments``); [] while unfinished.

    ``merged_commits``: the {sha, committed_at} of the merge requests the deployed commit merged,
    added after the deployed commit itself (``commits`` below)."""
    if not isinstance(deployment, dict):
        raise Unmappable("there is no deployment object where one was expected.")
    status = deployment.get("status")
    if status in _UNFINISHED:
        return []
    dep_id = deployment.get("id")
    where = f"{project} deployment {dep_id}"
    if status not in _DEPLOY_STATUS:
        raise Unmappable(f"{where}: status '{status}' is none of success, failed, {', '.join(_UNFINISHED)}.")
    environment = deployment.get("environment")
    name = environment.get("name") if isinstance(environment, dict) else None
    deployable = _obj(deployment.get("deployable"))
    at = _time(
        deployment.get("finished_at") or deployable.get("finished_at") or deployment.get("updated_at"),
        f"{where}: finished_at",
    )
    started = deployable.get("started_at") or deployment.get("created_at")
    started = _time(started, f"{where}: created_at") if started else None
    if started is not None and _parse(started) > _parse(at):
        started = None  # clocks disagree; a start after the end would reject the whole deploy
    sha = deployment.get("sha")
    commit = _obj(deployable.get("commit"))
    committed = commit.get("committed_date") or commit.get("created_at") if commit.get("id") == sha else None
    commits = [{"sha": sha, "committed_at": _time(committed, f"{where}: commit") if committed else None}]
    commits += [c for c in merged_commits or [] if c["sha"] != sha]
    return [_deploy(_key_of_deployment(dep_id, None, status), project, name, status, at, started, sha, commits)]


def commits_of(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """{sha, committed_at} of a merge request's commits (``GET .../merge_requests/:iid/commits``)."""
    out = []
    for commit in listed:
        if isinstance(commit, dict) and isinstance(commit.get("id"), str) and commit["id"]:
            when = commit.get("committed_date") or commit.get("created_at")
            out.append(
                {"sha": commit["id"], "committed_at": _time(when, f"commit {commit['id'][:12]}") if when else None}
            )
    return out


def _deployment_hook(payload: dict[str, Any]) -> Mapped:
    status = payload.get("status")
    if status in _UNFINISHED:
        return []
    if status not in _DEPLOY_STATUS:
        raise Unmappable(f"the deployment hook's status '{status}' is none of success, failed, running, canceled.")
    project = payload.get("project")
    path = project.get("path_with_namespace") if isinstance(project, dict) else None
    if not isinstance(path, str) or not path.strip():
        raise Unmappable("the deployment hook has no project.path_with_namespace to name the service.")
    at = _time(payload.get("status_changed_at"), "status_changed_at")
    url = payload.get("commit_url")
    tail = url.rstrip("/").rsplit("/", 1)[-1] if isinstance(url, str) else ""
    sha = tail if _SHA.fullmatch(tail) else payload.get("short_sha")
    key = _key_of_deployment(payload.get("deployment_id"), payload.get("deployable_id"), status)
    commits = [{"sha": sha, "committed_at": None}] if isinstance(sha, str) and sha else []
    return [_deploy(key, path, payload.get("environment"), status, at, None, sha, commits)]


def _deploy(
    key: str, service: str, environment: Any, status: str, at: str, started: str | None, sha: Any, commits: list
) -> tuple[str, dict[str, Any]]:
    if not isinstance(environment, str) or not environment.strip():
        raise Unmappable(f"{key}: the deployment names no environment.")
    return "deploy", {
        "event_id": key,
        "service": service.strip(),
        "environment": environment.strip(),
        "status": _DEPLOY_STATUS[status],
        "at": at,
        "started_at": started,
        "version": sha[:12] if isinstance(sha, str) and sha else None,
        "commits": [c for c in commits if isinstance(c.get("sha"), str) and c["sha"]],
        "tickets": [],
        "source": SOURCE,
    }


def _key_of_deployment(deployment_id: Any, deployable_id: Any, status: str) -> str:
    for kind, value in (("deployment", deployment_id), ("deployable", deployable_id)):
        if isinstance(value, int) and not isinstance(value, bool):
            return f"gl-{kind}-{value}-{status}"
    raise Unmappable("the deployment has no id (deployment_id), so a re-delivery could not be recognised.")


# ---- small readers ------------------------------------------------------------------------------
def _label_state(labels: set[str], label_states: dict[str, str]) -> str:
    """The state of the label listed last in label_states among `labels` (lower-cased), else Open."""
    state = OPEN
    for label, mapped in label_states.items():
        if label.strip().lower() in labels:
            state = mapped
    return state


def _titles(labels: Any) -> set[str]:
    """Lower-cased label names: webhooks list {title}, the issues API plain names."""
    if not isinstance(labels, list):
        return set()
    names = (x.get("title") or x.get("name") if isinstance(x, dict) else x for x in labels)
    return {n.strip().lower() for n in names if isinstance(n, str) and n.strip()}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _username(user: Any) -> str | None:
    name = user.get("username") if isinstance(user, dict) else None
    return name if isinstance(name, str) and name else None


def _first_username(users: Any, single: Any) -> str | None:
    found = [_username(u) for u in users] if isinstance(users, list) else [_username(single)]
    return next((u for u in found if u), None)


def _time(value: Any, where: str) -> str:
    """GitLab's timestamp as UTC ISO-8601 with 'Z'. The API writes 2018-08-20T13:38:20.077Z;
    webhooks also write '2017-09-15 16:50:55 UTC' and '2021-04-28 21:50:00 +0200'."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{where} is missing.")
    try:
        return _iso(_parse(value))
    except ValueError:
        raise Unmappable(f"{where} '{value}' is not a timestamp with a UTC offset.") from None
    except OverflowError:
        raise Unmappable(f"{where} '{value}' is out of range once converted to UTC.") from None


def _parse(value: str) -> datetime:
    text = value.strip()
    if text.endswith(" UTC"):
        text = text[:-4] + "+00:00"
    text = re.sub(r"^(\d{4}-\d{2}-\d{2}) ", r"\1T", text)
    text = re.sub(r" ([+-]\d{2}:?\d{2})$", r"\1", text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")

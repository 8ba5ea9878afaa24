"""GitHub: issues, Projects status and deployments as v1 events.

Webhooks (``from_webhook``; the event name is the ``X-GitHub-Event`` header):

- ``issues``: a ticket ``owner/repo#number`` on the board ``owner/repo``.
  opened -> creation into "Open"; closed -> "Closed", or "Not Planned" when GitHub's
  ``state_reason`` is not_planned or duplicate; reopened -> back to the state its labels give;
  labeled/unlabeled -> the state its labels give, through ``label_states``;
  assigned/unassigned -> a reassignment (from_state = to_state = the current state).
  "Open" and "Closed" are GitHub's own words and aliases of Backlog and Done in the built-in
  workflow. "Not Planned" is deliberately no alias: work dropped is not work delivered, so it
  leaves WIP without counting as throughput or lead time (alias it to a done state to count it).
- ``projects_v2_item`` edited: a change of the project's Status field (``status_field``) ->
  a transition of the item (``content_node_id``) on the board ``org/projects/number``.
- ``deployment_status``: success -> a "success" deploy, failure or error -> "failure";
  pending, queued, in_progress and inactive are not finished deploys and give nothing.
- ``issues`` of an issue carrying ``incident_label`` (when set) are also incidents, beside their
  transitions (an incident ticket is work on the board too): opened -> ``opened`` at
  ``created_at``; labeled with it -> ``opened`` at ``created_at`` too (the same event as an
  opening that carried the label, so they land once); closed -> ``resolved`` at ``closed_at``,
  whatever the state_reason (the incident is over); reopened -> ``opened`` at ``updated_at``.
  incident_id ``github:<owner/repo#number>``; service: the name after ``service_label_prefix``
  on one of its labels (``service:payments`` -> payments), else the repository's ``full_name``;
  severity: the name after ``severity:`` on a label; title and url: the issue's.
- ``pull_request``, ``push`` and everything else give nothing: v1 has no commit event
  (see ``merged_commit``).

The state of an open issue is a function of its labels: the state of the label listed last in
``label_states`` (list it in flow order) among those it carries, else "Open". Label changes of
a closed issue give nothing: it stays closed until reopened.

Saved timelines (``iter_import``) replay the same rules over the issue's history.

event_id: the change's own identity, the same for a webhook, its re-delivery, a second hook
(repository and organization hooks both sending) and an import of the same change:
``gh-<issue id>-<change>-<at>``, ``gh-deployment-status-<id>``, ``gh-pv2-<item id>-...``.
The ``X-GitHub-Delivery`` GUID is used only when a payload lacks the object's id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sources.adapters import Mapped, Unmappable
from sources.adapters.incidents import incident

SOURCE = "github"
OPEN = "Open"
CLOSED = "Closed"
NOT_PLANNED = "Not Planned"
DEFAULT_STATUS_FIELD = "Status"
_NOT_DELIVERED = ("not_planned", "duplicate")  # issue state_reason values that are not done work
_DEPLOY_STATUS = {"success": "success", "failure": "failure", "error": "failure"}
_UNFINISHED = ("pending", "queued", "in_progress", "inactive")
_ISSUE_ACTIONS = ("opened", "closed", "reopened", "labeled", "unlabeled", "assigned", "unassigned")


def from_webhook(
    event: str,
    payload: dict,
    delivery: str | None = None,
    *,
    label_states: dict[str, str] | None = None,
    status_field: str = DEFAULT_STATUS_FIELD,
    incident_label: str | None = None,
    service_label_prefix: str = "service:",
) -> Mapped:
    """The v1 events one GitHub webhook delivery says; [] when it says nothing flowmeter measures."""
    if not isinstance(payload, dict):
        raise Unmappable("the GitHub payload is not a JSON object.")
    if event == "issues":
        events = _issues(payload, delivery, label_states or {})
        if incident_label:
            events += _issue_incident(payload, incident_label, service_label_prefix)
        return events
    if event == "projects_v2_item":
        return _project_item(payload, delivery, status_field)
    if event == "deployment_status":
        return _deployment_status(payload, delivery)
    return []


def merged_commit(payload: dict) -> tuple[str, str] | None:
    """(merge commit sha, merged_at) of a merged pull_request payload, else None.

    This is the commit time change lead time needs, but v1 has no commit event to carry it and
    a deploy only knows the sha it deployed; kept here for a future ``flow.commits`` topic.
    """
    pr = payload.get("pull_request") if isinstance(payload, dict) else None
    if payload.get("action") != "closed" or not isinstance(pr, dict) or not pr.get("merged"):
        return None
    sha, merged_at = pr.get("merge_commit_sha"), pr.get("merged_at")
    if not isinstance(sha, str) or not sha:
        raise Unmappable("the merged pull_request has no merge_commit_sha.")
    return sha, _time(merged_at, "pull_request.merged_at")


# ---- issues ----------------------------------------------------------------------------------
class _Issue:
    """What every transition of one issue shares: ticket, board, type, and the id to key changes on."""

    def __init__(self, issue: Any, repo: str | None, delivery: str | None = None) -> None:
        if not isinstance(issue, dict):
            raise Unmappable("there is no issue object where one was expected.")
        number = issue.get("number")
        if not isinstance(number, int) or isinstance(number, bool):
            raise Unmappable("the issue has no number, so the ticket cannot be named.")
        repo = repo or _repo_from_url(issue.get("repository_url"))
        if not repo:
            raise Unmappable(f"issue #{number} names no repository (no repository.full_name or repository_url).")
        self.issue = issue
        self.ticket_id = f"{repo}#{number}"
        self.board = repo
        self.ticket_type = _ticket_type(issue)
        self.key = _key(issue.get("id"), delivery, f"issue {self.ticket_id}")

    def transition(
        self,
        change: str,
        from_state: str | None,
        to_state: str,
        at: str,
        actor: str | None,
        assignee: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        return "transition", {
            "event_id": f"{self.key}-{change}" if change == "opened" else f"{self.key}-{change}-{at}",
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


def _issues(payload: dict, delivery: str | None, label_states: dict[str, str]) -> Mapped:
    action = payload.get("action")
    if action not in _ISSUE_ACTIONS:
        return []
    repository = payload.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    it = _Issue(payload.get("issue"), repo, delivery)
    issue, actor = it.issue, _login(payload.get("sender"))
    labels = _label_names(issue.get("labels"))
    closed = _closed_state(issue.get("state_reason")) if issue.get("state") == "closed" else None
    if action == "opened":
        at = _time(issue.get("created_at"), "issue.created_at")
        return [it.transition("opened", None, OPEN, at, actor, _login(issue.get("assignee")))]
    if action == "closed":
        at = _time(issue.get("closed_at") or issue.get("updated_at"), "issue.closed_at")
        return [it.transition("closed", _label_state(labels, label_states), closed or CLOSED, at, actor)]
    at = _time(issue.get("updated_at"), "issue.updated_at")
    if action == "reopened":  # how it had been closed is not in the payload
        return [it.transition("reopened", CLOSED, _label_state(labels, label_states), at, actor)]
    if action in ("labeled", "unlabeled"):
        name = _label_name(payload.get("label"), f"the issues {action} payload")
        return [] if closed else _label_change(it, action, name, labels, label_states, at, actor)
    return _reassignment(it, payload, action, closed or _label_state(labels, label_states), at, actor)


def _issue_incident(payload: dict, incident_label: str, service_prefix: str) -> Mapped:
    """The incident event of an issues action on an issue carrying `incident_label`, else []."""
    action, issue = payload.get("action"), payload.get("issue")
    if action not in ("opened", "labeled", "closed", "reopened") or not isinstance(issue, dict):
        return []
    label = incident_label.strip().lower()
    raw_labels = issue["labels"] if isinstance(issue.get("labels"), list) else []
    names = [n.strip() for n in (x.get("name") if isinstance(x, dict) else x for x in raw_labels) if isinstance(n, str)]
    if label not in {n.lower() for n in names}:
        return []
    if action == "labeled" and (
        _label_name(payload.get("label"), "the issues labeled payload") != label or issue.get("state") == "closed"
    ):
        return []
    repository = payload.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    it = _Issue(issue, repo)
    if action in ("opened", "labeled"):
        status, at = "opened", _time(issue.get("created_at"), "issue.created_at")
    elif action == "closed":
        status, at = "resolved", _time(issue.get("closed_at") or issue.get("updated_at"), "issue.closed_at")
    else:
        status, at = "opened", _time(issue.get("updated_at"), "issue.updated_at")
    return [
        incident(
            SOURCE,
            f"{SOURCE}:{it.ticket_id}",
            status,
            at,
            _after_prefix(names, service_prefix) or it.board,
            severity=_after_prefix(names, "severity:"),
            title=issue.get("title") if isinstance(issue.get("title"), str) else None,
            url=issue.get("html_url") if isinstance(issue.get("html_url"), str) else None,
        )
    ]


def _after_prefix(names: list[str], prefix: str) -> str | None:
    """'payments' of a label 'service:payments' (prefix compared without case), else None."""
    wanted = prefix.strip().lower()
    for name in names:
        if wanted and name.lower().startswith(wanted) and name[len(wanted) :].strip():
            return name[len(wanted) :].strip()
    return None


def _label_change(
    it: _Issue, action: str, name: str, labels: set[str], label_states: dict[str, str], at: str, actor: str | None
) -> Mapped:
    """GitHub lists the labels after the change; the state before is that of the labels without it."""
    without, with_it = labels - {name}, labels | {name}
    before, after = (without, with_it) if action == "labeled" else (with_it, without)
    old, new = _label_state(before, label_states), _label_state(after, label_states)
    return [] if old == new else [it.transition(f"{action}-{name}", old, new, at, actor)]


def _reassignment(it: _Issue, payload: dict, action: str, state: str, at: str, actor: str | None) -> Mapped:
    login = _login(payload.get("assignee"))
    if not login:
        raise Unmappable(f"the issues {action} payload has no assignee.login.")
    if action == "assigned":
        return [it.transition(f"assigned-{login}", state, state, at, actor, login)]
    remaining = [a for a in _logins(it.issue.get("assignees"), it.issue.get("assignee")) if a != login]
    if not remaining:
        return []  # v1 cannot say "nobody": the last assignee stays the responsible party
    return [it.transition(f"unassigned-{login}", state, state, at, actor, remaining[0])]


def _label_state(labels: set[str], label_states: dict[str, str]) -> str:
    """The state of the label listed last in label_states among `labels` (lower-cased), else Open."""
    state = OPEN
    for label, mapped in label_states.items():
        if label.strip().lower() in labels:
            state = mapped
    return state


def _closed_state(state_reason: Any) -> str:
    return NOT_PLANNED if state_reason in _NOT_DELIVERED else CLOSED


def _ticket_type(issue: dict) -> str:
    kind = issue.get("type")  # GitHub issue types (Bug, Feature, Task, ...) where the org uses them
    if isinstance(kind, dict) and isinstance(kind.get("name"), str) and kind["name"].strip():
        return kind["name"].strip()
    return "pull_request" if issue.get("pull_request") else "issue"


# ---- Projects (v2) ---------------------------------------------------------------------------
def _project_item(payload: dict, delivery: str | None, status_field: str) -> Mapped:
    changes = payload.get("changes")
    value = changes.get("field_value") if isinstance(changes, dict) else None
    if payload.get("action") != "edited" or not isinstance(value, dict):
        return []
    # Older payloads (and some GitHub Enterprise Server versions) carry only field_node_id and
    # field_type: which field changed, and to which option, needs a GraphQL lookup an adapter
    # (a pure function of the payload) cannot make. Such edits give nothing.
    field = value.get("field_name")
    if not isinstance(field, str) or field.strip().lower() != status_field.strip().lower():
        return []
    to_state, from_state = _option_name(value.get("to")), _option_name(value.get("from"))
    if to_state is None or (value.get("from") is not None and from_state is None):
        return []  # the status was cleared (v1 has no "no state"), or the option names are absent
    item = payload.get("projects_v2_item")
    if not isinstance(item, dict):
        raise Unmappable("the projects_v2_item payload has no projects_v2_item object.")
    content = item.get("content_node_id")
    if not isinstance(content, str) or not content:
        raise Unmappable("the projects_v2_item has no content_node_id, so the ticket cannot be named.")
    at = _time(item.get("updated_at"), "projects_v2_item.updated_at")
    key = _key(item.get("id"), delivery, "the projects_v2_item", "pv2")
    return [
        (
            "transition",
            {
                "event_id": f"{key}-{value.get('field_node_id') or field}-{to_state}-{at}",
                "ticket_id": content,
                "board": _project_board(payload, value, item),
                "from_state": from_state,
                "to_state": to_state,
                "at": at,
                "assignee": None,
                "ticket_type": _content_type(item.get("content_type")),
                "actor": _login(payload.get("sender")),
                "source": SOURCE,
            },
        )
    ]


def _option_name(option: Any) -> str | None:
    name = option.get("name") if isinstance(option, dict) else None
    if isinstance(name, dict):  # the REST field shape {raw, html}
        name = name.get("raw")
    return name.strip() if isinstance(name, str) and name.strip() else None


def _project_board(payload: dict, value: dict, item: dict) -> str:
    org, number = _login(payload.get("organization")), value.get("project_number")
    if org and isinstance(number, int):
        return f"{org}/projects/{number}"
    node = item.get("project_node_id")
    if not isinstance(node, str) or not node:
        raise Unmappable("the projects_v2_item names no project (no project_number nor project_node_id).")
    return node


def _content_type(kind: Any) -> str | None:
    return {"Issue": "issue", "PullRequest": "pull_request", "DraftIssue": "draft_issue"}.get(kind)


# ---- deployments -----------------------------------------------------------------------------
def _deployment_status(payload: dict, delivery: str | None) -> Mapped:
    status, deployment = payload.get("deployment_status"), payload.get("deployment")
    if not isinstance(status, dict) or not isinstance(deployment, dict):
        raise Unmappable("the deployment_status payload lacks its deployment_status or deployment object.")
    state = status.get("state")
    if state in _UNFINISHED:
        return []
    if state not in _DEPLOY_STATUS:
        raise Unmappable(
            f"deployment_status.state '{state}' is none of success, failure, error, {', '.join(_UNFINISHED)}."
        )
    repository = payload.get("repository")
    service = repository.get("full_name") if isinstance(repository, dict) else None
    environment = status.get("environment") or deployment.get("environment")
    if not isinstance(service, str) or not service:
        raise Unmappable("the deployment_status payload has no repository.full_name to name the service.")
    if not isinstance(environment, str) or not environment.strip():
        raise Unmappable("the deployment names no environment.")
    at = _time(status.get("updated_at") or status.get("created_at"), "deployment_status.updated_at")
    started = deployment.get("created_at")
    started = _time(started, "deployment.created_at") if started else None
    if started is not None and _parse(started) > _parse(at):
        started = None  # clocks disagree; a start after the end would reject the whole deploy
    sha, extra = deployment.get("sha"), _deployment_extra(deployment.get("payload"))
    commits = extra.get("commits", [])
    if isinstance(sha, str) and sha and sha not in {c["sha"] for c in commits}:
        commits = [{"sha": sha, "committed_at": None}, *commits]  # commit time unknown here
    return [
        (
            "deploy",
            {
                "event_id": _key(status.get("id"), delivery, "the deployment_status", "deployment-status"),
                "service": service,
                "environment": environment.strip(),
                "status": _DEPLOY_STATUS[state],
                "at": at,
                "started_at": started,
                "version": sha[:12] if isinstance(sha, str) and sha else deployment.get("ref"),
                "commits": commits,
                "tickets": extra.get("tickets", []),
                "source": SOURCE,
            },
        )
    ]


def _deployment_extra(extra: Any) -> dict[str, list]:
    """`tickets` and `commits` a deployment was created with in its `payload` (optional, v1 shapes)."""
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return {}
    if not isinstance(extra, dict):
        return {}
    out: dict[str, list] = {}
    tickets = extra.get("tickets")
    if tickets is not None:
        if not isinstance(tickets, list) or not all(isinstance(t, str) and t.strip() for t in tickets):
            raise Unmappable("deployment.payload.tickets must be a list of ticket ids such as 'acme/api#12'.")
        out["tickets"] = [t.strip() for t in tickets]
    commits = extra.get("commits")
    if commits is not None:
        if not isinstance(commits, list) or not all(
            isinstance(c, dict) and isinstance(c.get("sha"), str) and c["sha"] for c in commits
        ):
            raise Unmappable("deployment.payload.commits must be a list of {sha, committed_at} objects.")
        out["commits"] = [
            {
                "sha": c["sha"],
                "committed_at": _time(c["committed_at"], "deployment.payload.commits")
                if c.get("committed_at")
                else None,
            }
            for c in commits
        ]
    return out


# ---- backfill: saved issue timelines ---------------------------------------------------------
def iter_import(
    path: Path, *, repo: str | None = None, label_states: dict[str, str] | None = None
) -> Iterator[tuple[str, dict] | Unmappable]:
    """The v1 events of saved issues, streamed; an issue that cannot be mapped yields an Unmappable.

    The file holds, for each issue, the JSON of ``GET /repos/{o}/{r}/issues/{n}`` followed by
    that of ``GET /repos/{o}/{r}/issues/{n}/timeline`` (one array, or one per page), as
    concatenated curl output; or JSON Lines of ``{"issue": {...}, "timeline": [...]}``.
    """
    for line, issue, timeline in _issue_records(_json_values(Path(path))):
        try:
            if isinstance(issue, Unmappable):
                raise issue
            yield from _replay(issue, timeline, repo, label_states or {})
        except Unmappable as exc:
            yield Unmappable(f"line {line}: {exc}")


def from_timeline(
    issue: dict,
    timeline: list,
    *,
    repo: str | None = None,
    label_states: dict[str, str] | None = None,
    incident_label: str | None = None,
    service_label_prefix: str = "service:",
) -> Mapped:
    """The transitions of one issue and its whole timeline (REST ``GET .../issues/{n}`` and
    ``.../issues/{n}/timeline``), with the event_ids the webhooks of the same changes get:
    what ``iter_import`` and ``flowmeter sync github`` both map. With ``incident_label``, also
    the incident events the ``issues`` webhooks of those changes give."""
    events = _replay(issue, timeline, repo, label_states or {})
    if incident_label:
        events += _replay_incident(issue, timeline, repo, incident_label, service_label_prefix)
    return events


def _replay_incident(issue: dict, timeline: list, repo: str | None, incident_label: str, service_prefix: str) -> Mapped:
    """The incident events of an issue's timeline, as ``_issue_incident`` gives them per webhook:
    labelled while open -> opened at created_at (the labels an issue is opened with are
    ``labeled`` entries too); closed while labelled -> resolved; reopened while labelled -> opened."""
    it = _Issue(issue, repo)
    wanted = incident_label.strip().lower()
    created = _time(issue.get("created_at"), "issue.created_at")
    labels: list[str] = []  # as GitHub spells them, for the service and severity prefixes
    closed = False
    pending: list[tuple[str, str]] = []  # (status, at) of this instant, made once its labels are all known
    out: Mapped = []
    entries = _timeline_entries(timeline, it.ticket_id)
    for index, (at, entry) in enumerate(entries):
        kind, name = entry["event"], ""
        if kind in ("labeled", "unlabeled"):
            label = entry.get("label")
            raw = label.get("name") if isinstance(label, dict) else None
            name = raw.strip() if isinstance(raw, str) else ""
            labels = [x for x in labels if x.lower() != name.lower()] + ([name] if kind == "labeled" else [])
        carried = wanted in {x.lower() for x in labels}
        if kind == "labeled" and not closed and name.lower() == wanted:
            pending.append(("opened", created))
        elif kind == "closed" and not closed:
            closed = True
            pending += [("resolved", at)] if carried else []
        elif kind == "reopened" and closed:
            closed = False
            pending += [("opened", at)] if carried else []
        if pending and (index + 1 == len(entries) or entries[index + 1][0] != at):
            # The labels as of the end of this instant: those an issue is opened with are listed one
            # entry each at its created_at, and the webhook of the opening sees them all.
            service = _after_prefix(labels, service_prefix) or it.board
            for status, when in pending:
                event = incident(
                    SOURCE,
                    f"{SOURCE}:{it.ticket_id}",
                    status,
                    when,
                    service,
                    severity=_after_prefix(labels, "severity:"),
                    title=issue.get("title") if isinstance(issue.get("title"), str) else None,
                    url=issue.get("html_url") if isinstance(issue.get("html_url"), str) else None,
                )
                if event[1]["event_id"] not in {e["event_id"] for _, e in out}:  # relabelled: the same opening
                    out.append(event)
            pending = []
    return out


def from_deployment_status(deployment: dict, status: dict, repo: str | None = None) -> Mapped:
    """The deploy of one status of a deployment as REST lists them (``GET .../deployments`` and
    ``.../deployments/{id}/statuses``): the event the ``deployment_status`` webhook of that status gives."""
    full_name = _repo_from_url(deployment.get("repository_url") if isinstance(deployment, dict) else None) or repo
    payload = {"deployment_status": status, "deployment": deployment, "repository": {"full_name": full_name}}
    return _deployment_status(payload, None)


def _replay(issue: Any, timeline: Any, repo: str | None, label_states: dict[str, str]) -> Mapped:
    if isinstance(issue, list):
        raise Unmappable("found a timeline array where an issue object was expected.")
    if _is_error(issue):
        raise Unmappable(f"GitHub answered '{issue['message']}' instead of an issue; check the URL and token.")
    it = _Issue(issue, repo)
    if _is_error(timeline):
        raise Unmappable(f"the timeline request of {it.ticket_id} answered '{timeline['message']}'.")
    if not isinstance(timeline, list):
        raise Unmappable(f"{it.ticket_id} is not followed by its timeline array; save both responses.")
    created = _time(issue.get("created_at"), "issue.created_at")
    out = [it.transition("opened", None, OPEN, created, _login(issue.get("user")))]
    labels: set[str] = set()
    assignees: list[str] = []
    closed: str | None = None
    for at, entry in _timeline_entries(timeline, it.ticket_id):
        kind, actor = entry["event"], _login(entry.get("actor"))
        current = closed or _label_state(labels, label_states)
        if kind in ("labeled", "unlabeled"):
            name = _label_name(entry.get("label"), f"timeline event {entry.get('id')}")
            labels = labels | {name} if kind == "labeled" else labels - {name}
            new = _label_state(labels, label_states)
            if not closed and new != current:
                out.append(it.transition(f"{kind}-{name}", current, new, at, actor))
        elif kind in ("assigned", "unassigned"):
            login = _login(entry.get("assignee"))
            if not login:
                raise Unmappable(f"timeline event {entry.get('id')} ({kind}) of {it.ticket_id} has no assignee.login.")
            assignees = [a for a in assignees if a != login] + ([login] if kind == "assigned" else [])
            party = login if kind == "assigned" else (assignees[0] if assignees else None)
            if party:
                out.append(it.transition(f"{kind}-{login}", current, current, at, actor, party))
        elif kind == "closed" and not closed:
            closed = _closed_state(entry.get("state_reason"))
            out.append(it.transition("closed", current, closed, at, actor))
        elif kind == "reopened" and closed:
            closed = None
            out.append(it.transition("reopened", current, _label_state(labels, label_states), at, actor))
    return out


_REPLAYED = ("labeled", "unlabeled", "assigned", "unassigned", "closed", "reopened")


def _timeline_entries(timeline: list, ticket: str) -> list[tuple[str, dict]]:
    """(at, entry) of the timeline events that move state or owner, oldest first."""
    entries = []
    for entry in timeline:
        if isinstance(entry, dict) and entry.get("event") in _REPLAYED:
            where = f"timeline event {entry.get('id')} ({entry['event']}) of {ticket}"
            entries.append((_time(entry.get("created_at"), f"{where}: created_at"), entry))
    entries.sort(key=lambda pair: _parse(pair[0]))  # stable: same-instant events keep GitHub's order
    return entries


def _issue_records(values: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any, Any]]:
    """(line, issue, timeline) from the file's values: an issue then its timeline page(s), or one
    {"issue", "timeline"} object. timeline is None when missing, a dict when GitHub sent an error."""
    line, issue = 0, None
    pages: list[Any] | dict[str, Any] | None = None  # the timeline's events, or the error its request got
    for where, value in values:
        if isinstance(value, Unmappable):
            if issue is not None:
                yield line, issue, pages
            yield where, value, None
            return
        if isinstance(value, list) and issue is not None and not isinstance(pages, dict):
            pages = (pages or []) + value  # one array per page of the timeline
            continue
        if issue is not None and pages is None and _is_error(value):
            pages = value  # the timeline request failed
            continue
        if issue is not None:
            yield line, issue, pages
            issue, pages = None, None
        if isinstance(value, dict) and "issue" in value and "timeline" in value:
            yield where, value["issue"], value["timeline"]
        else:
            line, issue = where, value
    if issue is not None:
        yield line, issue, pages


_WHITESPACE = re.compile(r"\s*")
_CHUNK = 1 << 20


def _json_values(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, value) for each JSON value in the file, read in chunks: never the whole file at once.
    Text that is not JSON ends the stream with an Unmappable in place of a value."""
    decoder = json.JSONDecoder()
    with path.open("r", encoding="utf-8") as handle:
        buffer, pos, eof = "", 0, False
        line, counted = 1, 0  # line number at buffer[counted]
        while True:
            blank = _WHITESPACE.match(buffer, pos)
            assert blank is not None  # \s* matches anywhere, if only the empty string
            pos = blank.end()
            if pos < len(buffer):
                try:
                    value, end = decoder.raw_decode(buffer, pos)
                except json.JSONDecodeError as exc:
                    if eof:
                        yield (
                            line + buffer.count("\n", counted, exc.pos),
                            Unmappable(f"the file is not JSON here ({exc.msg}); the rest is not read."),
                        )
                        return
                else:  # a number at the end of the buffer may continue in the next chunk
                    if eof or end < len(buffer) or isinstance(value, (dict, list)):
                        line, counted = line + buffer.count("\n", counted, pos), pos
                        yield line, value
                        pos = end
                        continue
            elif eof:
                return
            line, counted = line + buffer.count("\n", counted, pos), 0
            try:
                more = handle.read(max(_CHUNK, len(buffer) - pos))
            except UnicodeDecodeError:
                yield line, Unmappable("the file is not UTF-8 text; the rest is not read.")
                return
            buffer, pos, eof = buffer[pos:] + more, 0, not more


# ---- small readers ---------------------------------------------------------------------------
def _key(object_id: Any, delivery: str | None, what: str, kind: str = "") -> str:
    """'gh-[kind-]<id>' from the object's own id, else from the delivery GUID (stable under re-delivery)."""
    prefix = f"gh-{kind}-" if kind else "gh-"
    if isinstance(object_id, (int, str)) and not isinstance(object_id, bool) and str(object_id):
        return f"{prefix}{object_id}"
    if delivery:
        return f"{prefix}{delivery}"
    raise Unmappable(f"{what} has no id and there is no X-GitHub-Delivery, so a re-delivery could not be recognised.")


def _time(value: Any, where: str) -> str:
    """GitHub's timestamp as UTC ISO-8601 with 'Z' (one spelling, so ids built from it agree)."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{where} is missing.")
    try:
        moment = _parse(value)
    except ValueError:
        raise Unmappable(f"{where} '{value}' is not an ISO-8601 timestamp with a UTC offset.") from None
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the last moment Python can hold in UTC
        raise Unmappable(f"{where} '{value}' is out of range once converted to UTC.") from None
    return moment.isoformat().replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment.astimezone(UTC)


def _login(user: Any) -> str | None:
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def _logins(users: Any, first: Any) -> list[str]:
    found = [_login(u) for u in users] if isinstance(users, list) else [_login(first)]
    return [login for login in found if login]


def _label_names(labels: Any) -> set[str]:
    if not isinstance(labels, list):
        return set()
    names = (label.get("name") if isinstance(label, dict) else label for label in labels)
    return {name.strip().lower() for name in names if isinstance(name, str) and name.strip()}


def _label_name(label: Any, where: str) -> str:
    name = label.get("name") if isinstance(label, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise Unmappable(f"{where} has no label.name.")
    return name.strip().lower()


def _repo_from_url(url: Any) -> str | None:
    """'owner/name' from https://api.github.com/repos/owner/name (or a GHES .../api/v3/repos/...)."""
    if not isinstance(url, str) or "/repos/" not in url:
        return None
    parts = url.rsplit("/repos/", 1)[1].strip("/").split("/")
    return f"{parts[0]}/{parts[1]}" if len(parts) >= 2 and parts[0] and parts[1] else None


def _is_error(value: Any) -> bool:
    """GitHub's error body, e.g. {"message": "Not Found", "documentation_url": ..., "status": "404"}."""
    return isinstance(value, dict) and isinstance(value.get("message"), str) and "number" not in value

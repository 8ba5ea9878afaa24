"""Jira: issue webhooks and saved search results -> v1 transitions.

Live: ``from_webhook(payload)`` maps ``jira:issue_created`` (the creation) and
``jira:issue_updated`` (a status change, a reassignment) as Atlassian documents them.
Backfill: ``from_issue(issue)`` maps one issue of ``GET /rest/api/3/search/jql?expand=changelog``
(or ``/rest/api/2/search`` on Data Center) to its whole history, and ``iter_import(path)``
streams a saved results file issue by issue.

One event per Jira change history (one edit), never one per item: an edit that moves the
status and reassigns at once is one transition carrying the new assignee. Its event_id is
``jira-{issue id}-{history id}`` (the creation: ``jira-{issue id}-created``). The webhook's
``changelog.id`` is the REST history id, so a re-delivered webhook, a re-run import and an
import of a change already seen live all give the same id and land once. The id does not use
the item's position: REST leaves out items of fields the caller may not see, which would
shift positions between the two paths.

A reassignment (assignee, or the team field when ``team_field`` names one) becomes a
transition to the state the issue is in (from_state = to_state): that is how handoffs are
seen. Unassigning alone says nothing v1 can carry (a null assignee means "unchanged") and
is skipped. The webhook payload has no change time, so ``at`` is its ``timestamp``; an import
uses the history's ``created``: the two differ by milliseconds, and the id decides.

Issues of the types in ``incident_types`` (e.g. Incident) are also incidents, beside their
transitions (the incident ticket is work on the board too, and its status changes are how the
team's work on it is seen): ``issue_created`` -> ``opened`` at ``fields.created``; a status
change -> ``resolved`` when the new status's category (``fields.status.statusCategory.key``)
is ``done``, else ``opened`` (a reopen when it was resolved; while it is open, an ``opened``
repeats what the views already know, since an incident opens at its first ``opened``).
incident_id ``jira:<key>``; service: the value of ``service_field`` (a custom field id) where
set, else the first component's name, else the project key; severity: the priority's name;
title: the summary. The webhook gives the status's category, the changelog does not: so an
import of history maps no incidents (its changes name statuses without their categories).

Jira caps the changelog embedded in search results (Cloud: the newest 20-100 entries).
A truncated one would give a wrong creation state and missing visits, so ``from_issue``
refuses it with a reason; ``with_changelog(issue, pages)`` splices the complete
``GET /rest/api/3/issue/{key}/changelog`` pages in. A changelog page is not mapped on its own:
it lacks the project, type, current status and the changes before it, which the board, the
creation and the state of a reassignment need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

from sources.adapters import Mapped, Unmappable
from sources.adapters.incidents import incident

SOURCE = "jira"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JIRA_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})$")
_SEARCH_KEYS = {"issues", "startAt", "maxResults", "total", "nextPageToken", "isLast"}
_ISSUE_KEYS = {"id", "key", "self", "fields", "changelog"}


# -- webhooks -------------------------------------------------------------------------------


def from_webhook(
    payload: dict[str, Any],
    team_field: str | None = None,
    *,
    incident_types: list[str] | None = None,
    service_field: str | None = None,
) -> Mapped:
    """v1 events for one Jira webhook delivery; ``[]`` for events flowmeter does not measure."""
    if not isinstance(payload, dict):
        raise Unmappable("the Jira webhook body is not a JSON object.")
    events = _transitions(payload, team_field)
    if incident_types:
        events += _incident(payload, events, {t.strip().lower() for t in incident_types}, service_field)
    return events


def _incident(payload: dict[str, Any], transitions: Mapped, types: set[str], service_field: str | None) -> Mapped:
    """The incident event of a creation or a status change of an issue of an incident type, else []."""
    issue = payload.get("issue")
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if (
        not transitions
        or not isinstance(fields, dict)
        or (_attr(fields.get("issuetype"), "name") or "").lower() not in types
    ):
        return []
    ((_, moved),) = transitions
    created = payload.get("webhookEvent") == "jira:issue_created"
    if not created and moved["from_state"] == moved["to_state"]:
        return []  # a reassignment: the incident's status did not change
    category = fields.get("status", {}).get("statusCategory") if isinstance(fields.get("status"), dict) else None
    done = isinstance(category, dict) and category.get("key") == "done"
    status = "resolved" if done and not created else "opened"
    if created and done:
        status = "opened"  # created straight into done: it opened, and nothing says when it ended
    at = moved["at"]
    service = (_team(fields.get(service_field)) if service_field else None) or _component(fields) or moved["board"]
    return [
        incident(
            SOURCE,
            f"{SOURCE}:{moved['ticket_id']}",
            status,
            at,
            service,
            severity=_attr(fields.get("priority"), "name"),
            title=_clean(fields.get("summary")),
            event_id=f"{moved['event_id']}-incident",
        )
    ]


def _component(fields: dict[str, Any]) -> str | None:
    components = fields.get("components")
    return _attr(components[0], "name") if isinstance(components, list) and components else None


def _transitions(payload: dict[str, Any], team_field: str | None) -> Mapped:
    kind = payload.get("webhookEvent")
    if kind not in ("jira:issue_created", "jira:issue_updated"):
        return []
    issue = _issue(payload.get("issue"), team_field, f"the {kind} webhook")
    actor = _name(payload.get("user"))
    if kind == "jira:issue_created":
        created = issue.fields.get("created")
        at = _jira_time(created, f"{issue.key}'s created") if created is not None else _timestamp(payload, issue)
        return [
            _transition(
                issue, f"jira-{issue.id}-created", None, issue.require_status(), at, issue.assignee, issue.team, actor
            )
        ]
    changelog = payload.get("changelog")
    if not isinstance(changelog, dict):
        return []
    change = _change(changelog.get("items"), team_field, issue.key)
    if not change.measured:
        return []
    history_id = _text_id(changelog.get("id"), f"{issue.key}'s changelog.id")
    at = _timestamp(payload, issue)
    from_state, to_state = change.status or (issue.require_status(),) * 2
    assignee = change.assignee[1] if change.assignee else issue.assignee
    return [_transition(issue, f"jira-{issue.id}-{history_id}", from_state, to_state, at, assignee, issue.team, actor)]


# -- backfill -------------------------------------------------------------------------------


def from_issue(
    issue: dict[str, Any], team_field: str | None = None, histories: list[dict[str, Any]] | None = None
) -> Mapped:
    """The whole history of one search-result issue: its creation, then every change, by time.

    ``histories`` (all of the issue's change histories) replaces the embedded changelog.
    """
    info = _issue(issue, team_field, "the issue")
    if histories is None:
        histories = _embedded_histories(issue, info.key)
    steps = sorted((_history(h, info.key, team_field, n) for n, h in enumerate(histories)), key=_Step.order)
    status = _first(steps, "status", info.require_status())
    assignee = _first(steps, "assignee", info.assignee)
    team = _first(steps, "team", info.team)
    created = _jira_time(info.fields.get("created"), f"{info.key}'s fields.created")
    creator = _name(info.fields.get("creator")) or _name(info.fields.get("reporter"))
    events = [_transition(info, f"jira-{info.id}-created", None, status, created, assignee, team, creator)]
    for step in steps:
        before = status
        change = step.change
        if change.status:
            status = change.status[1]
        if change.assignee:
            assignee = change.assignee[1]
        if change.team:
            team = change.team[1]
        if change.measured:
            from_state = change.status[0] if change.status else before
            events.append(
                _transition(info, f"jira-{info.id}-{step.id}", from_state, status, step.at, assignee, team, step.author)
            )
    return events


def with_changelog(issue: dict[str, Any], pages: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A copy of ``issue`` whose changelog holds every history of its ``/issue/{key}/changelog`` pages."""
    merged: dict[str, Any] = {}
    total = 0
    changelog = issue.get("changelog")
    embedded = changelog if isinstance(changelog, dict) else {}
    for page in [{"values": embedded.get("histories") or [], "total": embedded.get("total")}, *pages]:
        if isinstance(page.get("total"), int):
            total = max(total, page["total"])
        for history in page.get("values") or []:
            if isinstance(history, dict):
                merged[str(history.get("id"))] = history
    if len(merged) < total:
        raise Unmappable(
            f"the changelog pages of {issue.get('key')} hold {len(merged)} of its {total} changes; "
            f"fetch every page (startAt=0, {len(merged)}, ...) until isLast is true."
        )
    values = list(merged.values())
    return {**issue, "changelog": {"startAt": 0, "maxResults": len(values), "total": len(values), "histories": values}}


def iter_import(path: Path, team_field: str | None = None) -> Iterator[tuple[str, dict[str, Any]] | Unmappable]:
    """Stream a saved Jira search-results file: events per issue, an ``Unmappable`` per bad issue.

    Accepts the search-results object (``{"issues": [...], ...}``, several concatenated ones too),
    a JSON array of issues, or one issue per line. A file that is not JSON at all, or is a Jira
    error response, raises ``Unmappable``: nothing after the break can be read.
    """
    import ijson  # the only streaming parser we use; imported here so webhooks never need it

    prefix = _shape(path, ijson)
    with path.open("rb") as handle:
        number = 0
        try:
            for number, issue in enumerate(ijson.items(handle, prefix, multiple_values=True, use_float=True), 1):
                key = issue.get("key") if isinstance(issue, dict) else None
                try:
                    yield from from_issue(issue, team_field)
                except Unmappable as exc:
                    yield Unmappable(f"{path.name}, issue {number}{f' ({key})' if isinstance(key, str) else ''}: {exc}")
        except ijson.JSONError as exc:
            raise Unmappable(
                f"{path.name} stops being valid JSON after issue {number} ({exc}); "
                "the issues before it were read, the rest was not."
            ) from None


# -- the parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Issue:
    id: str
    key: str
    board: str
    ticket_type: str | None
    status: str | None
    assignee: str | None
    team: str | None
    fields: dict[str, Any]

    def require_status(self) -> str:
        if not self.status:
            raise Unmappable(f"issue {self.key} has no fields.status.name, so its state is unknown.")
        return self.status


@dataclass(frozen=True, slots=True)
class _Change:
    """What one change history did to the fields flowmeter follows: (from, to) pairs."""

    status: tuple[str, str] | None
    assignee: tuple[str | None, str | None] | None
    team: tuple[str | None, str | None] | None

    @property
    def measured(self) -> bool:
        """A status change, or a move to a new assignee or team (unassigning alone is not)."""
        return bool(self.status or (self.assignee and self.assignee[1]) or (self.team and self.team[1]))


@dataclass(frozen=True, slots=True)
class _Step:
    id: str
    at: str
    moment: datetime
    author: str | None
    change: _Change

    def order(self) -> tuple[datetime, int, str]:
        return self.moment, int(self.id) if self.id.isdigit() else 0, self.id


def _issue(issue: Any, team_field: str | None, where: str) -> _Issue:
    if not isinstance(issue, dict):
        raise Unmappable(f"{where} has no issue object.")
    key = issue.get("key")
    if not isinstance(key, str) or not key.strip():
        raise Unmappable(f"{where} has no issue.key, so the ticket cannot be named.")
    key = key.strip()
    fields = issue.get("fields")
    if not isinstance(fields, dict):
        raise Unmappable(
            f"issue {key} has no fields (a search must ask for fields=project,issuetype,status,"
            "assignee,created,creator and the team field)."
        )
    board = _attr(fields.get("project"), "key")
    if not board:
        raise Unmappable(f"issue {key} has no fields.project.key, so its board is unknown.")
    return _Issue(
        id=_text_id(issue.get("id"), f"issue {key}'s id"),
        key=key,
        board=board,
        ticket_type=_attr(fields.get("issuetype"), "name"),
        status=_attr(fields.get("status"), "name"),
        assignee=_name(fields.get("assignee")),
        team=_team(fields.get(team_field)) if team_field else None,
        fields=fields,
    )


def _change(items: Any, team_field: str | None, key: str) -> _Change:
    found: dict[str | None, list[dict[str, Any]]] = {}  # None: the items no field of ours follows
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            found.setdefault(_field_key(item, team_field), []).append(item)
    status = None
    if "status" in found:  # a history names a field once; should it repeat, first from -> last to
        first, last = found["status"][0].get("fromString"), found["status"][-1].get("toString")
        if not _nonempty(last):
            raise Unmappable(f"issue {key} has a status change without toString, so its new state is unknown.")
        if not _nonempty(first):
            raise Unmappable(f"issue {key} has a status change without fromString, so the state it left is unknown.")
        status = (first.strip(), last.strip())
    return _Change(status=status, assignee=_pair(found.get("assignee")), team=_pair(found.get("team")))


def _field_key(item: dict[str, Any], team_field: str | None) -> str | None:
    """'status', 'assignee' or 'team' for the items we follow, else None (custom fields by fieldId only)."""
    if team_field and item.get("fieldId") == team_field:
        return "team"
    if item.get("fieldtype", "jira") != "jira":
        return None
    name = item.get("fieldId") or item.get("field")
    return name if name in ("status", "assignee") else None


def _pair(items: list[dict[str, Any]] | None) -> tuple[str | None, str | None] | None:
    if not items:
        return None
    return _clean(items[0].get("fromString")), _clean(items[-1].get("toString"))


def _history(history: Any, key: str, team_field: str | None, index: int) -> _Step:
    if not isinstance(history, dict):
        raise Unmappable(f"issue {key}'s changelog entry {index} is not an object.")
    history_id = _text_id(history.get("id"), f"issue {key}'s changelog entry {index} id")
    at = _jira_time(history.get("created"), f"issue {key}'s change {history_id} created")
    return _Step(
        id=history_id,
        at=at,
        moment=datetime.fromisoformat(at).astimezone(UTC),
        author=_name(history.get("author")),
        change=_change(history.get("items"), team_field, key),
    )


def _embedded_histories(issue: dict[str, Any], key: str) -> list[Any]:
    changelog = issue.get("changelog")
    if not isinstance(changelog, dict):
        raise Unmappable(f"issue {key} has no changelog; search with expand=changelog.")
    histories = changelog.get("histories") or []
    if not isinstance(histories, list):
        raise Unmappable(f"issue {key}'s changelog.histories is not a list.")
    total = changelog.get("total")
    if isinstance(total, int) and total > len(histories):
        raise Unmappable(
            f"issue {key}'s changelog holds {len(histories)} of its {total} changes (Jira caps it in "
            f"search results); fetch GET /rest/api/3/issue/{key}/changelog and splice it in."
        )
    return histories


_Value = TypeVar("_Value", str, str | None)  # a status is always named; an assignee or team may be None


def _first(steps: list[_Step], name: str, current: _Value) -> _Value:
    """The value a field had at creation: what its earliest change moved it from, else what it is now."""
    for step in steps:
        pair = getattr(step.change, name)
        if pair:
            return pair[0]
    return current


def _transition(
    issue: _Issue,
    event_id: str,
    from_state: str | None,
    to_state: str,
    at: str,
    assignee: str | None,
    team: str | None,
    actor: str | None,
) -> tuple[str, dict[str, Any]]:
    return "transition", {
        "event_id": event_id,
        "ticket_id": issue.key,
        "board": issue.board,
        "from_state": from_state,
        "to_state": to_state,
        "at": at,
        "assignee": assignee,
        "team": team,
        "ticket_type": issue.ticket_type,
        "actor": actor,
        "source": SOURCE,
    }


def _shape(path: Path, ijson: Any) -> str:
    """The ijson prefix of the issues in this file, told from its first byte and top-level keys."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:].lstrip()
        if not head:
            raise Unmappable(f'{path.name} is empty; a saved Jira search holds {{"issues": [...]}}.')
        if head[:1] == b"[":
            return "item"
        if head[:1] != b"{":
            raise Unmappable(f"{path.name} is not JSON search results (it starts with {head[:20]!r}).")
        handle.seek(0)
        try:
            for prefix, event, value in ijson.parse(handle, multiple_values=True):
                if prefix == "" and event == "map_key":
                    if value == "errorMessages":
                        raise Unmappable(
                            f"{path.name} is a Jira error response, not search results; "
                            "check the credentials and the JQL, then fetch it again."
                        )
                    if value in _SEARCH_KEYS:
                        return "issues.item"
                    if value in _ISSUE_KEYS:
                        return ""
                elif prefix == "" and event == "end_map":
                    break
        except ijson.JSONError as exc:
            raise Unmappable(f"{path.name} is not valid JSON ({exc}).") from None
    raise Unmappable(f'{path.name} holds neither search results ({{"issues": [...]}}) nor issues.')


def _timestamp(payload: dict[str, Any], issue: _Issue) -> str:
    value = payload.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Unmappable(f"the webhook for {issue.key} has timestamp {value!r}, not epoch milliseconds.")
    try:
        moment = EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise Unmappable(f"the webhook for {issue.key} has timestamp {value!r}, outside any calendar.") from None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _jira_time(value: Any, what: str) -> str:
    """Jira's '2024-05-01T09:30:00.000+0200' as ISO-8601 with a colon in the offset."""
    match = _JIRA_TIME.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise Unmappable(f"{what} is {value!r}, not a Jira time such as 2024-05-01T09:30:00.000+0200.")
    offset = match.group(2)
    text = match.group(1) + (offset if offset == "Z" or ":" in offset else f"{offset[:3]}:{offset[3:]}")
    try:
        datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise Unmappable(f"{what} is {value!r}, which is not a real date and time.") from None
    except OverflowError:  # 9999-12-31T23:59:59.000-1400 is past the last moment Python can hold in UTC
        raise Unmappable(f"{what} is {value!r}, which is out of range once converted to UTC.") from None
    return text


def _text_id(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise Unmappable(f"{what} is missing, so the event has no stable id.")


def _team(value: Any) -> str | None:
    """A team custom field's value: a string, an option {value}, a team {name|title}, or a list of those."""
    if isinstance(value, list):
        return next((team for team in map(_team, value) if team), None)
    if isinstance(value, dict):
        return next((_clean(value[k]) for k in ("value", "name", "title") if _clean(value.get(k))), None)
    return _clean(value) if isinstance(value, str) else None


def _name(user: Any) -> str | None:
    return _attr(user, "displayName")


def _attr(obj: Any, name: str) -> str | None:
    return _clean(obj.get(name)) if isinstance(obj, dict) else None


def _clean(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _nonempty(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())

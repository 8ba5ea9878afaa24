"""Jira as a pull source: search pages of issues changed since a moment, each with its whole
changelog, mapped to v1 transitions by the Jira adapter (sources/adapters/jira.py).

Cloud: ``GET /rest/api/3/search/jql``, paged by ``nextPageToken`` until ``isLast``. Data
Center: ``GET /rest/api/2/search``, paged by ``startAt`` until ``total``. Which one is
``jira_deployment`` (cloud | datacenter), or, by default, what ``/rest/api/2/serverInfo``
says its ``deploymentType`` is ("Cloud", else Server / Data Center).

Search results cap each issue's embedded changelog; an issue whose changelog ``total`` is more
than it holds gets the rest from ``/rest/api/3/issue/{key}/changelog`` (Cloud, paged by
``startAt``) or ``/rest/api/2/issue/{key}?expand=changelog`` (Data Center, whole), so it is
mapped complete instead of skipped.

Incremental: JQL compares ``updated`` with a date in the *caller's* time zone, to the minute.
The pass asks ``updated >= "<since - overlap>"`` written in the zone ``/myself`` names; when
Jira names none, as a UTC clock less 14 hours (no zone is more than 12 hours behind UTC, so Jira
reads it as a moment at or before the one meant): a change is never missed. What is asked
twice has the same event_ids and lands once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowcore.events import ATTRIBUTES_MAX_BYTES
from flowcore.settings import Settings
from sources.adapters import Mapped, Unmappable
from sources.adapters import jira as adapter
from sources.pull.client import ApiClient

PAGE_SIZE = 100
_ORDER_BY = re.compile(r"\s+order\s+by\s+.*$", re.IGNORECASE | re.DOTALL)
_UNKNOWN_ZONE_MARGIN = timedelta(hours=14)
_BASE_FIELDS = [
    "project",
    "issuetype",
    "status",
    "assignee",
    "created",
    "creator",
    "reporter",
    "updated",
    "labels",
    "priority",
    "components",
    "parent",
]
# Custom fields found by name (their ids differ per site): what attributes keep of them.
_NAMED_FIELDS = {"flagged": "flagged", "story points": "story_points", "story point estimate": "story_points"}


@dataclass
class Page:
    """One page of a search: how many issues it held, their events, and why any was skipped."""

    issues: int
    events: Mapped = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def cursor_key(kind: str, url: str, selection: str) -> str:
    """One cursor per source and selection: 'jira:' + a hash of the base URL and the JQL."""
    digest = hashlib.sha256(f"{url.rstrip('/')}\n{selection.strip()}".encode()).hexdigest()[:16]
    return f"{kind}:{digest}"


def jira_client(conf: Settings, url: str) -> ApiClient:
    """A client with the credentials of the settings: email + API token (Cloud, basic auth), or a
    personal access token alone (Data Center, Bearer)."""
    token = conf.jira_token.get_secret_value() if conf.jira_token else None
    headers, auth = {}, None
    if token and conf.jira_email:
        auth = (conf.jira_email, token)
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    base = url.rstrip("/")
    return ApiClient(
        base,
        headers=headers,
        auth=auth,
        timeout=conf.sync_timeout,
        retries=conf.sync_retries,
        explain=lambda status, path, message: explain(base, status, path, message, bool(token)),
    )


def explain(url: str, status: int, path: str, message: str, has_token: bool) -> str:
    """What a refusal from Jira means, naming the credential, URL or JQL to check."""
    said = f" (Jira said: {message})" if message else ""
    if status == 401:
        if not has_token:
            return (
                f"Jira at {url} wants credentials (401); set FLOWMETER_JIRA_EMAIL and FLOWMETER_JIRA_TOKEN "
                "(Cloud API token), or FLOWMETER_JIRA_TOKEN alone (Data Center personal access token)."
            )
        return (
            f"Jira at {url} refused the credentials (401){said}; check FLOWMETER_JIRA_TOKEN and "
            "FLOWMETER_JIRA_EMAIL (Cloud: the account's email with an API token; Data Center: a personal "
            "access token, no email)."
        )
    if status == 403:
        return (
            f"Jira at {url} denied {path} (403){said}; the account of FLOWMETER_JIRA_TOKEN needs the "
            "Browse projects permission on the projects the JQL selects."
        )
    if status == 404:
        return (
            f"Jira at {url} has no {path} (404){said}; check --url (the site's base URL, e.g. "
            "https://your-site.atlassian.net) and that the project or issue exists and is visible to the token."
        )
    if status == 400:
        return f"Jira at {url} refused the query (400){said}; check --jql."
    return f"Jira at {url} answered {status} to {path}{said}."


class JiraSource:
    """Issues of one JQL selection on one Jira site."""

    kind = "jira"

    def __init__(
        self,
        conf: Settings,
        url: str,
        jql: str,
        client: ApiClient | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.url = url.rstrip("/")
        self.selection = jql.strip()
        self.cursor_key = cursor_key(self.kind, self.url, self.selection)
        self.client = client or jira_client(conf, url)
        self.page_size = page_size
        self.overlap = timedelta(seconds=conf.sync_overlap)
        self.team_field = conf.jira_team_field
        self._deployment = conf.jira_deployment
        self._cloud: bool | None = None
        self._fields: dict[str, str] | None = None  # custom field id -> attribute name

    # -- what kind of Jira ---------------------------------------------------------------

    @property
    def cloud(self) -> bool:
        if self._cloud is None:
            if self._deployment == "auto":
                info = self.client.get("/rest/api/2/serverInfo")
                self._cloud = isinstance(info, dict) and info.get("deploymentType") == "Cloud"
            else:
                self._cloud = self._deployment == "cloud"
        return self._cloud

    @property
    def api(self) -> str:
        return "/rest/api/3" if self.cloud else "/rest/api/2"

    def zone(self) -> tzinfo | None:
        """The time zone JQL dates are read in: the caller's, as /myself says; None if unknown."""
        me = self.client.get(f"{self.api}/myself")
        name = me.get("timeZone") if isinstance(me, dict) else None
        try:
            return ZoneInfo(name) if isinstance(name, str) and name else None
        except (ZoneInfoNotFoundError, ValueError):
            return None

    # -- the selection ---------------------------------------------------------------------

    def query(self, since: datetime | None) -> str:
        """The JQL of a pass: the selection, narrowed to what changed since `since` less the overlap."""
        if since is None:
            return self.selection
        moment = since - self.overlap
        zone = self.zone()
        local = moment.astimezone(zone) if zone else moment.astimezone(UTC) - _UNKNOWN_ZONE_MARGIN
        order = _ORDER_BY.search(self.selection)
        where = self.selection[: order.start()] if order else self.selection
        clause = f'updated >= "{local:%Y-%m-%d %H:%M}"'
        narrowed = f"({where}) AND {clause}" if where.strip() else clause
        return narrowed + (order.group(0) if order else "")

    def pages(self, since: datetime | None) -> Iterator[Page]:
        """Each page of the pass's search, its issues mapped (complete changelogs spliced in)."""
        jql = self.query(since)
        fields = ",".join(_BASE_FIELDS + self._custom_fields())
        for issues in self.search(jql, fields):
            page = Page(len(issues))
            for issue in issues:
                self._map(issue, page)
            yield page

    def search(self, jql: str, fields: str, expand: str = "changelog") -> Iterator[list[dict[str, Any]]]:
        """The issues of `jql`, a page at a time (Cloud: by nextPageToken; Data Center: by startAt)."""
        params: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": self.page_size}
        if expand:
            params["expand"] = expand
        if self.cloud:
            token = None
            while True:
                body = self.client.get(
                    "/rest/api/3/search/jql", {**params, "nextPageToken": token} if token else params
                )
                issues = _issues(body)
                yield issues
                token = body.get("nextPageToken")
                if body.get("isLast") is True or not token or not issues:
                    return
        else:
            start = 0
            while True:
                body = self.client.get("/rest/api/2/search", {**params, "startAt": start})
                issues = _issues(body)
                yield issues
                start += len(issues)
                total = body.get("total")
                if not issues or not isinstance(total, int) or start >= total:
                    return

    def _map(self, issue: dict[str, Any], page: Page) -> None:
        key = issue.get("key") if isinstance(issue, dict) else None
        try:
            complete = self._complete(issue)
            events = adapter.from_issue(complete, self.team_field)
        except Unmappable as exc:
            page.skipped.append(f"{key or 'an issue'}: {exc}")
            return
        attributes = self.attributes(issue.get("fields") or {})
        for _kind, event in events:
            if attributes:
                event["attributes"] = attributes
        page.events.extend(events)

    def _complete(self, issue: dict[str, Any]) -> dict[str, Any]:
        """The issue with every change history, fetched when the search cut its changelog."""
        changelog = issue.get("changelog")
        if not isinstance(changelog, dict):
            return issue
        held = changelog.get("histories") or []
        total = changelog.get("total")
        if not isinstance(total, int) or total <= len(held):
            return issue
        key = quote(str(issue.get("key") or issue.get("id")), safe="")
        if self.cloud:
            pages, start = [], 0
            while True:
                body = self.client.get(
                    f"/rest/api/3/issue/{key}/changelog", {"startAt": start, "maxResults": self.page_size}
                )
                values = body.get("values") or [] if isinstance(body, dict) else []
                pages.append({"values": values, "total": body.get("total")})
                start += len(values)
                total_now = body.get("total")
                if body.get("isLast") is True or not values or (isinstance(total_now, int) and start >= total_now):
                    break
        else:  # Data Center has no paged changelog resource: the issue's own expand holds it all
            body = self.client.get(f"/rest/api/2/issue/{key}", {"expand": "changelog", "fields": "status"})
            whole = body.get("changelog") if isinstance(body, dict) else None
            whole = whole if isinstance(whole, dict) else {}
            pages = [{"values": whole.get("histories") or [], "total": whole.get("total")}]
        return adapter.with_changelog(issue, pages)

    # -- attributes ----------------------------------------------------------------------

    def _custom_fields(self) -> list[str]:
        """Ids of the custom fields attributes keep (Flagged, story points), found by name."""
        if self._fields is None:
            found: dict[str, str] = {}
            listed = self.client.get(f"{self.api}/field")
            for item in listed if isinstance(listed, list) else []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    name = _NAMED_FIELDS.get(item["name"].strip().lower())
                    if name and isinstance(item.get("id"), str) and name not in found.values():
                        found[item["id"]] = name
            self._fields = found
        extra = list(self._fields)
        if self.team_field and self.team_field not in extra:
            extra.append(self.team_field)
        return extra

    def attributes(self, fields: dict[str, Any]) -> dict[str, Any]:
        """What Jira says of the issue beyond the contract, as of this pass, within ATTRIBUTES_MAX_BYTES."""
        values: dict[str, Any] = {
            "priority": _name(fields.get("priority")),
            "labels": [x for x in fields.get("labels") or [] if isinstance(x, str)] or None,
            "components": [n for n in map(_name, fields.get("components") or []) if n] or None,
            "parent": _attr(fields.get("parent"), "key"),
        }
        for field_id, name in (self._fields or {}).items():
            value = fields.get(field_id)
            if name == "flagged":
                values["flagged"] = bool(value)  # Jira's Flagged: a list of options ([{"value": "Impediment"}]) or null
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = value
        return bounded({k: v for k, v in values.items() if v is not None})


def bounded(values: dict[str, Any], limit: int = ATTRIBUTES_MAX_BYTES) -> dict[str, Any]:
    """The attributes, dropping the largest until their JSON fits `limit` bytes (marked truncated)."""
    kept = dict(values)
    while kept and len(json.dumps(kept, separators=(",", ":")).encode()) > limit:
        largest = max(kept, key=lambda k: len(json.dumps(kept[k])))
        del kept[largest]
        kept["truncated"] = True
    return kept


def _issues(body: Any) -> list[dict[str, Any]]:
    issues = body.get("issues") if isinstance(body, dict) else None
    return [i for i in issues if isinstance(i, dict)] if isinstance(issues, list) else []


def _name(value: Any) -> str | None:
    return _attr(value, "name")


def _attr(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, dict) else None
    return found.strip() or None if isinstance(found, str) else None

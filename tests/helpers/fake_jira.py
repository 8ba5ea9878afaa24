"""A local Jira that answers the requests `flowmeter sync jira` and `init jira` make, shaped as
Atlassian documents them (each test names the page it follows):

- Cloud search: GET /rest/api/3/search/jql (jql, fields, expand, maxResults, nextPageToken) ->
  {issues, nextPageToken, isLast}
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
- Data Center search: GET /rest/api/2/search (startAt) -> {startAt, maxResults, total, issues}
  https://docs.atlassian.com/software/jira/docs/api/REST/9.12.0/#api/2/search-searchUsingSearchRequest
- an issue's changelog, paged: GET /rest/api/3/issue/{key}/changelog -> {startAt, maxResults,
  total, isLast, values}, oldest first
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-changelog-get
- search results embed only the newest changes ("a list of recent updates to an issue, sorted by
  date, starting from the most recent") with the changelog's total: `embedded` of them here.
- GET /rest/api/2/serverInfo (deploymentType), /rest/api/{2,3}/myself (timeZone),
  /rest/api/{2,3}/field, /rest/api/{2,3}/project/{key}/statuses (per issue type, each status with
  statusCategory.key new | indeterminate | done).
- 429 with Retry-After (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/), 401
  without the right basic-auth credentials.

JQL: only what flowmeter sends is understood: `project = KEY` and `updated >= "yyyy-MM-dd HH:mm"`,
read in the caller's time zone (`zone`), to the minute, as Jira does.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from tests.helpers.local_service import LocalService

EMAIL = "mia@example.com"
TOKEN = "local-test-token"
CATEGORY = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}


@dataclass
class Issue:
    id: str
    key: str
    project: str
    created: datetime  # aware
    status: str  # at creation
    histories: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    flagged: bool = False

    def current_status(self) -> str:
        status = self.status
        for history in self.histories:
            for item in history["items"]:
                if item["field"] == "status":
                    status = item["toString"]
        return status

    def updated(self) -> datetime:
        return max([self.created] + [h["_at"] for h in self.histories])


class FakeJira(LocalService):
    def __init__(self, *, cloud: bool = True, zone: str = "Europe/Berlin", page: int = 3, embedded: int = 2) -> None:
        self.cloud = cloud
        self.zone = zone
        self.page = page  # the most issues one search page holds, whatever maxResults asks
        self.embedded = embedded  # the most changes a search result embeds per issue
        self.issues: dict[str, Issue] = {}
        self.statuses: dict[str, list[tuple[str, str]]] = {}  # project -> [(name, category key)]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.throttle = 0  # the next this many requests get 429
        self.retry_after = "1"
        self._history_id = 10000
        self._pages_served = 0
        super().__init__()

    # -- the data ------------------------------------------------------------------------

    def add(self, key: str, created: str, status: str = "To Do", **extra: Any) -> Issue:
        number = int(key.split("-")[1])
        issue = Issue(str(20000 + number), key, key.split("-")[0], datetime.fromisoformat(created), status, **extra)
        self.issues[key] = issue
        return issue

    def move(self, key: str, at: str, to: str, author: str = "Mia Krystof") -> str:
        """A status change at `at`; returns its history id."""
        issue = self.issues[key]
        self._history_id += 1
        moment = datetime.fromisoformat(at)
        item = {"field": "status", "fieldtype": "jira", "fieldId": "status"}
        item |= {"fromString": issue.current_status(), "toString": to}
        issue.histories.append(
            {
                "id": str(self._history_id),
                "author": {"displayName": author},
                "created": moment.strftime("%Y-%m-%dT%H:%M:%S.000%z"),
                "items": [item],
                "_at": moment,
            }
        )
        return str(self._history_id)

    # -- the API -------------------------------------------------------------------------

    def _issue_json(self, issue: Issue, fields: set[str], expand: str) -> dict[str, Any]:
        every = {
            "project": {"key": issue.project, "name": issue.project},
            "issuetype": {"name": "Story"},
            "status": {"name": issue.current_status()},
            "assignee": None,
            "created": issue.created.strftime("%Y-%m-%dT%H:%M:%S.000%z"),
            "creator": {"displayName": "Mia Krystof"},
            "updated": issue.updated().strftime("%Y-%m-%dT%H:%M:%S.000%z"),
            "labels": issue.labels,
            "priority": {"name": "Medium"},
            "components": [],
            "customfield_10021": [{"value": "Impediment"}] if issue.flagged else None,
        }
        body: dict[str, Any] = {
            "id": issue.id,
            "key": issue.key,
            "fields": {k: v for k, v in every.items() if k in fields},
        }
        if "changelog" in expand:
            newest = [_public(h) for h in reversed(issue.histories)][: self.embedded]
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(newest),
                "total": len(issue.histories),
                "histories": newest,
            }
        return body

    def _select(self, jql: str) -> list[Issue]:
        chosen = sorted(self.issues.values(), key=lambda i: int(i.id))
        project = re.search(r"project\s*=\s*(\w+)", jql)
        if project:
            chosen = [i for i in chosen if i.project == project.group(1)]
        since = re.search(r'updated\s*>=\s*"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})"', jql)
        if since:
            moment = datetime.strptime(since.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(self.zone))
            chosen = [i for i in chosen if i.updated() >= moment]
        return chosen

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        auth = headers.get("authorization")
        self.requests.append((path, query))
        if self.throttle > 0:
            self.throttle -= 1
            return 429, {"Retry-After": self.retry_after}, {"errorMessages": ["Rate limit exceeded."]}
        expected = "Basic " + base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        if auth != expected:
            return (
                401,
                {},
                {"errorMessages": ["You are not authenticated. Authentication required to perform this operation."]},
            )
        api = "/rest/api/3" if self.cloud else "/rest/api/2"
        if path == "/rest/api/2/serverInfo":
            return 200, {}, {"deploymentType": "Cloud" if self.cloud else "Server", "version": "1001.0.0"}
        if path == f"{api}/myself":
            return 200, {}, {"displayName": "Mia Krystof", "timeZone": self.zone}
        if path == f"{api}/field":
            return 200, {}, [{"id": "customfield_10021", "name": "Flagged", "custom": True}]
        if path in ("/rest/api/3/search/jql", "/rest/api/2/search") and path.startswith(api):
            return self._search(query)
        found = re.fullmatch(rf"{api}/project/([^/]+)/statuses", path)
        if found:
            statuses = self.statuses.get(unquote(found.group(1)))
            if statuses is None:
                return 404, {}, {"errorMessages": ["No project could be found with key."]}
            listed = [{"name": n, "statusCategory": {"key": c, "name": CATEGORY[c]}} for n, c in statuses]
            return 200, {}, [{"name": "Story", "statuses": listed}, {"name": "Bug", "statuses": listed[:1]}]
        found = re.fullmatch(r"/rest/api/3/issue/([^/]+)/changelog", path)
        if found and self.cloud:
            issue = self.issues[unquote(found.group(1))]
            start, size = int(query.get("startAt", 0)), min(int(query.get("maxResults", 100)), 2)
            values = [_public(h) for h in issue.histories[start : start + size]]  # oldest first
            last = start + len(values) >= len(issue.histories)
            return (
                200,
                {},
                {"startAt": start, "maxResults": size, "total": len(issue.histories), "isLast": last, "values": values},
            )
        found = re.fullmatch(r"/rest/api/2/issue/([^/]+)", path)
        if found and not self.cloud:
            issue = self.issues[unquote(found.group(1))]
            body = self._issue_json(issue, {"status"}, "")
            body["changelog"] = {
                "startAt": 0,
                "maxResults": len(issue.histories),
                "total": len(issue.histories),
                "histories": [_public(h) for h in issue.histories],
            }
            return 200, {}, body
        return 404, {}, {"errorMessages": [f"no {path} here"]}

    def _search(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        chosen = self._select(query.get("jql", ""))
        fields = set(query.get("fields", "").split(","))
        size = min(int(query.get("maxResults", 50)), self.page)
        if self.cloud:
            token = query.get("nextPageToken")
            start = int(base64.b64decode(token)) if token else 0
        else:
            start = int(query.get("startAt", 0))
        self._pages_served += 1
        if self.stall_after is not None and self._pages_served > self.stall_after:
            self.release.wait(60)
        issues = [self._issue_json(i, fields, query.get("expand", "")) for i in chosen[start : start + size]]
        end = start + len(issues)
        if self.cloud:
            body: dict[str, Any] = {"issues": issues, "isLast": end >= len(chosen)}
            if end < len(chosen):
                body["nextPageToken"] = base64.b64encode(str(end).encode()).decode()
            return 200, {}, body
        return 200, {}, {"startAt": start, "maxResults": size, "total": len(chosen), "issues": issues}

    def searches(self) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p in ("/rest/api/3/search/jql", "/rest/api/2/search")]


def _public(history: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in history.items() if not k.startswith("_")}

"""A local GitHub REST API that answers the requests `flowmeter sync github` and `init github` make,
shaped as docs.github.com documents them (each test names the page it follows):

- GET /repos/{owner}/{repo}/issues (state, since, sort, direction, per_page, page): issues AND pull
  requests (those carry ``pull_request``), only those updated at or after ``since``
  https://docs.github.com/en/rest/issues/issues#list-repository-issues
- GET /repos/{owner}/{repo}/issues/{number}/timeline: labeled, unlabeled, assigned, closed (with
  state_reason), reopened, commented, cross-referenced (no id) entries, oldest first
  https://docs.github.com/en/rest/issues/timeline#list-timeline-events-for-an-issue
- GET /repos/{owner}/{repo}/deployments and .../deployments/{id}/statuses, newest first
  https://docs.github.com/en/rest/deployments/deployments#list-deployments
  https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses
- GET /repos/{owner}/{repo} and .../labels
  https://docs.github.com/en/rest/issues/labels#list-labels-for-a-repository
- paging by ``Link: <...>; rel="next", <...>; rel="last"``, at most `page` items a page
  https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
- POST /graphql: an organization's (or user's) ``projectV2(number)`` ``items(first, after)`` paged
  by ``pageInfo {hasNextPage endCursor}`` (at most `page` a page), each with ``databaseId``, its
  ``content`` (Issue: id, number, repository.nameWithOwner) and ``fieldValueByName(name)`` as a
  ``ProjectV2ItemFieldSingleSelectValue`` (name, optionId, updatedAt, field {id name}); 200 with
  ``errors`` of type NOT_FOUND for an unknown project and INSUFFICIENT_SCOPES without read:project
  https://docs.github.com/en/issues/planning-and-tracking-with-projects/automating-your-project/using-the-api-to-manage-projects
  https://docs.github.com/en/graphql/reference/objects#projectv2item
  https://docs.github.com/en/graphql/reference/objects#projectv2itemfieldsingleselectvalue
  https://docs.github.com/en/graphql/guides/using-pagination-in-the-graphql-api
- 401 {"message": "Bad credentials"} without ``Authorization: Bearer TOKEN``; 404 {"message":
  "Not Found"} for an unknown repository; a spent primary quota (403, x-ratelimit-remaining: 0,
  x-ratelimit-reset a second ahead) and a secondary limit (403 with retry-after)
  https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.helpers.local_service import LocalService

TOKEN = "github_pat_local_test"
DOCS = "https://docs.github.com/rest"


def user(login: str) -> dict[str, Any]:
    return {"login": login, "id": sum(map(ord, login)), "type": "User"}


@dataclass
class Issue:
    id: int
    number: int
    created_at: str
    pull_request: bool = False
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def updated_at(self) -> str:
        return max([self.created_at] + [e["created_at"] for e in self.timeline])

    def labels(self) -> list[str]:
        names: list[str] = []
        for e in self.timeline:
            if e["event"] == "labeled":
                names.append(e["label"]["name"])
            elif e["event"] == "unlabeled":
                names.remove(e["label"]["name"])
        return sorted(names)

    def closed(self) -> dict[str, Any] | None:
        last = None
        for e in self.timeline:
            last = e if e["event"] == "closed" else None if e["event"] == "reopened" else last
        return last


@dataclass
class Repo:
    full_name: str
    id: int
    labels: list[str] = field(default_factory=list)
    issues: dict[int, Issue] = field(default_factory=dict)
    deployments: list[dict[str, Any]] = field(default_factory=list)  # oldest first; served newest first
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # oldest first


class FakeGitHub(LocalService):
    CONTENT_TYPE = "application/json; charset=utf-8"

    def __init__(self, page: int = 2) -> None:
        self.page = page  # the most items one page holds, whatever per_page asks
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []  # (path, query, headers)
        self.spent = 0  # the next this many requests: 403 with the primary quota spent, reset a second ahead
        self.secondary = 0  # the next this many requests: 403 secondary rate limit with retry-after
        self.retry_after = "2"
        self._issue_pages = 0
        self.projects: dict[tuple[str, int], list[dict[str, Any]]] = {}  # (owner login, number) -> items
        self.project_scope = True  # False: the token lacks read:project (INSUFFICIENT_SCOPES)
        self.graphql: list[dict[str, Any]] = []  # the variables of each GraphQL query
        self._event_id = 6000000000
        super().__init__()

    # -- the data ------------------------------------------------------------------------

    def repo(self, full_name: str, labels: list[str]) -> Repo:
        self.repos[full_name.lower()] = Repo(full_name, 186853002 + len(self.repos), labels)
        return self.repos[full_name.lower()]

    def issue(self, repo: str, number: int, created_at: str, pull_request: bool = False) -> Issue:
        # ids as tests/helpers/github_payloads.py gives them, so webhook payloads of the same issue agree
        made = Issue(444500000 + number, number, created_at, pull_request)
        self.repos[repo.lower()].issues[number] = made
        return made

    def event(self, repo: str, number: int, kind: str, at: str, actor: str = "ana", **extra: Any) -> int:
        """A timeline event (labeled: label=name; assigned: assignee=login; closed: state_reason=...)."""
        self._event_id += 1
        entry: dict[str, Any] = {
            "id": self._event_id,
            "node_id": f"LE_{self._event_id}",
            "url": f"{self.url}/repos/{repo}/issues/events/{self._event_id}",
            "actor": user(actor),
            "event": kind,
            "commit_id": None,
            "created_at": at,
        }
        if "label" in extra:
            entry["label"] = {"name": extra.pop("label"), "color": "fbca04"}
        if "assignee" in extra:
            entry["assignee"] = user(extra.pop("assignee"))
            entry["assigner"] = user(actor)
        entry.update(extra)
        self.repos[repo.lower()].issues[number].timeline.append(entry)
        return self._event_id

    def deployment(self, repo: str, deployment_id: int, environment: str, sha: str, created_at: str) -> None:
        r = self.repos[repo.lower()]
        r.deployments.append(
            {
                "url": f"{self.url}/repos/{r.full_name}/deployments/{deployment_id}",
                "id": deployment_id,
                "node_id": f"DE_{deployment_id}",
                "sha": sha,
                "ref": "main",
                "task": "deploy",
                "payload": {},
                "original_environment": environment,
                "environment": environment,
                "description": None,
                "creator": user("deploy-bot"),
                "created_at": created_at,
                "updated_at": created_at,
                "statuses_url": f"{self.url}/repos/{r.full_name}/deployments/{deployment_id}/statuses",
                "repository_url": f"{self.url}/repos/{r.full_name}",
            }
        )
        r.statuses[deployment_id] = []

    def status(self, repo: str, deployment_id: int, status_id: int, state: str, at: str) -> None:
        r = self.repos[repo.lower()]
        environment = next(d["environment"] for d in r.deployments if d["id"] == deployment_id)
        r.statuses[deployment_id].append(
            {
                "url": f"{self.url}/repos/{r.full_name}/deployments/{deployment_id}/statuses/{status_id}",
                "id": status_id,
                "node_id": f"DES_{status_id}",
                "state": state,
                "creator": user("deploy-bot"),
                "description": "",
                "environment": environment,
                "target_url": "",
                "created_at": at,
                "updated_at": at,
                "deployment_url": f"{self.url}/repos/{r.full_name}/deployments/{deployment_id}",
                "repository_url": f"{self.url}/repos/{r.full_name}",
            }
        )

    def project(self, owner: str, number: int) -> None:
        self.projects[(owner.lower(), number)] = []

    def item(self, owner: str, number: int, item_id: int, repo: str, issue: int) -> dict[str, Any]:
        """An issue added to a project, with no Status yet; its creation time is its first updatedAt."""
        made = {
            "id": f"PVTI_lADOANN5s84ACbL0zgB{item_id}",
            "databaseId": item_id,
            "updatedAt": "2024-05-01T08:00:00Z",
            "type": "ISSUE",
            "content": {
                "__typename": "Issue",
                "id": f"I_{444500000 + issue}",  # the issue's node_id, as _issue_json gives it
                "number": issue,
                "repository": {"nameWithOwner": self.repos[repo.lower()].full_name},
            },
            "status": None,
        }
        self.projects[(owner.lower(), number)].append(made)
        return made

    def set_status(self, owner: str, number: int, item_id: int, name: str, at: str) -> None:
        """Someone sets the item's Status: GraphQL then shows this value, set at `at`, and nothing before."""
        item = next(i for i in self.projects[(owner.lower(), number)] if i["databaseId"] == item_id)
        item["updatedAt"] = at
        item["status"] = {
            "__typename": "ProjectV2ItemFieldSingleSelectValue",
            "name": name,
            "optionId": f"{sum(map(ord, name)):08x}",
            "updatedAt": at,
            "field": {"id": "PVTSSF_lADOANN5s84ACbL0zgBtoSY", "name": "Status"},
        }

    def post_answer(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append((path, {}, headers))
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}
        query, variables = (body or {}).get("query", ""), (body or {}).get("variables") or {}
        if path != "/graphql" or "projectV2(number: $number)" not in query:
            return 404, {}, {"message": "Not Found", "documentation_url": DOCS}
        self.graphql.append(variables)
        owner = "organization" if "organization(login: $login)" in query else "user"
        if not self.project_scope:
            message = (
                "Your token has not been granted the required scopes to execute this query. The 'projectV2' field "
                "requires one of the following scopes: ['read:project'], but your token has only been granted the: "
                "['repo'] scopes. Please modify your token's granted scopes at: https://github.com/settings/tokens."
            )
            return 200, {}, {"errors": [{"type": "INSUFFICIENT_SCOPES", "locations": [{"line": 3, "column": 5}],
                                         "message": message}]}  # fmt: skip
        items = self.projects.get((str(variables.get("login", "")).lower(), int(variables.get("number") or 0)))
        if items is None:
            number = variables.get("number")
            return 200, {}, {
                "data": {owner: {"projectV2": None}},
                "errors": [{"type": "NOT_FOUND", "path": [owner, "projectV2"], "locations": [{"line": 3, "column": 5}],
                            "message": f"Could not resolve to a ProjectV2 with the number {number}."}],
            }  # fmt: skip
        size = min(int(variables.get("first") or 100), self.page)
        start = int(variables["after"].removeprefix("cursor:")) if variables.get("after") else 0
        chosen = items[start : start + size]
        nodes = []
        for item in chosen:
            node = dict(item)
            if "fieldValueByName(name: $field)" not in query or item["status"] is None:
                node["status"] = None
            elif item["status"]["field"]["name"].lower() != str(variables.get("field", "")).lower():
                node["status"] = None  # no field of that name
            nodes.append(node)
        info = {"hasNextPage": start + size < len(items), "endCursor": f"cursor:{start + len(chosen)}"}
        project = {"number": variables.get("number"), "items": {"pageInfo": info, "nodes": nodes}}
        return (
            200,
            {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4990"},
            {"data": {owner: {"projectV2": project}}},
        )

    # -- the API -------------------------------------------------------------------------

    def _issue_json(self, r: Repo, issue: Issue) -> dict[str, Any]:
        closed = issue.closed()
        assignees: list[str] = []
        for e in issue.timeline:
            if e["event"] in ("assigned", "unassigned"):
                login = e["assignee"]["login"]
                assignees = [a for a in assignees if a != login] + ([login] if e["event"] == "assigned" else [])
        body: dict[str, Any] = {
            "url": f"{self.url}/repos/{r.full_name}/issues/{issue.number}",
            "repository_url": f"{self.url}/repos/{r.full_name}",
            "html_url": f"https://github.com/{r.full_name}/issues/{issue.number}",
            "id": issue.id,
            "node_id": f"I_{issue.id}",
            "number": issue.number,
            "title": f"Issue {issue.number}",
            "user": user("ana"),
            "labels": [{"name": n, "color": "fbca04"} for n in issue.labels()],
            "state": "closed" if closed else "open",
            "state_reason": closed.get("state_reason") if closed else None,
            "assignee": user(assignees[0]) if assignees else None,
            "assignees": [user(a) for a in assignees],
            "milestone": None,
            "comments": 0,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at(),
            "closed_at": closed["created_at"] if closed else None,
        }
        if issue.pull_request:
            body["pull_request"] = {"url": f"{self.url}/repos/{r.full_name}/pulls/{issue.number}", "merged_at": None}
        return body

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append((path, query, headers))
        if self.spent > 0:
            self.spent -= 1
            reset = str(int(time.time()) + 1)
            limit = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
            return 403, limit, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS}
        if self.secondary > 0:
            self.secondary -= 1
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            return 403, {"retry-after": self.retry_after}, {"message": message, "documentation_url": DOCS}
        if headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "repos" or f"{parts[1]}/{parts[2]}".lower() not in self.repos:
            return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}
        r, rest = self.repos[f"{parts[1]}/{parts[2]}".lower()], parts[3:]
        if not rest:
            return 200, {}, {"id": r.id, "full_name": r.full_name, "has_issues": True}
        if rest == ["labels"]:
            return self._paged(path, query, [{"name": n, "color": "fbca04"} for n in r.labels])
        if rest == ["issues"]:
            self._issue_pages += 1
            if self.stall_after is not None and self._issue_pages > self.stall_after:
                self.release.wait(60)
            chosen = sorted(r.issues.values(), key=lambda i: (i.updated_at(), i.number))
            if query.get("direction", "desc") == "desc":
                chosen.reverse()
            since = query.get("since")
            if since:
                chosen = [i for i in chosen if i.updated_at() >= since]
            return self._paged(path, query, [self._issue_json(r, i) for i in chosen])
        if len(rest) == 3 and rest[0] == "issues" and rest[2] == "timeline" and int(rest[1]) in r.issues:
            issue = r.issues[int(rest[1])]
            entries = [*issue.timeline, {"event": "cross-referenced", "created_at": issue.created_at, "source": {}}]
            entries.sort(key=lambda e: e["created_at"])
            return self._paged(path, query, entries)
        if rest == ["deployments"]:
            return self._paged(path, query, list(reversed(r.deployments)))
        if len(rest) == 3 and rest[0] == "deployments" and rest[2] == "statuses" and int(rest[1]) in r.statuses:
            return self._paged(path, query, list(reversed(r.statuses[int(rest[1])])))
        return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}

    def _paged(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, dict[str, str], Any]:
        size = min(int(query.get("per_page", 30)), self.page)
        number = int(query.get("page", 1))
        last = max(1, -(-len(items) // size))
        links = []
        if number < last:
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": number + 1})}>; rel="next"')
            links.append(f'<{self.url}{path}?{urlencode({**query, "page": last})}>; rel="last"')
        headers = {"Link": ", ".join(links)} if links else {}
        headers |= {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"}
        return 200, headers, items[(number - 1) * size : number * size]

    def lists(self, suffix: str) -> list[dict[str, str]]:
        """The queries of the list requests whose path ends with `suffix` (e.g. '/issues')."""
        return [q for p, q, _ in self.requests if p.endswith(suffix)]

"""A local GitLab that answers the requests `flowmeter sync gitlab` and `init gitlab` make, shaped
as docs.gitlab.com documents them (each test names the page it follows):

- GET /api/v4/projects/:id/issues (updated_after, order_by, sort, per_page, page): issues with
  id, iid, created_at, updated_at, state, labels (names), assignees, author, issue_type
  https://docs.gitlab.com/api/issues/#list-project-issues
- .../issues/:iid/resource_state_events: {id, user, created_at, resource_type, resource_id, state}
  https://docs.gitlab.com/api/resource_state_events/
- .../issues/:iid/resource_label_events: {id, user, created_at, label {id, name}, action add|remove}
  https://docs.gitlab.com/api/resource_label_events/
- GET /api/v4/projects/:id/deployments (updated_after, order_by=updated_at): {id, iid, ref, sha,
  created_at, updated_at, status, environment {name}, deployable {started_at, finished_at,
  commit {id, created_at}}} https://docs.gitlab.com/api/deployments/#list-project-deployments
- .../repository/commits/:sha/merge_requests and .../merge_requests/:iid/commits
  https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit
  https://docs.gitlab.com/api/merge_requests/#get-single-merge-request-commits
- .../labels and .../boards (lists with label and position)
  https://docs.gitlab.com/api/labels/  https://docs.gitlab.com/api/boards/
- Offset pagination: x-page, x-per-page, x-next-page (empty on the last page), x-total and Link
  https://docs.gitlab.com/api/rest/#pagination
- 401 {"message": "401 Unauthorized"} without a right PRIVATE-TOKEN (or Bearer), 404
  {"message": "404 Project Not Found"}, 429 with Retry-After and RateLimit-Reset
  https://docs.gitlab.com/security/rate_limits/ (and the user and IP rate limits' response headers)

Lists hold at most `page` items whatever per_page asks, so paging is exercised with few items.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode

from tests.helpers.local_service import LocalService

TOKEN = "glpat-local-test-token"
USER = {"id": 1, "username": "mia", "name": "Mia Krystof", "state": "active"}


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Issue:
    id: int
    iid: int
    created: datetime
    assignee: str | None = None
    state_events: list[dict[str, Any]] = field(default_factory=list)
    label_events: list[dict[str, Any]] = field(default_factory=list)

    def updated(self) -> datetime:
        moments = [self.created] + [e["_at"] for e in self.state_events + self.label_events]
        return max(moments)

    def labels(self) -> list[str]:
        held: list[str] = []
        for event in sorted(self.label_events, key=lambda e: (e["_at"], e["id"])):
            name = event["label"]["name"]
            held = [*held, name] if event["action"] == "add" else [n for n in held if n != name]
        return held

    def state(self) -> str:
        closed = False
        for event in sorted(self.state_events, key=lambda e: (e["_at"], e["id"])):
            closed = event["state"] == "closed"
        return "closed" if closed else "opened"


@dataclass
class Project:
    id: int
    path: str
    issues: dict[int, Issue] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    board_lists: list[str] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)  # iid -> {merge sha, commits}


class FakeGitLab(LocalService):
    def __init__(self, page: int = 2) -> None:
        self.page = page
        self.projects: dict[str, Project] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.throttle = 0  # the next this many requests get 429
        self.retry_after: str | None = "1"  # None: the 429 carries only RateLimit-Reset
        self._event_id = 100
        self._issue_pages = 0
        super().__init__()

    # -- the data ------------------------------------------------------------------------------

    def project(self, path: str, labels: list[str], board_lists: list[str]) -> Project:
        self.projects[path] = Project(len(self.projects) + 30, path, labels=labels, board_lists=board_lists)
        return self.projects[path]

    def issue(self, path: str, iid: int, created: str, assignee: str | None = None) -> Issue:
        project = self.projects[path]
        project.issues[iid] = Issue(5000 + iid, iid, datetime.fromisoformat(created), assignee)
        return project.issues[iid]

    def label(self, path: str, iid: int, at: str, name: str, action: str = "add") -> int:
        issue = self.projects[path].issues[iid]
        self._event_id += 1
        issue.label_events.append(
            {
                "id": self._event_id,
                "user": USER,
                "created_at": _stamp(datetime.fromisoformat(at)),
                "resource_type": "Issue",
                "resource_id": issue.id,
                "label": {"id": 70 + len(name), "name": name, "color": "#34495E", "description": ""},
                "action": action,
                "_at": datetime.fromisoformat(at),
            }
        )
        return self._event_id

    def state(self, path: str, iid: int, at: str, state: str) -> int:
        issue = self.projects[path].issues[iid]
        self._event_id += 1
        issue.state_events.append(
            {
                "id": self._event_id,
                "user": USER,
                "created_at": _stamp(datetime.fromisoformat(at)),
                "resource_type": "Issue",
                "resource_id": issue.id,
                "state": state,
                "_at": datetime.fromisoformat(at),
            }
        )
        return self._event_id

    def deployment(
        self,
        path: str,
        dep_id: int,
        status: str,
        sha: str,
        environment: str,
        created: str,
        finished: str | None,
        committed: str,
    ) -> None:
        updated = finished or created
        self.projects[path].deployments.append(
            {
                "id": dep_id,
                "iid": dep_id - 9000,
                "ref": "main",
                "sha": sha,
                "created_at": _stamp(datetime.fromisoformat(created)),
                "updated_at": _stamp(datetime.fromisoformat(updated)),
                "finished_at": _stamp(datetime.fromisoformat(finished)) if finished else None,
                "status": status,
                "user": USER,
                "environment": {"id": 9, "name": environment, "external_url": None},
                "deployable": {
                    "id": dep_id + 100,
                    "status": status,
                    "started_at": _stamp(datetime.fromisoformat(created)),
                    "finished_at": _stamp(datetime.fromisoformat(finished)) if finished else None,
                    "commit": {
                        "id": sha,
                        "short_id": sha[:8],
                        "created_at": _stamp(datetime.fromisoformat(committed)),
                        "title": "Ship it",
                    },
                },
                "_updated": datetime.fromisoformat(updated),
            }
        )

    def merge_request(self, path: str, iid: int, merge_sha: str, commits: list[tuple[str, str]]) -> None:
        self.projects[path].merge_requests[iid] = {"merge_sha": merge_sha, "commits": commits}

    # -- the API -------------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        self.requests.append((path, query))
        if self.throttle > 0:
            self.throttle -= 1
            limit = {"RateLimit-Limit": "2000", "RateLimit-Remaining": "0"}
            limit["RateLimit-Reset"] = str(int(time.time()) + 30)
            if self.retry_after is not None:
                limit["Retry-After"] = self.retry_after
            return 429, limit, {"message": "Retry later"}
        bearer = headers.get("authorization", "")
        if headers.get("private-token") != TOKEN and bearer != f"Bearer {TOKEN}":
            return 401, {}, {"message": "401 Unauthorized"}
        parts = path.removeprefix("/api/v4/projects/").split("/", 1)
        if not path.startswith("/api/v4/projects/") or unquote(parts[0]) not in self.projects:
            return 404, {}, {"message": "404 Project Not Found"}
        project, rest = self.projects[unquote(parts[0])], (parts[1] if len(parts) > 1 else "")
        since = query.get("updated_after")
        after = datetime.fromisoformat(since) if since else None
        if rest == "issues":
            self._issue_pages += 1
            if self.stall_after is not None and self._issue_pages > self.stall_after:
                self.release.wait(60)
            chosen = sorted(project.issues.values(), key=lambda i: (i.updated(), i.id))
            chosen = [i for i in chosen if after is None or i.updated() >= after]  # "on or after"
            return self._paged(path, query, [self._issue_json(project, i) for i in chosen])
        if rest.startswith("issues/"):
            _, iid, kind = rest.split("/")
            issue = project.issues[int(iid)]
            listed = issue.state_events if kind == "resource_state_events" else issue.label_events
            return self._paged(path, query, [_public(e) for e in sorted(listed, key=lambda e: e["id"])])
        if rest == "deployments":
            listed_deployments = sorted(project.deployments, key=lambda d: (d["_updated"], d["id"]))
            listed_deployments = [d for d in listed_deployments if after is None or d["_updated"] >= after]
            return self._paged(path, query, [_public(d) for d in listed_deployments])
        if rest.startswith("repository/commits/") and rest.endswith("/merge_requests"):
            sha = rest.split("/")[2]
            found = [
                {"id": 700 + iid, "iid": iid, "state": "merged", "merge_commit_sha": sha, "project_id": project.id}
                for iid, mr in project.merge_requests.items()
                if mr["merge_sha"] == sha
            ]
            return self._paged(path, query, found)
        if rest.startswith("merge_requests/") and rest.endswith("/commits"):
            mr = project.merge_requests[int(rest.split("/")[1])]
            listed = [
                {"id": sha, "short_id": sha[:8], "created_at": at, "committed_date": at} for sha, at in mr["commits"]
            ]
            return self._paged(path, query, listed)
        if rest == "labels":
            return self._paged(path, query, [{"id": n, "name": name} for n, name in enumerate(project.labels, 1)])
        if rest == "boards":
            lists = [
                {"id": 20 + n, "label": {"id": 70 + n, "name": name}, "position": n}
                for n, name in reversed(list(enumerate(project.board_lists)))  # the API's order is not the board's
            ]
            return 200, {}, [{"id": 1, "name": "Development", "lists": lists}]
        return 404, {}, {"message": "404 Not found"}

    def _issue_json(self, project: Project, issue: Issue) -> dict[str, Any]:
        state = issue.state()
        closed = [e for e in issue.state_events if e["state"] == "closed"]
        assignees = [dict(USER, username=issue.assignee)] if issue.assignee else []
        return {
            "id": issue.id,
            "iid": issue.iid,
            "project_id": project.id,
            "title": f"Issue {issue.iid}",
            "state": state,
            "created_at": _stamp(issue.created),
            "updated_at": _stamp(issue.updated()),
            "closed_at": closed[-1]["created_at"] if state == "closed" else None,
            "labels": issue.labels(),
            "milestone": None,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": USER,
            "issue_type": "issue",
            "weight": None,
            "references": {"full": f"{project.path}#{issue.iid}"},
        }

    def _paged(self, path: str, query: dict[str, str], items: list[Any]) -> tuple[int, dict[str, str], Any]:
        size = min(int(query.get("per_page", 20)), self.page)
        number = int(query.get("page", 1))
        chunk = items[(number - 1) * size : number * size]
        more = number * size < len(items)
        headers = {
            "x-page": str(number),
            "x-per-page": str(size),
            "x-total": str(len(items)),
            "x-next-page": str(number + 1) if more else "",
        }
        if more:
            following = urlencode({**query, "page": number + 1})
            headers["Link"] = f'<{self.url}{path}?{following}>; rel="next"'
        return 200, headers, chunk

    def asked(self, suffix: str) -> list[dict[str, str]]:
        return [q for p, q in self.requests if p.endswith(suffix)]


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}

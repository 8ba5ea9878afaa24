"""GitLab as a pull source: issues with their resource state and label events, and deployments
with the commits they shipped, mapped by the GitLab adapter (sources/adapters/gitlab.py).

Per project (``--project group/name``, URL-encoded as the API wants it):

- ``GET /api/v4/projects/:id/issues?updated_after=&order_by=updated_at&sort=asc&per_page=100``,
  and per issue ``.../issues/:iid/resource_state_events`` and ``.../resource_label_events``;
- ``GET /api/v4/projects/:id/deployments?updated_after=&order_by=updated_at&sort=asc``, and per
  finished deployment the merge requests of its commit
  (``/repository/commits/:sha/merge_requests``) and their commits, so a deploy carries the times
  of the commits it shipped.

Lists are paged by ``x-next-page`` (offset pagination), or by the ``Link: <...>; rel="next"``
header GitLab sends with keyset pagination, whichever the answer has.

Incremental: ``updated_after`` = the cursor less ``sync_overlap``, in UTC (GitLab takes ISO 8601
with an offset). A label or state change updates the issue's ``updated_at``, so a changed issue is
asked again whole; what is asked twice has the same event_ids and lands once.

Rate limits: a 429 waits as ``Retry-After`` says, else until ``RateLimit-Reset`` (a Unix time).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlparse

import requests

from flowcore.settings import Settings
from sources.adapters import Unmappable
from sources.adapters import gitlab as adapter
from sources.pull.client import ApiClient
from sources.pull.jira import Page, bounded, cursor_key

PAGE_SIZE = 100
API = "/api/v4"


def gitlab_client(conf: Settings, url: str) -> ApiClient:
    """A client sending ``gitlab_token`` as PRIVATE-TOKEN (personal, group or project access token)."""
    token = conf.gitlab_token.get_secret_value() if conf.gitlab_token else None
    base = url.rstrip("/")
    return ApiClient(
        base,
        headers={"PRIVATE-TOKEN": token} if token else {},
        timeout=conf.sync_timeout,
        retries=conf.sync_retries,
        explain=lambda status, path, message: explain(base, status, path, message, bool(token)),
        limit_wait=rate_limit_reset,
    )


def rate_limit_reset(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds until ``RateLimit-Reset`` (a Unix time) on a 429 that has no Retry-After; else None.
    docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers"""
    if response.status_code != 429:
        return None
    value = response.headers.get("RateLimit-Reset", "").strip()
    if not value.isdigit():
        return None
    return max(0.0, float(value) - (time.time() if now is None else now))


def explain(url: str, status: int, path: str, message: str, has_token: bool) -> str:
    """What a refusal from GitLab means, naming the token, its scope, the project or the URL."""
    said = f" (GitLab said: {message})" if message else ""
    if status == 401:
        if not has_token:
            return (
                f"GitLab at {url} wants a token (401); set FLOWMETER_GITLAB_TOKEN to an access token "
                "with the read_api scope."
            )
        return (
            f"GitLab at {url} refused FLOWMETER_GITLAB_TOKEN (401){said}; check that it is a personal, group "
            "or project access token that has not expired and has the read_api scope."
        )
    if status == 403:
        return (
            f"GitLab at {url} denied {path} (403){said}; FLOWMETER_GITLAB_TOKEN needs the read_api scope "
            "and at least the Reporter role on the project."
        )
    if status == 404:
        return (
            f"GitLab at {url} has no {path} (404){said}; check --project (the path group/name as in the "
            "project's URL), that FLOWMETER_GITLAB_TOKEN can see it (read_api), and --url (e.g. https://gitlab.com)."
        )
    return f"GitLab at {url} answered {status} to {path}{said}."


def selection_of(projects: list[str]) -> str:
    """The projects one per line, sorted: the same set in another order is the same selection."""
    return "\n".join(sorted({p.strip().strip("/") for p in projects if p.strip()}))


class GitLabSource:
    """Issues and deployments of some projects on one GitLab."""

    kind = "gitlab"

    def __init__(
        self, conf: Settings, url: str, projects: list[str], client: ApiClient | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        self.url = url.rstrip("/")
        self.selection = selection_of(projects)
        self.projects = self.selection.splitlines()
        self.cursor_key = cursor_key(self.kind, self.url, self.selection)
        self.client = client or gitlab_client(conf, url)
        self.page_size = page_size
        self.overlap = timedelta(seconds=conf.sync_overlap)
        self.label_states = conf.gitlab_label_states

    def pages(self, since: datetime | None) -> Iterator[Page]:
        """Each page of issues (mapped with their events), then each page of deployments."""
        changed: dict[str, Any] = {"order_by": "updated_at", "sort": "asc"}
        if since is not None:
            changed["updated_after"] = (since - self.overlap).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for project in self.projects:
            base = f"{API}/projects/{quote(project, safe='')}"
            for issues in self.listed(f"{base}/issues", {**changed, "scope": "all"}):
                page = Page(len(issues))
                for issue in issues:
                    self._map_issue(project, base, issue, page)
                yield page
            for deployments in self.listed(f"{base}/deployments", changed):
                page = Page(0)
                for deployment in deployments:
                    self._map_deployment(project, base, deployment, page)
                yield page

    def listed(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Pages of a list, following x-next-page (offset) or Link rel="next" (keyset)."""
        query: dict[str, Any] = {**params, "per_page": self.page_size}
        while True:
            body = self.client.get(path, query)
            headers = self.client.last_headers  # now: mapping this page makes requests of its own
            yield [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []
            following = _next_link(headers.get("Link", ""))
            if following:
                path, query = self._relative(following)
                continue
            number = str(headers.get("x-next-page", "")).strip()
            if not number.isdigit():
                return
            query = {**query, "page": int(number)}

    def every(self, path: str) -> list[dict[str, Any]]:
        return [x for page in self.listed(path, {}) for x in page]

    def _relative(self, link: str) -> tuple[str, dict[str, Any]]:
        parsed = urlparse(link)
        prefix = urlparse(self.url).path.rstrip("/")
        path = parsed.path[len(prefix) :] if prefix and parsed.path.startswith(prefix) else parsed.path
        return path, dict(parse_qsl(parsed.query))

    def _map_issue(self, project: str, base: str, issue: dict[str, Any], page: Page) -> None:
        iid = issue.get("iid")
        try:
            states = self.every(f"{base}/issues/{iid}/resource_state_events")
            labels = self.every(f"{base}/issues/{iid}/resource_label_events")
            events = adapter.from_issue(project, issue, states, labels, self.label_states)
        except Unmappable as exc:
            page.skipped.append(f"{project}#{iid}: {exc}")
            return
        attributes = attributes_of(issue)
        for _kind, event in events:
            if attributes:
                event["attributes"] = attributes
        page.events.extend(events)

    def _map_deployment(self, project: str, base: str, deployment: dict[str, Any], page: Page) -> None:
        try:
            merged: list[dict[str, Any]] = []
            sha = deployment.get("sha")
            if deployment.get("status") in ("success", "failed") and isinstance(sha, str) and sha:
                for request in self.every(f"{base}/repository/commits/{sha}/merge_requests"):
                    if request.get("state") == "merged" and isinstance(request.get("iid"), int):
                        merged += adapter.commits_of(self.every(f"{base}/merge_requests/{request['iid']}/commits"))
            page.events.extend(adapter.from_deployment(project, deployment, merged))
        except Unmappable as exc:
            page.skipped.append(f"{project} deployment {deployment.get('id')}: {exc}")


def attributes_of(issue: dict[str, Any]) -> dict[str, Any]:
    """What GitLab says of the issue beyond the contract, as of this pass (labels, milestone, weight)."""
    milestone = issue.get("milestone")
    values: dict[str, Any] = {
        "labels": [x for x in issue.get("labels") or [] if isinstance(x, str)] or None,
        "milestone": milestone.get("title") if isinstance(milestone, dict) else None,
        "weight": issue.get("weight") if isinstance(issue.get("weight"), int) else None,
    }
    return bounded({k: v for k, v in values.items() if v is not None})


def _next_link(header: str) -> str | None:
    """The URL of rel="next" in a Link header (RFC 8288), else None."""
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") and target.strip().startswith("<"):
            return target.strip()[1:-1]
    return None

"""GitHub as a pull source: issues with their timelines, and deployments with their statuses, of
one or more repositories, mapped by the GitHub adapter (sources/adapters/github.py) so a pulled
change gets the event_id its webhook gets and the two land once.

Issues: ``GET /repos/{owner}/{repo}/issues?state=all&since=...&sort=updated&direction=asc``,
paged by the ``Link: <...>; rel="next"`` header; pull requests (items with ``pull_request``) are
skipped. Oldest change first, so an issue updated while the pass pages moves behind the pages
still to come instead of being skipped. Each issue's whole ``.../issues/{n}/timeline`` (paged
too) is replayed: labeled/unlabeled through ``github_label_states``, assigned/unassigned,
closed (its ``state_reason``), reopened.

Deployments: ``GET /repos/{owner}/{repo}/deployments`` and ``.../deployments/{id}/statuses``,
both newest first; success -> a success deploy, failure and error -> failure, the rest nothing.
Deployments have no ``since``: paging stops at the first deployment created more than
``DEPLOY_REACH`` before the cursor less the overlap, so a deploy that finishes up to a day after it
started is still seen; what is asked twice lands once.

Projects (v2) status, with ``github_project`` set: the board's items through the GraphQL API,
each item's Status as of the pass (sources/pull/github_projects.py says what a pull can see of it).

Incremental: issues' ``since`` (their ``updated_at``) is the cursor less ``sync_overlap``; project
items whose Status value was set before that are passed over.

Well-behaved (docs.github.com "Rate limits for the REST API" and "Best practices for using the REST
API"): ``Authorization: Bearer``, ``X-GitHub-Api-Version``, ``Accept: application/vnd.github+json``;
one request at a time; a response with ``x-ratelimit-remaining: 0`` waits until
``x-ratelimit-reset`` before the next request; a 403 or 429 rate limit waits ``retry-after``, else
until the reset, else at least a minute.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from requests.utils import parse_header_links

from flowcore.settings import Settings
from sources.adapters import Unmappable
from sources.adapters import github as adapter
from sources.pull.client import ApiClient, ApiRefused, retry_after
from sources.pull.github_projects import ProjectStatus
from sources.pull.jira import Page, bounded, cursor_key

PUBLIC_API = "https://api.github.com"
API_VERSION = "2022-11-28"
PAGE_SIZE = 100
DEPLOY_REACH = timedelta(hours=24)
SECONDARY_WAIT = 60.0  # GitHub: without retry-after or a spent quota, wait at least a minute
SCOPES = "a fine-grained token with read access to Issues, Deployments and Metadata, or a classic token with repo"


def github_client(conf: Settings, url: str, sleep: Any = time.sleep) -> ApiClient:
    token = conf.github_token.get_secret_value() if conf.github_token else None
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    base = url.rstrip("/")
    return ApiClient(
        base,
        headers=headers,
        timeout=conf.sync_timeout,
        retries=conf.sync_retries,
        explain=lambda status, path, message: explain(base, status, path, message, bool(token)),
        limit_wait=rate_limit_wait,
        sleep=sleep,
    )


def rate_limit_wait(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds to wait after `response` by GitHub's rate-limit rules; None when it is no limit.

    A success whose quota is spent (``x-ratelimit-remaining: 0``) waits until ``x-ratelimit-reset``
    (epoch seconds) plus a second; a 403 or 429 rate limit waits ``retry-after``, else until the
    reset, else ``SECONDARY_WAIT``. A 403 that says nothing of rate limits is a refusal (None).
    """
    headers = response.headers
    until_reset = None
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if (headers.get("x-ratelimit-remaining") or "").strip() == "0" and reset.isdigit():
        until_reset = max(0.0, int(reset) - (time.time() if now is None else now)) + 1.0
    if response.status_code < 400:
        return until_reset
    if response.status_code not in (403, 429):
        return None
    after = retry_after(headers.get("retry-after"), now)
    if after is not None:
        return after
    if until_reset is not None:
        return until_reset
    if response.status_code == 429 or "rate limit" in response.text.lower():
        return SECONDARY_WAIT
    return None


def explain(url: str, status: int, path: str, message: str, has_token: bool) -> str:
    """What a refusal from GitHub means, naming the token, its scopes, the repository or the URL."""
    said = f" (GitHub said: {message})" if message else ""
    if status == 401:
        if not has_token:
            return f"GitHub at {url} wants a token (401){said}; set FLOWMETER_GITHUB_TOKEN to {SCOPES}."
        return (
            f"GitHub at {url} refused FLOWMETER_GITHUB_TOKEN (401){said}; check it is current (not expired or "
            f"revoked): {SCOPES}."
        )
    if status == 403:
        return (
            f"GitHub at {url} denied {path} (403){said}; FLOWMETER_GITHUB_TOKEN must be {SCOPES}, "
            "granted on this repository (and authorized for SSO where the organization requires it)."
        )
    if status == 404:
        return (
            f"GitHub at {url} has no {path} (404){said}; check --repo owner/name, --url (Enterprise Server: "
            "https://HOST/api/v3), and that FLOWMETER_GITHUB_TOKEN can see the repository (private ones answer 404)."
        )
    return f"GitHub at {url} answered {status} to {path}{said}."


class GitHubSource:
    """Issues and deployments of some repositories on one GitHub (or Enterprise Server) API."""

    kind = "github"

    def __init__(
        self, conf: Settings, url: str, repos: list[str], client: ApiClient | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        self.url = url.rstrip("/")
        self.repos = sorted({r.strip().strip("/") for r in repos if r.strip()})  # the cursor ignores their order
        self.client = client or github_client(conf, self.url)
        self.project = (
            ProjectStatus(self.client, self.url, conf.github_project, conf.github_project_status_field)
            if conf.github_project
            else None
        )
        # A project is part of the selection: adding one starts its own cursor (a full pass of it).
        self.selection = "\n".join(self.repos + ([f"project {conf.github_project}"] if conf.github_project else []))
        self.cursor_key = cursor_key(self.kind, self.url, self.selection)
        self.page_size = page_size
        self.overlap = timedelta(seconds=conf.sync_overlap)
        self.label_states = conf.github_label_states
        self.incident_label = conf.github_incident_label
        self.service_prefix = conf.github_service_label_prefix

    def pages(self, since: datetime | None) -> Iterator[Page]:
        after = None if since is None else since - self.overlap
        for repo in self.repos:
            yield from self.issue_pages(repo, after)
            yield from self.deploy_pages(repo, after)
        if self.project is not None:
            yield from self.project.pages(after)

    def listed(self, path: str, params: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Each page of a list resource, following ``Link: <...>; rel="next"`` on the same API."""
        url: str | None = path
        query: dict[str, Any] | None = {**(params or {}), "per_page": self.page_size}
        while url:
            body, headers = self.client.get_page(url, query)
            yield [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []
            url, query = _next(headers.get("Link")), None
            if url and not url.startswith(self.url + "/"):  # the token goes only where it was meant to
                raise ApiRefused(f"GitHub at {self.url} sent a next page on another host ({url}); check --url.")

    # -- issues --------------------------------------------------------------------------

    def issue_pages(self, repo: str, after: datetime | None) -> Iterator[Page]:
        params: dict[str, Any] = {"state": "all", "sort": "updated", "direction": "asc"}
        if after is not None:
            params["since"] = after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for issues in self.listed(f"/repos/{_path(repo)}/issues", params):
            page = Page(0)
            for issue in issues:
                if "pull_request" not in issue:  # every pull request is an issue too; not work items here
                    page.issues += 1
                    self._map_issue(repo, issue, page)
            yield page

    def _map_issue(self, repo: str, issue: dict[str, Any], page: Page) -> None:
        number = issue.get("number")
        try:
            timeline: list[dict[str, Any]] = []
            for entries in self.listed(f"/repos/{_path(repo)}/issues/{number}/timeline"):
                timeline += entries
            # The repository comes from the issue's repository_url: GitHub's spelling, the webhooks' full_name.
            events = adapter.from_timeline(
                issue,
                timeline,
                label_states=self.label_states,
                incident_label=self.incident_label,
                service_label_prefix=self.service_prefix,
            )
        except Unmappable as exc:
            page.skipped.append(f"{repo}#{number}: {exc}")
            return
        attributes = _attributes(issue)
        for kind, event in events:
            if attributes and kind == "transition":
                event["attributes"] = attributes
        page.events.extend(events)

    # -- deployments ---------------------------------------------------------------------

    def deploy_pages(self, repo: str, after: datetime | None) -> Iterator[Page]:
        reach = None if after is None else after - DEPLOY_REACH
        for deployments in self.listed(f"/repos/{_path(repo)}/deployments"):
            page, older = Page(0), False
            for deployment in deployments:
                created = _moment(deployment.get("created_at"))
                if reach is not None and created is not None and created < reach:
                    older = True  # newest first: the rest are older still
                    break
                for statuses in self.listed(f"/repos/{_path(repo)}/deployments/{deployment.get('id')}/statuses"):
                    for status in statuses:
                        try:
                            page.events.extend(adapter.from_deployment_status(deployment, status, repo))
                        except Unmappable as exc:
                            page.skipped.append(f"{repo} deployment {deployment.get('id')}: {exc}")
            yield page
            if older:
                return


def _attributes(issue: dict[str, Any]) -> dict[str, Any]:
    """What GitHub says of the issue beyond the contract, as of this pass: labels, milestone."""
    labels = [x.get("name") for x in issue.get("labels") or [] if isinstance(x, dict)]
    milestone = issue.get("milestone")
    values = {
        "labels": [x for x in labels if isinstance(x, str) and x] or None,
        "milestone": milestone.get("title") if isinstance(milestone, dict) else None,
    }
    return bounded({k: v for k, v in values.items() if v is not None})


def _next(link: str | None) -> str | None:
    for entry in parse_header_links(link or ""):
        if entry.get("rel") == "next" and entry.get("url"):
            return entry["url"]
    return None


def _path(repo: str) -> str:
    owner, _, name = repo.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value).astimezone(UTC) if isinstance(value, str) else None
    except ValueError:
        return None

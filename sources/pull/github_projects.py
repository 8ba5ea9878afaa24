"""The Status of a GitHub Projects (v2) board's items, pulled through GitHub's GraphQL API, as the
transitions the ``projects_v2_item`` webhook of the same change gives (sources/adapters/github.py).

Query (docs.github.com "Using the API to manage Projects" and the GraphQL reference of ``ProjectV2``,
``ProjectV2Item``, ``fieldValueByName`` and ``ProjectV2ItemFieldSingleSelectValue``):
``POST {api}/graphql`` (Enterprise Server: ``https://HOST/api/graphql``) asks
``organization(login)`` or ``user(login)`` -> ``projectV2(number)`` -> ``items(first: 100, after)``,
paged by ``pageInfo.endCursor``: each item's database id, its content (the issue or pull request's
node id, or the draft issue's) and the value of the Status field with its option name, its own
``updatedAt`` and the field's node id.

What a pull can see: GraphQL exposes each item's CURRENT Status only, no history. A pass therefore
makes one transition per item whose Status value was set since the cursor less ``sync_overlap``
(every item with a Status on the first pass): to that status, at the value's ``updatedAt``, with
``from_state`` unknown (None). A status changed twice between two passes shows only the second
change. Nothing needs remembering between passes: the Status value's ``updatedAt`` tells what
changed, and an item asked twice lands once (its event_id does not change while its Status does not).

Same event_id as the webhook: ``gh-pv2-<item database id>-<field node id>-<status>-<at>``. The
webhook's ``at`` is the item's ``updated_at`` when the Status was edited, which is the instant of
that edit, as is the Status value's ``updatedAt``; the item's own ``updatedAt`` is not used because
any later edit (another field, a move on the board) changes it and would make a new id for an
unchanged Status. The ticket is the content's node id and the board ``OWNER/projects/NUMBER``, as the
webhook names them.

GraphQL answers 200 with ``errors`` for what REST answers 401/403/404 for: INSUFFICIENT_SCOPES (the
token lacks ``read:project`` / "Projects: read") and NOT_FOUND (no such project, or one the token
cannot see) become one sentence each, as do the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sources.adapters import Unmappable
from sources.adapters import github as adapter
from sources.pull.client import ApiClient, ApiRefused, ApiUnavailable
from sources.pull.jira import Page, bounded

PROJECT_SCOPES = (
    'a fine-grained token with the organization permission "Projects: read", or a classic token with read:project'
)

# One query for an organization's and a user's project: only the owner field differs.
QUERY = """query($login: String!, $number: Int!, $field: String!, $first: Int!, $after: String) {
  %s(login: $login) {
    projectV2(number: $number) {
      number
      items(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          databaseId
          updatedAt
          type
          content {
            __typename
            ... on Issue { id number repository { nameWithOwner } }
            ... on PullRequest { id number repository { nameWithOwner } }
            ... on DraftIssue { id }
          }
          status: fieldValueByName(name: $field) {
            __typename
            ... on ProjectV2ItemFieldSingleSelectValue {
              name
              optionId
              updatedAt
              field { ... on ProjectV2FieldCommon { id name } }
            }
          }
        }
      }
    }
  }
}"""


def graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint beside its REST API: {api}/graphql, or https://HOST/api/graphql on
    Enterprise Server, whose REST API is https://HOST/api/v3."""
    base = api_url.rstrip("/")
    return base[: -len("/v3")] + "/graphql" if base.endswith("/api/v3") else base + "/graphql"


class ProjectStatus:
    """The Status of one Projects (v2) board, e.g. ``orgs/acme/projects/7``."""

    def __init__(self, client: ApiClient, api_url: str, project: str, status_field: str, page_size: int = 100) -> None:
        owners, self.login, _, number = project.split("/")
        self.owner_field = "organization" if owners == "orgs" else "user"
        self.number = int(number)
        self.project = project
        self.client = client
        self.url = graphql_url(api_url)
        self.status_field = status_field
        self.page_size = page_size

    def pages(self, after: datetime | None) -> Iterator[Page]:
        cursor: str | None = None
        while True:
            items = self._items(cursor)
            page = Page(0)
            for item in items.get("nodes") or []:
                if isinstance(item, dict):
                    page.issues += 1
                    self._map(item, after, page)
            yield page
            info = items.get("pageInfo") or {}
            cursor = info.get("endCursor")
            if not info.get("hasNextPage") or not cursor:
                return

    def _items(self, cursor: str | None) -> dict[str, Any]:
        variables = {
            "login": self.login,
            "number": self.number,
            "field": self.status_field,
            "first": self.page_size,
            "after": cursor,
        }
        answer = self.client.post_json(self.url, {"query": QUERY % self.owner_field, "variables": variables})
        if not isinstance(answer, dict):
            raise ApiRefused(f"GitHub at {self.url} answered the Projects query with something that is not an object.")
        if answer.get("errors"):
            raise _refusal(self.url, self.project, answer["errors"])
        owner = (answer.get("data") or {}).get(self.owner_field) or {}
        project = owner.get("projectV2")
        if not isinstance(project, dict) or not isinstance(project.get("items"), dict):
            raise ApiRefused(_not_found(self.url, self.project, ""))
        return project["items"]

    def _map(self, item: dict[str, Any], after: datetime | None, page: Page) -> None:
        status = item.get("status")
        if not isinstance(status, dict) or not isinstance(status.get("name"), str):
            return  # no Status set (v1 has no "no state"), or the field is not single-select
        set_at = status.get("updatedAt") or item.get("updatedAt")
        moment = _moment(set_at)
        if after is not None and moment is not None and moment < after:
            return  # unchanged since the last pass (less the overlap)
        content: dict[str, Any] = item["content"] if isinstance(item.get("content"), dict) else {}
        field: dict[str, Any] = status["field"] if isinstance(status.get("field"), dict) else {}
        # The projects_v2_item "edited" payload this change would have sent, so the adapter maps both alike.
        payload = {
            "action": "edited",
            "changes": {
                "field_value": {
                    "field_node_id": field.get("id"),
                    "field_type": "single_select",
                    "field_name": field.get("name") or self.status_field,
                    "project_number": self.number,
                    "from": None,  # GraphQL has the current value only
                    "to": {"id": status.get("optionId"), "name": status["name"]},
                }
            },
            "projects_v2_item": {
                "id": item.get("databaseId"),
                "node_id": item.get("id"),
                "content_node_id": content.get("id"),
                "content_type": content.get("__typename"),
                "updated_at": set_at,
            },
            "organization": {"login": self.login},
        }
        try:
            events = adapter.from_webhook("projects_v2_item", payload, status_field=self.status_field)
        except Unmappable as exc:
            page.skipped.append(f"{self.project} item {item.get('databaseId') or item.get('id')}: {exc}")
            return
        repo, number = (content.get("repository") or {}).get("nameWithOwner"), content.get("number")
        attributes = bounded({"item_of": f"{repo}#{number}"} if repo and number else {})
        for _, event in events:
            if attributes:
                event["attributes"] = attributes  # which repository issue the project item is
        page.events.extend(events)


def _refusal(url: str, project: str, errors: Any) -> ApiRefused | ApiUnavailable:
    """One sentence for GraphQL's errors (200 with ``errors``: types INSUFFICIENT_SCOPES, NOT_FOUND, ...)."""
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    kind, message = first.get("type"), str(first.get("message") or "")[:300]
    said = f" (GitHub said: {message})" if message else ""
    if kind == "INSUFFICIENT_SCOPES":
        return ApiRefused(
            f"GitHub at {url} refused to read the project {project}{said}; FLOWMETER_GITHUB_TOKEN must be "
            f"{PROJECT_SCOPES}."
        )
    if kind == "NOT_FOUND":
        return ApiRefused(_not_found(url, project, said))
    if kind == "RATE_LIMITED":
        return ApiUnavailable(f"GitHub at {url} rate-limited the Projects query{said}; run it again later.")
    return ApiRefused(f"GitHub at {url} refused the Projects query for {project}{said}.")


def _not_found(url: str, project: str, said: str) -> str:
    return (
        f"GitHub at {url} has no project {project}{said}; check github_project (orgs/OWNER/projects/NUMBER or "
        f"users/LOGIN/projects/NUMBER, as in the project's URL) and that FLOWMETER_GITHUB_TOKEN can see it: "
        f"{PROJECT_SCOPES}."
    )


def _moment(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None

"""GitLab webhooks: the adapter on payloads shaped as documented, and /webhooks/gitlab's X-Gitlab-Token check.

Payloads follow https://docs.gitlab.com/user/project/integrations/webhook_events/ (Work item events,
formerly Issue events: object_kind issue, object_attributes.action open | close | reopen | update,
changes.labels / changes.assignees with previous and current; Deployment events: status,
status_changed_at, deployment_id, deployable_id, environment, short_sha, commit_url).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from flowcore.settings import load_settings
from sources.adapters import Unmappable
from sources.adapters import gitlab as adapter
from sources.receiver import Broker, build_app
from streams.broker import free_port

STATES = {"doing": "Doing", "review": "Review"}
PROJECT = {"id": 30, "name": "shop", "path_with_namespace": "acme/shop"}


def _issue_hook(action: str, labels: list[str], changes: dict[str, Any] | None = None, **attrs: Any) -> dict:
    listed = [{"id": 200 + n, "title": name} for n, name in enumerate(labels)]
    return {
        "object_kind": "issue",
        "event_type": "issue",
        "user": {"id": 1, "name": "Mia Krystof", "username": "mia"},
        "project": PROJECT,
        "object_attributes": {
            "id": 5001,
            "iid": 1,
            "title": "Checkout times out",
            "state": "closed" if action == "close" else "opened",
            "created_at": "2024-05-01 07:00:00 UTC",
            "updated_at": "2024-05-02 08:00:00 UTC",
            "closed_at": "2024-05-03 08:00:00 UTC" if action == "close" else None,
            "labels": listed,
            "action": action,
            "type": "Issue",
            **attrs,
        },
        "labels": listed,
        "assignees": [{"id": 7, "name": "Noor", "username": "noor"}],
        "changes": changes or {},
    }


def _labels(previous: list[str], current: list[str]) -> dict:
    return {"labels": {"previous": [{"title": n} for n in previous], "current": [{"title": n} for n in current]}}


def test_issue_hooks_map_as_the_github_adapter_maps_its_equivalents() -> None:
    opened = adapter.from_webhook(_issue_hook("open", ["Doing"], _labels([], ["Doing"])), label_states=STATES)
    assert [(e["event_id"], e["from_state"], e["to_state"], e["at"]) for _, e in opened] == [
        ("gl-5001-opened", None, "Open", "2024-05-01T07:00:00Z"),
        ("gl-5001-hook-labels-2024-05-01T07:00:00Z", "Open", "Doing", "2024-05-01T07:00:00Z"),
    ]
    assert opened[0][1]["ticket_id"] == "acme/shop#1" and opened[0][1]["board"] == "acme/shop"
    assert opened[0][1]["assignee"] == "noor" and opened[0][1]["source"] == "gitlab"

    moved = adapter.from_webhook(_issue_hook("update", ["Review"], _labels(["Doing"], ["Review"])), label_states=STATES)
    assert [(e["from_state"], e["to_state"], e["at"]) for _, e in moved] == [
        ("Doing", "Review", "2024-05-02T08:00:00Z")
    ]
    unmapped = _issue_hook("update", ["Doing", "bug"], _labels(["Doing"], ["Doing", "bug"]))
    assert adapter.from_webhook(unmapped, label_states=STATES) == []  # a label no state maps

    closed = adapter.from_webhook(_issue_hook("close", ["Doing"]), label_states=STATES)
    assert [(e["from_state"], e["to_state"], e["at"]) for _, e in closed] == [
        ("Doing", "Closed", "2024-05-03T08:00:00Z")
    ]
    reopened = adapter.from_webhook(_issue_hook("reopen", ["Review"]), label_states=STATES)
    assert [(e["from_state"], e["to_state"]) for _, e in reopened] == [("Closed", "Review")]

    handed = _issue_hook(
        "update", ["Doing"], {"assignees": {"previous": [{"username": "mia"}], "current": [{"username": "noor"}]}}
    )
    ((_, reassigned),) = adapter.from_webhook(handed, label_states=STATES)
    assert (reassigned["from_state"], reassigned["to_state"], reassigned["assignee"]) == ("Doing", "Doing", "noor")
    # A re-delivery maps to the same ids.
    assert adapter.from_webhook(handed, label_states=STATES)[0][1]["event_id"] == reassigned["event_id"]
    # Comments, pushes, merge requests: nothing flowmeter measures.
    assert adapter.from_webhook({"object_kind": "merge_request", "object_attributes": {"action": "merge"}}) == []


def test_deployment_hooks_give_deploys_when_finished() -> None:
    hook = {
        "object_kind": "deployment",
        "status": "failed",
        "status_changed_at": "2021-04-28 21:50:00 +0200",
        "deployment_id": 15,
        "deployable_id": 796,
        "environment": "production",
        "project": PROJECT,
        "short_sha": "279484c0",
        "commit_url": "https://gitlab.example.com/acme/shop/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
    }
    ((kind, deploy),) = adapter.from_webhook(hook)
    assert kind == "deploy" and deploy["event_id"] == "gl-deployment-15-failed" and deploy["status"] == "failure"
    assert deploy["at"] == "2021-04-28T19:50:00Z" and deploy["service"] == "acme/shop"
    assert deploy["version"] == "279484c09fbe" and deploy["commits"][0]["sha"].startswith("279484c09fbe")
    assert adapter.from_webhook(dict(hook, status="running")) == []
    assert adapter.from_webhook(dict(hook, status="canceled")) == []  # nothing finished reaching the environment
    old = {k: v for k, v in hook.items() if k != "deployment_id"}  # a GitLab that predates deployment_id
    assert adapter.from_webhook(old)[0][1]["event_id"] == "gl-deployable-796-failed"
    with pytest.raises(Unmappable, match="environment"):
        adapter.from_webhook(dict(hook, environment=""))


@pytest.fixture
def receiver() -> Iterator[str]:
    """The receiver's app in this process, with a broker address where nothing listens."""
    conf = load_settings(gitlab_secret="gl-s3cret", broker="127.0.0.1:1")
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(build_app(conf, Broker(conf, "127.0.0.1:1")))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_the_gitlab_route_wants_x_gitlab_token(receiver: str) -> None:
    # Follows: https://docs.gitlab.com/user/project/integrations/webhooks/ (Secret token: sent as
    # X-Gitlab-Token, as is, to be compared by the receiver).
    body = _issue_hook("close", [])
    url = f"{receiver}/webhooks/gitlab"
    for headers in ({}, {"X-Gitlab-Token": "wrong"}, {"X-Gitlab-Token": ""}):
        refused = requests.post(url, json=body, headers={"X-Gitlab-Event": "Issue Hook", **headers}, timeout=10)
        assert refused.status_code == 401 and "X-Gitlab-Token" in refused.json()["error"]
    # The right token passes the check; with no broker listening, the answer is 503 (the sender retries).
    passed = requests.post(url, json=body, headers={"X-Gitlab-Token": "gl-s3cret"}, timeout=15)
    assert passed.status_code == 503

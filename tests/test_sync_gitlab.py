"""`flowmeter init gitlab` and `flowmeter sync gitlab` against a local GitLab (tests/helpers/fake_gitlab.py),
never the real service. Each test names the docs.gitlab.com page whose requests and responses it follows.

The project acme/shop: labels Doing, Review, bug; one issue board with the lists Doing, Review.
Lists answer at most 2 items a page.
  #1 (id 5001) created 2024-05-01 07:00Z; Doing 05-01 08:00Z; Doing -> Review 05-02 08:00Z (a remove and
     an add of the same instant: one transition); Review -> Doing 05-02 14:00Z; closed 05-03 08:00Z.
     5 transitions (opening + 4).
  #2 .. #5 created 05-01 07:00Z, Doing 05-01 10:00Z: 2 transitions each.
  5 issues = pages of 2, 2, 1; 5 + 4 x 2 = 13 transitions.
  Deployments: 9001 success to production of sha A (commit 05-02 20:00Z), 08:50Z -> 09:00Z on 05-03,
  which merged MR !7 with commits B (05-02 12:00Z) and C (05-02 13:00Z); 9002 running (nothing);
  9003 failed to staging of sha D, 05-03 10:00Z. 2 deploys. 15 events in all.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flowcore.settings import load_settings
from sources.adapters import gitlab as adapter
from sources.pull.client import ApiUnavailable
from sources.pull.gitlab import cursor_key, gitlab_client, selection_of
from tests.helpers.fake_gitlab import TOKEN, FakeGitLab
from tests.helpers.local_service import kill_midway
from tests.helpers.processes import flowmeter

ENV = {"FLOWMETER_GITLAB_TOKEN": TOKEN, "FLOWMETER_SYNC_OVERLAP": "300"}
PROJECT = "acme/shop"
A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def _site(gitlab: FakeGitLab) -> dict[str, int]:
    """Fill the local GitLab as the module docstring says; returns #1's resource event ids."""
    gitlab.project(PROJECT, labels=["Doing", "Review", "bug"], board_lists=["Doing", "Review"])
    gitlab.issue(PROJECT, 1, "2024-05-01T07:00:00+00:00", assignee="noor")
    ids = {"doing": gitlab.label(PROJECT, 1, "2024-05-01T08:00:00+00:00", "Doing")}
    gitlab.label(PROJECT, 1, "2024-05-02T08:00:00+00:00", "Doing", "remove")
    ids["review"] = gitlab.label(PROJECT, 1, "2024-05-02T08:00:00+00:00", "Review")
    gitlab.label(PROJECT, 1, "2024-05-02T14:00:00+00:00", "Review", "remove")
    ids["back"] = gitlab.label(PROJECT, 1, "2024-05-02T14:00:00+00:00", "Doing")
    ids["closed"] = gitlab.state(PROJECT, 1, "2024-05-03T08:00:00+00:00", "closed")
    for n in range(2, 6):
        gitlab.issue(PROJECT, n, "2024-05-01T07:00:00+00:00")
        gitlab.label(PROJECT, n, "2024-05-01T10:00:00+00:00", "Doing")
    gitlab.deployment(PROJECT, 9001, "success", A, "production", "2024-05-03T08:50:00+00:00",
                      "2024-05-03T09:00:00+00:00", "2024-05-02T20:00:00+00:00")  # fmt: skip
    gitlab.deployment(PROJECT, 9002, "running", C, "production", "2024-05-03T09:30:00+00:00", None,
                      "2024-05-02T13:00:00+00:00")  # fmt: skip
    gitlab.deployment(PROJECT, 9003, "failed", D, "staging", "2024-05-03T09:55:00+00:00",
                      "2024-05-03T10:00:00+00:00", "2024-05-03T09:00:00+00:00")  # fmt: skip
    gitlab.merge_request(PROJECT, 7, A, [(B, "2024-05-02T12:00:00.000Z"), (C, "2024-05-02T13:00:00.000Z")])
    return ids


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab(page=2) as site:
        yield site


def _sync(gitlab: FakeGitLab, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    db = str(tmp_path / "flow.duckdb")
    return flowmeter(
        "sync", "gitlab", "--url", gitlab.url, "--project", PROJECT, "--once", "--db", db, env=env or ENV, cwd=tmp_path
    )


def _rows(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_init_then_sync_lands_ticket_flow_and_deploys_as_computed_by_hand(gitlab: FakeGitLab, tmp_path: Path) -> None:
    # Follows: https://docs.gitlab.com/api/issues/#list-project-issues (updated_after, order_by, per_page),
    #   https://docs.gitlab.com/api/rest/#pagination (x-next-page, Link rel="next"),
    #   https://docs.gitlab.com/api/resource_state_events/ and https://docs.gitlab.com/api/resource_label_events/,
    #   https://docs.gitlab.com/api/deployments/#list-project-deployments,
    #   https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit,
    #   https://docs.gitlab.com/api/boards/ (lists with label and position), https://docs.gitlab.com/api/labels/
    ids = _site(gitlab)
    init = flowmeter("init", "gitlab", "--url", gitlab.url, "--project", PROJECT, env=ENV, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    written = (tmp_path / "flowmeter.toml").read_text()
    assert TOKEN not in written
    assert '"Doing" = "Doing"\n"Review" = "Review"\n# Other labels' in written  # board order, by position
    assert '# "bug" = "bug"' in written
    assert '{ name = "Open",   category = "backlog" }' in written
    assert '{ name = "Doing",  category = "active" }' in written
    assert '{ name = "Review", category = "queue" }' in written  # named like waiting
    assert '{ name = "Closed", category = "done" }' in written
    again = flowmeter("init", "gitlab", "--url", gitlab.url, "--project", PROJECT, env=ENV, cwd=tmp_path)
    assert again.returncode == 1 and "exists; pass --force" in again.stderr and "Traceback" not in again.stderr

    gitlab.requests.clear()
    first = _sync(gitlab, tmp_path)  # reads gitlab_label_states from the written flowmeter.toml
    assert first.returncode == 0, first.stderr
    assert "5 issues, 15 events" in first.stdout and "15 landed, 0 duplicates" in first.stdout
    pages = gitlab.asked("/projects/acme%2Fshop/issues")
    assert [q.get("page") for q in pages] == [None, "2", "3"] and "updated_after" not in pages[0]
    assert len(gitlab.asked("/issues/1/resource_label_events")) == 3  # 5 events, 2 a page

    # #1 by hand: committed 05-01 08:00 (Doing), done 05-03 08:00 -> cycle 2 days; lead 07:00 05-01 ->
    # 08:00 05-03 = 49 h; active = Doing 24 h + 18 h = 1.75 days; wait = Review 6 h = 0.25 days;
    # efficiency 42 / 48 = 0.875.
    flow = _rows(
        tmp_path,
        "SELECT ticket_id, board, state, category, committed_at, done_at, cycle_time_days, lead_time_days, "
        "wait_days, active_days, flow_efficiency, transitions FROM ticket_flow ORDER BY ticket_id",
    )
    assert len(flow) == 5
    assert flow[0][:6] == ("acme/shop#1", PROJECT, "Closed", "done", datetime(2024, 5, 1, 8), datetime(2024, 5, 3, 8))
    assert flow[0][6:] == (2.0, pytest.approx(49 / 24), pytest.approx(0.25), pytest.approx(1.75), 0.875, 5)
    for row in flow[1:]:  # Doing since 05-01 10:00, still open
        assert row[2:6] == ("Doing", "active", datetime(2024, 5, 1, 10), None) and row[11] == 2
    landed = {r[0] for r in _rows(tmp_path, "SELECT event_id FROM transitions WHERE ticket_id = 'acme/shop#1'")}
    assert landed == {
        "gl-5001-opened",
        f"gl-5001-label-{ids['doing']}",
        f"gl-5001-label-{ids['review']}",
        f"gl-5001-label-{ids['back']}",
        f"gl-5001-state-{ids['closed']}",
    }
    # The current assignee rides on the newest transition only (GitLab keeps no assignee history).
    assert _rows(tmp_path, "SELECT assignee FROM transitions WHERE ticket_id = 'acme/shop#1' ORDER BY occurred_at") == [
        (None,), (None,), (None,), (None,), ("noor",)
    ]  # fmt: skip

    deploys = _rows(
        tmp_path,
        "SELECT event_id, environment, status, finished_at, started_at, commits FROM deploys ORDER BY event_id",
    )
    assert deploys == [
        (
            "gl-deployment-9001-success",
            "production",
            "success",
            datetime(2024, 5, 3, 9),
            datetime(2024, 5, 3, 8, 50),
            [
                {"sha": A, "committed_at": datetime(2024, 5, 2, 20)},
                {"sha": B, "committed_at": datetime(2024, 5, 2, 12)},
                {"sha": C, "committed_at": datetime(2024, 5, 2, 13)},
            ],
        ),
        (
            "gl-deployment-9003-failed",
            "staging",
            "failure",
            datetime(2024, 5, 3, 10),
            datetime(2024, 5, 3, 9, 55),
            [{"sha": D, "committed_at": datetime(2024, 5, 3, 9)}],
        ),
    ]


def test_second_pass_asks_updated_after_the_cursor_and_lands_only_the_change(
    gitlab: FakeGitLab, tmp_path: Path
) -> None:
    # Follows: https://docs.gitlab.com/api/issues/#list-project-issues ("updated_after: Return issues
    #   updated on or after the given time", ISO 8601) and the deployments list's updated_after.
    _site(gitlab)
    env = ENV | {"FLOWMETER_GITLAB_LABEL_STATES": '{"doing": "Doing", "review": "Review"}'}  # no flowmeter.toml here
    assert _sync(gitlab, tmp_path, env).returncode == 0
    (cursor,) = _rows(tmp_path, "SELECT cursor_key, synced_from, passes FROM sync_cursors")
    assert cursor[0] == cursor_key("gitlab", gitlab.url, PROJECT) and cursor[2] == 1
    now = datetime.now(UTC).isoformat(timespec="seconds")
    gitlab.label(PROJECT, 2, now, "Doing", "remove")  # changed between the passes: Doing -> Review
    gitlab.label(PROJECT, 2, now, "Review")
    gitlab.requests.clear()

    second = _sync(gitlab, tmp_path, env)
    assert second.returncode == 0, second.stderr
    # Only #2 was updated since the cursor less 5 minutes: its 3 transitions, 2 already landed.
    assert "1 issues, 3 events" in second.stdout and "1 landed, 2 duplicates" in second.stdout
    asked = (cursor[1].replace(tzinfo=UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (issues,) = gitlab.asked("/projects/acme%2Fshop/issues")
    assert issues["updated_after"] == asked and issues["order_by"] == "updated_at"
    (deployments,) = gitlab.asked("/projects/acme%2Fshop/deployments")
    assert deployments["updated_after"] == asked and deployments["order_by"] == "updated_at"
    assert _rows(tmp_path, "SELECT state FROM ticket_flow WHERE ticket_id = 'acme/shop#2'") == [("Review",)]
    assert _rows(tmp_path, "SELECT passes FROM sync_cursors") == [(2,)]
    assert selection_of(["b/x", " a/y ", "b/x"]) == "a/y\nb/x"  # another order is the same selection


def test_a_pass_killed_midway_and_run_again_lands_everything_once(gitlab: FakeGitLab, tmp_path: Path) -> None:
    # Follows the issues list page above: the site stalls on page 3 of the issues, the pass is SIGKILLed there.
    _site(gitlab)
    gitlab.stall_after = 2
    labels = {"FLOWMETER_GITLAB_LABEL_STATES": '{"doing": "Doing", "review": "Review"}'}
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")} | ENV | labels
    command = ["sync", "gitlab", "--url", gitlab.url, "--project", PROJECT]
    command += ["--once", "--db", str(tmp_path / "flow.duckdb")]
    kill_midway(gitlab, command, env, tmp_path, lambda: len(gitlab.asked("/projects/acme%2Fshop/issues")) >= 3)

    rerun = _sync(gitlab, tmp_path, ENV | labels)
    assert rerun.returncode == 0, rerun.stderr
    assert "updated_after" not in gitlab.asked("/projects/acme%2Fshop/issues")[0]  # no cursor: a full pass
    # Issues come by updated_at, oldest first: #2..#5 (updated 05-01 10:00) before #1 (05-03 08:00).
    # Pages 1-2 (#2..#5: 4 x 2 = 8 events) landed before the kill; #1 (5) and the 2 deploys did not.
    assert "15 events" in rerun.stdout and "7 landed, 8 duplicates" in rerun.stdout
    assert _rows(tmp_path, "SELECT count(*), count(DISTINCT event_id) FROM transitions") == [(13, 13)]
    assert _rows(tmp_path, "SELECT count(*) FROM deploys") == [(2,)]


def test_refusals_are_one_sentence_naming_the_token_scope_or_project(gitlab: FakeGitLab, tmp_path: Path) -> None:
    # Follows: https://docs.gitlab.com/api/rest/troubleshooting/#status-codes (401 Unauthorized, 404 Not Found)
    _site(gitlab)
    refused = _sync(gitlab, tmp_path, ENV | {"FLOWMETER_GITLAB_TOKEN": "wrong"})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "refused FLOWMETER_GITLAB_TOKEN (401)" in refused.stderr and "read_api" in refused.stderr
    missing = flowmeter(
        "sync", "gitlab", "--url", gitlab.url, "--project", "acme/nope", "--once", "--db", str(tmp_path / "f.duckdb"),
        env=ENV, cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "(404)" in missing.stderr and "--project" in missing.stderr and "404 Project Not Found" in missing.stderr


def test_rate_limited_requests_wait_as_retry_after_or_ratelimit_reset_says(gitlab: FakeGitLab) -> None:
    # Follows: https://docs.gitlab.com/administration/settings/user_and_ip_rate_limits/#response-headers
    #   (429 with Retry-After and RateLimit-Reset, a Unix time)
    _site(gitlab)
    conf = load_settings(gitlab_token=TOKEN, sync_retries=3)
    waits: list[float] = []
    client = gitlab_client(conf, gitlab.url)
    client._sleep = waits.append
    gitlab.throttle, gitlab.retry_after = 2, "7"
    assert client.get("/api/v4/projects/acme%2Fshop/labels")[0]["name"] == "Doing"
    assert waits == [7.0, 7.0] and client.requests == 3
    gitlab.throttle, gitlab.retry_after = 1, None  # only RateLimit-Reset, 30 s from the answer
    client.get("/api/v4/projects/acme%2Fshop/labels")
    assert 27 <= waits[-1] <= 30
    gitlab.throttle = 10
    with pytest.raises(ApiUnavailable, match="kept answering 429"):
        client.get("/api/v4/projects/acme%2Fshop/labels")


def test_a_webhook_and_a_pull_of_the_same_opening_and_deployment_share_event_ids() -> None:
    # Follows: https://docs.gitlab.com/user/project/integrations/webhook_events/#work-item-events and
    #   #deployment-events; the pulled shapes of the API pages above.
    opened = {"object_kind": "issue", "user": {"username": "mia"}, "project": {"path_with_namespace": PROJECT},
              "object_attributes": {"id": 5001, "iid": 1, "action": "open", "state": "opened",
                                    "created_at": "2024-05-01 07:00:00 UTC", "updated_at": "2024-05-01 07:00:00 UTC"},
              "labels": [], "changes": {}}  # fmt: skip
    pulled = {"id": 5001, "iid": 1, "created_at": "2024-05-01T07:00:00.000Z", "author": {"username": "mia"}}
    assert (
        adapter.from_webhook(opened)[0][1]["event_id"] == adapter.from_issue(PROJECT, pulled, [], [])[0][1]["event_id"]
    )
    hook = {"object_kind": "deployment", "status": "success", "status_changed_at": "2024-05-03 11:00:00 +0200",
            "deployment_id": 9001, "deployable_id": 9101, "environment": "production",
            "project": {"path_with_namespace": PROJECT}, "short_sha": A[:8],
            "commit_url": f"https://gitlab.example.com/{PROJECT}/-/commit/{A}"}  # fmt: skip
    deployment = {"id": 9001, "status": "success", "sha": A, "environment": {"name": "production"},
                  "updated_at": "2024-05-03T09:00:00.000Z", "finished_at": "2024-05-03T09:00:00.000Z"}  # fmt: skip
    (_, pushed), (_, pull) = adapter.from_webhook(hook)[0], adapter.from_deployment(PROJECT, deployment)[0]
    assert pushed["event_id"] == pull["event_id"] == "gl-deployment-9001-success"
    assert pushed["at"] == pull["at"] == "2024-05-03T09:00:00Z" and pushed["commits"] == [
        {"sha": A, "committed_at": None}
    ]

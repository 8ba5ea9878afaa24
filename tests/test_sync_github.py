"""`flowmeter init github` and `flowmeter sync github` against a local GitHub (tests/helpers/fake_github.py),
never the real service. Each test names the docs.github.com page whose requests and responses it follows.

The repository acme/api, labels bug, enhancement, in progress, review, blocked; pages of at most 2 items.
  #1 opened 05-01 08:00Z; labeled "in progress" 10:00 (-> In Progress); labeled "review" 05-02 10:00
     (-> Review: listed after "in progress"); unlabeled "review" 05-02 16:00 (-> In Progress); closed
     (completed) 05-03 08:00 (-> Closed). 5 transitions; a comment and a cross-reference give nothing.
  #2 opened 05-01 08:00; assigned bo 09:00 (Open -> Open, a reassignment); labeled "in progress" 12:00.
     3 transitions.
  #3 a pull request: skipped.
  #4 opened 05-02 08:00; labeled "bug" 09:00 (no state); closed as not_planned 10:00 (-> Not Planned). 2.
  #5 opened 05-02 08:00; labeled "blocked" 11:00 (-> Blocked). 2.
  Issue list pages (oldest update first: #2 05-01 12:00, #4 05-02 10:00, #5 11:00, #3 20:00, #1 05-03
  08:00): [#2, #4], [#5, #3], [#1]: 4 issues, 12 transitions.
  Deployments (newest first): 901 staging failure 05-03 12:05; 900 production in_progress (nothing),
  success 05-03 09:10; 899 production success 05-01 15:00, inactive 05-03 09:10 (nothing): 3 deploys.
  15 events in all.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from pydantic import SecretStr

from flowcore.settings import Settings
from sources.adapters import github as adapter
from sources.pull.client import ApiRefused
from sources.pull.github import github_client
from sources.pull.jira import cursor_key
from tests.helpers import github_payloads as hook
from tests.helpers.fake_github import TOKEN, FakeGitHub
from tests.helpers.local_service import kill_midway
from tests.helpers.processes import flowmeter

ENV = {"FLOWMETER_GITHUB_TOKEN": TOKEN, "FLOWMETER_SYNC_OVERLAP": "300"}
# What `init github` suggests for these labels (the first test checks it), for the tests that skip init.
LABELED = ENV | {
    "FLOWMETER_GITHUB_LABEL_STATES": '{"in progress": "In Progress", "review": "Review", "blocked": "Blocked"}'
}
REPO = "acme/api"
SHA = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"


def _site(gh: FakeGitHub) -> None:
    """Fill the local GitHub as the module docstring says."""
    gh.repo(REPO, ["bug", "enhancement", "in progress", "review", "blocked"])
    gh.issue(REPO, 1, "2024-05-01T08:00:00Z")
    gh.event(REPO, 1, "labeled", "2024-05-01T10:00:00Z", label="in progress")
    gh.event(REPO, 1, "commented", "2024-05-01T11:00:00Z", body="on it")
    gh.event(REPO, 1, "labeled", "2024-05-02T10:00:00Z", label="review")
    gh.event(REPO, 1, "unlabeled", "2024-05-02T16:00:00Z", label="review")
    gh.event(REPO, 1, "closed", "2024-05-03T08:00:00Z", state_reason="completed")
    gh.issue(REPO, 2, "2024-05-01T08:00:00Z")
    gh.event(REPO, 2, "assigned", "2024-05-01T09:00:00Z", assignee="bo")
    gh.event(REPO, 2, "labeled", "2024-05-01T12:00:00Z", label="in progress")
    gh.issue(REPO, 3, "2024-05-01T08:30:00Z", pull_request=True)
    gh.event(REPO, 3, "labeled", "2024-05-02T20:00:00Z", label="review")
    gh.issue(REPO, 4, "2024-05-02T08:00:00Z")
    gh.event(REPO, 4, "labeled", "2024-05-02T09:00:00Z", label="bug")
    gh.event(REPO, 4, "closed", "2024-05-02T10:00:00Z", state_reason="not_planned")
    gh.issue(REPO, 5, "2024-05-02T08:00:00Z")
    gh.event(REPO, 5, "labeled", "2024-05-02T11:00:00Z", label="blocked")
    gh.deployment(REPO, 899, "production", SHA, "2024-05-01T14:50:00Z")
    gh.status(REPO, 899, 7001, "success", "2024-05-01T15:00:00Z")
    gh.status(REPO, 899, 7004, "inactive", "2024-05-03T09:10:00Z")
    gh.deployment(REPO, 900, "production", SHA, "2024-05-03T09:00:00Z")
    gh.status(REPO, 900, 7002, "in_progress", "2024-05-03T09:01:00Z")
    gh.status(REPO, 900, 7003, "success", "2024-05-03T09:10:00Z")
    gh.deployment(REPO, 901, "staging", SHA, "2024-05-03T12:00:00Z")
    gh.status(REPO, 901, 7005, "failure", "2024-05-03T12:05:00Z")


@pytest.fixture
def gh() -> Iterator[FakeGitHub]:
    with FakeGitHub(page=2) as site:
        _site(site)
        yield site


def _sync(gh: FakeGitHub, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return flowmeter(
        "sync", "github", "--url", gh.url, "--repo", REPO, "--once", "--db", str(tmp_path / "flow.duckdb"),
        env=env or LABELED, cwd=tmp_path,
    )  # fmt: skip


def _rows(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_init_then_sync_lands_ticket_flow_as_computed_by_hand(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows: List repository issues (state, since, sort, direction; items with pull_request are PRs)
    #   https://docs.github.com/en/rest/issues/issues#list-repository-issues
    # List timeline events for an issue: https://docs.github.com/en/rest/issues/timeline
    # List deployments / deployment statuses: https://docs.github.com/en/rest/deployments/deployments
    #   and https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses
    # List labels for a repository: https://docs.github.com/en/rest/issues/labels
    # Paging by the Link header: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    init = flowmeter("init", "github", "--url", gh.url, "--repo", REPO, env=ENV, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    written = (tmp_path / "flowmeter.toml").read_text()
    assert TOKEN not in written
    assert '"in progress" = "In Progress"\n"review" = "Review"\n"blocked" = "Blocked"\n' in written  # flow order
    assert '{ name = "In Progress", category = "active" },' in written
    assert '{ name = "Review",      category = "queue" },' in written and '"Closed",      category = "done"' in written
    assert "# Not states (other labels): bug, enhancement" in written
    again = flowmeter("init", "github", "--url", gh.url, "--repo", REPO, env=ENV, cwd=tmp_path)
    assert again.returncode == 1 and "exists; pass --force" in again.stderr and "Traceback" not in again.stderr

    gh.requests.clear()
    first = _sync(gh, tmp_path, env=ENV)  # label states from the written flowmeter.toml
    assert first.returncode == 0, first.stderr
    assert "4 issues, 15 events" in first.stdout and "15 landed, 0 duplicates" in first.stdout
    listed = gh.lists("/issues")
    assert len(listed) == 3 and listed[0]["state"] == "all" and "since" not in listed[0]  # 5 items, 2 a page
    assert [q.get("page") for q in listed] == [None, "2", "3"]
    assert not any(p.endswith("/issues/3/timeline") for p, _, _ in gh.requests)  # the pull request
    for _, _, headers in gh.requests:  # every request as GitHub's best practices ask
        assert headers["accept"] == "application/vnd.github+json" and headers["x-github-api-version"] == "2022-11-28"

    # #1 by hand: committed 05-01 10:00 (In Progress), done 05-03 08:00 -> cycle 46 h = 1.916667 days;
    # lead 05-01 08:00 -> 05-03 08:00 = 2 days; active: In Progress 24 h + 16 h = 40 h = 1.666667 days;
    # wait: Review 6 h = 0.25 days; efficiency 40 / 46 = 0.869565.
    flow = _rows(
        tmp_path,
        "SELECT ticket_id, board, state, category, committed_at, done_at, cycle_time_days, lead_time_days, "
        "wait_days, active_days, flow_efficiency, transitions FROM ticket_flow ORDER BY ticket_id",
    )
    assert [r[0] for r in flow] == ["acme/api#1", "acme/api#2", "acme/api#4", "acme/api#5"]
    assert flow[0][:6] == ("acme/api#1", REPO, "Closed", "done", datetime(2024, 5, 1, 10), datetime(2024, 5, 3, 8))
    assert flow[0][6:] == (
        pytest.approx(46 / 24),
        2.0,
        pytest.approx(0.25),
        pytest.approx(40 / 24),
        pytest.approx(40 / 46),
        5,
    )
    assert flow[1][2:6] == ("In Progress", "active", datetime(2024, 5, 1, 12), None) and flow[1][11] == 3
    assert flow[2][2:4] == ("Not Planned", "unmapped")  # dropped work: not done (docs/sources.md#github)
    assert flow[3][2:6] == ("Blocked", "queue", datetime(2024, 5, 2, 11), None)
    assert _rows(tmp_path, "SELECT assignee FROM transitions WHERE event_id LIKE '%assigned-bo%'") == [("bo",)]
    deploys = _rows(
        tmp_path, "SELECT event_id, service, environment, status, finished_at, version FROM deploys ORDER BY event_id"
    )
    assert deploys == [
        ("gh-deployment-status-7001", REPO, "production", "success", datetime(2024, 5, 1, 15), SHA[:12]),
        ("gh-deployment-status-7003", REPO, "production", "success", datetime(2024, 5, 3, 9, 10), SHA[:12]),
        ("gh-deployment-status-7005", REPO, "staging", "failure", datetime(2024, 5, 3, 12, 5), SHA[:12]),
    ]
    attributes = _rows(tmp_path, "SELECT DISTINCT attributes::VARCHAR FROM transitions WHERE ticket_id = 'acme/api#4'")
    assert attributes == [('{"labels":["bug"]}',)]

    # The webhooks of the same changes (sources/adapters/github.py) make the same event_ids: they land once.
    states = {"in progress": "In Progress", "review": "Review", "blocked": "Blocked"}
    labeled = hook.issues_event(
        "labeled",
        hook.issue(1, labels=["in progress", "review"], updated_at="2024-05-02T10:00:00Z"),
        label=hook.label("review"),
    )
    closed = hook.issues_event(
        "closed",
        hook.issue(
            1, labels=["in progress"], state="closed", state_reason="completed", closed_at="2024-05-03T08:00:00Z"
        ),
    )
    deployed = hook.deployment_status("failure", environment="staging")
    deployed["deployment_status"]["id"] = 7005
    ids = [e["event_id"] for p in (labeled, closed) for _, e in adapter.from_webhook("issues", p, label_states=states)]
    ids += [e["event_id"] for _, e in adapter.from_webhook("deployment_status", deployed)]
    landed = {r[0] for r in _rows(tmp_path, "SELECT event_id FROM transitions UNION ALL SELECT event_id FROM deploys")}
    assert len(ids) == 3 and set(ids) <= landed


def test_second_pass_asks_since_the_cursor_and_lands_only_the_change(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows: List repository issues, `since`: "Only show results that were last updated after the given time"
    #   https://docs.github.com/en/rest/issues/issues#list-repository-issues
    # and List deployments (newest first): https://docs.github.com/en/rest/deployments/deployments#list-deployments
    assert _sync(gh, tmp_path).returncode == 0
    (cursor,) = _rows(tmp_path, "SELECT cursor_key, synced_from, passes FROM sync_cursors")
    assert cursor[0] == cursor_key("github", gh.url, REPO) and cursor[2] == 1
    gh.event(REPO, 2, "labeled", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), label="review")  # between passes
    gh.requests.clear()

    second = _sync(gh, tmp_path)
    assert second.returncode == 0, second.stderr
    # Only #2 was updated since the cursor less 5 minutes: its 4 transitions, 3 landed already.
    assert "1 issues, 4 events" in second.stdout and "1 landed, 3 duplicates" in second.stdout
    (listed,) = gh.lists("/issues")
    asked = cursor[1].replace(tzinfo=UTC) - timedelta(minutes=5)
    assert listed["since"] == f"{asked:%Y-%m-%dT%H:%M:%SZ}" and listed["sort"] == "updated"
    # Deployments: the newest (05-03) is more than a day before the cursor: paging stops, no statuses asked.
    assert len(gh.lists("/deployments")) == 1 and not gh.lists("/statuses")
    assert _rows(tmp_path, "SELECT state FROM ticket_flow WHERE ticket_id = 'acme/api#2'") == [("Review",)]
    assert _rows(tmp_path, "SELECT passes FROM sync_cursors") == [(2,)]


def test_a_pass_killed_midway_and_run_again_lands_everything_once(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows the List repository issues page above: the API stalls on page 3, the pass is SIGKILLed there.
    gh.stall_after = 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")} | LABELED
    command = ["sync", "github", "--url", gh.url, "--repo", REPO, "--once"]
    command += ["--db", str(tmp_path / "flow.duckdb")]
    kill_midway(gh, command, env, tmp_path, lambda: len(gh.lists("/issues")) >= 3)

    rerun = _sync(gh, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "since" not in gh.lists("/issues")[0]  # no cursor was saved: a full pass again
    # Pages 1-2 (#2: 3, #4: 2, #5: 2 = 7 transitions; #3 a pull request) landed before the kill;
    # page 3 (#1: 5) and the 3 deploys did not: 8 land now.
    assert "15 events" in rerun.stdout and "8 landed, 7 duplicates" in rerun.stdout
    assert _rows(tmp_path, "SELECT count(*), count(DISTINCT event_id) FROM transitions") == [(12, 12)]
    assert _rows(tmp_path, "SELECT count(*) FROM deploys") == [(3,)]


def test_wrong_token_and_unknown_repository_are_one_sentence(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows: 401 "Bad credentials" and 404 "Not Found" (also a private repository the token cannot see)
    #   https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api
    refused = _sync(gh, tmp_path, env=ENV | {"FLOWMETER_GITHUB_TOKEN": "wrong"})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert (
        "refused FLOWMETER_GITHUB_TOKEN (401)" in refused.stderr
        and "Issues, Deployments and Metadata" in refused.stderr
    )
    missing = flowmeter("sync", "github", "--url", gh.url, "--repo", "acme/nope", "--once", "--db",
                        str(tmp_path / "flow.duckdb"), env=ENV, cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "has no /repos/acme/nope/issues (404)" in missing.stderr and "--repo owner/name" in missing.stderr


def test_rate_limits_wait_as_github_says(gh: FakeGitHub) -> None:
    # Follows: "Rate limits for the REST API", exceeding the primary limit (403, x-ratelimit-remaining 0,
    # wait until x-ratelimit-reset, epoch seconds) and a secondary limit (retry-after seconds)
    #   https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
    waits: list[float] = []
    client = github_client(Settings(github_token=SecretStr(TOKEN)), gh.url, sleep=waits.append)
    gh.spent = 1  # reset a second ahead: wait from 1 s (the reset second begun) to 2 s, plus 1 s margin
    assert client.get(f"/repos/{REPO}")["full_name"] == REPO
    assert len(waits) == 1 and 1.0 <= waits[0] <= 2.5 and client.requests == 2
    gh.secondary, waits[:] = 1, []
    assert client.get(f"/repos/{REPO}")["full_name"] == REPO
    assert waits == [2.0]  # retry-after: 2
    # A 401 is no rate limit: refused at once, in one sentence naming the token, not retried.
    no_token = github_client(Settings(), gh.url, sleep=waits.append)
    with pytest.raises(ApiRefused, match="wants a token .401.*FLOWMETER_GITHUB_TOKEN"):
        no_token.get(f"/repos/{REPO}")
    assert no_token.requests == 1


def test_incident_label_gives_the_webhooks_incident_events() -> None:
    # Follows the timeline's labeled/closed entries (https://docs.github.com/en/rest/issues/timeline) and
    # the issues webhook (https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues):
    # an issue opened with labels incident + service:payments on 05-19 08:00, closed 05-20 12:00.
    entry = lambda n, kind, at, **x: {"id": n, "event": kind, "created_at": at, "actor": hook.user("ana"), **x}  # noqa: E731
    timeline = [
        entry(1, "labeled", "2025-05-19T08:00:00Z", label=hook.label("incident")),
        entry(2, "labeled", "2025-05-19T08:00:00Z", label=hook.label("service:payments")),
        entry(3, "unlabeled", "2025-05-19T09:00:00Z", label=hook.label("incident")),  # relabelled: the same
        entry(4, "labeled", "2025-05-19T09:05:00Z", label=hook.label("incident")),  # opening, landed once
        entry(5, "closed", "2025-05-20T12:00:00Z", state_reason="completed"),
    ]
    labels = ["incident", "service:payments"]
    final = hook.issue(12, labels=labels, state="closed", state_reason="completed", closed_at="2025-05-20T12:00:00Z")
    pulled = [e for k, e in adapter.from_timeline(final, timeline, incident_label="incident") if k == "incident"]
    pushed = [
        e
        for p in (hook.issues_event("opened", hook.issue(12, labels=labels)), hook.issues_event("closed", final))
        for k, e in adapter.from_webhook("issues", p, incident_label="incident")
        if k == "incident"
    ]
    assert [(e["event_id"], e["status"], e["at"], e["service"]) for e in pulled] == [
        ("github:acme/api#12:opened:2025-05-19T08:00:00Z", "opened", "2025-05-19T08:00:00Z", "payments"),
        ("github:acme/api#12:resolved:2025-05-20T12:00:00Z", "resolved", "2025-05-20T12:00:00Z", "payments"),
    ]
    assert pulled == pushed


# Projects (v2): the board orgs/acme/projects/7 holds #1 (item 11), #2 (item 12) and #5 (item 13); pages of 2.
PROJECT = "orgs/acme/projects/7"
PROJECTED = LABELED | {"FLOWMETER_GITHUB_PROJECT": PROJECT}


def _board(gh: FakeGitHub) -> None:
    gh.project("acme", 7)
    for item_id, number in ((11, 1), (12, 2), (13, 5)):
        gh.item("acme", 7, item_id, REPO, number)
    gh.set_status("acme", 7, 11, "In Progress", "2024-05-01T10:00:00Z")
    gh.set_status("acme", 7, 12, "Todo", "2024-05-01T09:00:00Z")  # item 13 has no Status: nothing


def test_project_status_is_paged_and_lands_with_the_webhooks_event_ids(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows: "Using the API to manage Projects" (organization.projectV2(number).items, fieldValueByName)
    #   https://docs.github.com/en/issues/planning-and-tracking-with-projects/automating-your-project/using-the-api-to-manage-projects
    # GraphQL ProjectV2Item and ProjectV2ItemFieldSingleSelectValue (name, optionId, updatedAt, field):
    #   https://docs.github.com/en/graphql/reference/objects#projectv2item
    #   https://docs.github.com/en/graphql/reference/objects#projectv2itemfieldsingleselectvalue
    # Paging by pageInfo.endCursor: https://docs.github.com/en/graphql/guides/using-pagination-in-the-graphql-api
    # The projects_v2_item webhook: https://docs.github.com/en/webhooks/webhook-events-and-payloads#projects_v2_item
    _board(gh)
    first = _sync(gh, tmp_path, env=PROJECTED)
    assert first.returncode == 0, first.stderr
    # 4 issues + 3 project items; 15 issue and deploy events + 2 Status values (item 13 has none).
    assert "7 issues, 17 events" in first.stdout and "17 landed, 0 duplicates" in first.stdout
    assert [(q["login"], q["number"], q["field"], q["first"], q["after"]) for q in gh.graphql] == [
        ("acme", 7, "Status", 100, None),
        ("acme", 7, "Status", 100, "cursor:2"),  # page 2 after the first page's endCursor
    ]
    assert all(p == "/graphql" for p, _, _ in gh.requests if not p.startswith("/repos"))
    rows = _rows(
        tmp_path,
        "SELECT ticket_id, from_state, to_state, occurred_at, attributes::VARCHAR FROM transitions "
        "WHERE board = 'acme/projects/7' ORDER BY occurred_at",
    )
    assert rows == [
        ("I_444500002", None, "Todo", datetime(2024, 5, 1, 9), '{"item_of":"acme/api#2"}'),
        ("I_444500001", None, "In Progress", datetime(2024, 5, 1, 10), '{"item_of":"acme/api#1"}'),
    ]
    # The projects_v2_item webhook of item 11's change names the same event: it would land nothing.
    change = hook.status_change("Todo", "In Progress") | {
        "field_node_id": "PVTSSF_lADOANN5s84ACbL0zgBtoSY",
        "project_number": 7,
    }
    payload = hook.project_edit(change)
    payload["projects_v2_item"] |= {
        "id": 11,
        "content_node_id": "I_444500001",
        "updated_at": "2024-05-01T10:00:00Z",
    }
    ((_, pushed),) = adapter.from_webhook("projects_v2_item", payload)
    (landed,) = _rows(tmp_path, "SELECT event_id, ticket_id, board FROM transitions WHERE ticket_id = 'I_444500001'")
    assert landed == (pushed["event_id"], pushed["ticket_id"], pushed["board"])


def test_a_status_changed_between_two_passes_lands_alone(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows the pages above: GraphQL gives the current Status only, with the value's updatedAt.
    _board(gh)
    assert _sync(gh, tmp_path, env=PROJECTED).returncode == 0
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    gh.set_status("acme", 7, 12, "In Progress", now)  # between passes
    gh.graphql.clear()

    second = _sync(gh, tmp_path, env=PROJECTED)
    assert second.returncode == 0, second.stderr
    # No issue changed; all 3 items are read again (GraphQL cannot filter them by time), only item 12's
    # Status was set after the cursor less the overlap: 1 event, and it is new.
    assert "3 issues, 1 events" in second.stdout and "1 landed, 0 duplicates" in second.stdout
    assert len(gh.graphql) == 2
    rows = _rows(tmp_path, "SELECT to_state FROM transitions WHERE ticket_id = 'I_444500002' ORDER BY occurred_at")
    assert rows == [("Todo",), ("In Progress",)]


def test_missing_project_scope_and_unknown_project_are_one_sentence(gh: FakeGitHub, tmp_path: Path) -> None:
    # Follows: GraphQL answers 200 with "errors": type INSUFFICIENT_SCOPES (a classic token without
    # read:project) and NOT_FOUND ("Could not resolve to a ProjectV2 with the number 8.")
    #   https://docs.github.com/en/issues/planning-and-tracking-with-projects/automating-your-project/using-the-api-to-manage-projects
    #   https://docs.github.com/en/graphql/overview/resource-limitations (errors in a 200 answer)
    _board(gh)
    gh.project_scope = False
    refused = _sync(gh, tmp_path, env=PROJECTED)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "refused to read the project orgs/acme/projects/7" in refused.stderr
    assert "read:project" in refused.stderr and '"Projects: read"' in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    gh.project_scope = True
    missing = _sync(
        gh, tmp_path, env=PROJECTED | {"FLOWMETER_GITHUB_PROJECT": "https://github.com/orgs/acme/projects/8"}
    )
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "has no project orgs/acme/projects/8" in missing.stderr and "ProjectV2 with the number 8" in missing.stderr

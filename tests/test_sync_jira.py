"""`flowmeter init jira` and `flowmeter sync jira` against a local Jira (tests/helpers/fake_jira.py),
never the real service. Each test names the Atlassian page whose requests and responses it follows.

The site: Jira Cloud, the caller's time zone Europe/Berlin (UTC+2 in May 2024), project PAY with
statuses To Do (new), In Progress, In Review (indeterminate), Done (done); search pages of at
most 3 issues, each embedding only its 2 newest changes.
  PAY-1 created 2024-05-01 09:00+02 (07:00Z) in To Do; In Progress 05-01 10:00+02 (08:00Z);
        In Review 05-02 10:00+02; In Progress 05-02 16:00+02; Done 05-03 10:00+02 (08:00Z).
        5 transitions (creation + 4 changes), 4 changes > 2 embedded: its changelog is cut off.
  PAY-2 .. PAY-7 created 2024-05-01 09:00+02, In Progress 05-01 12:00+02 (10:00Z): 2 transitions each.
  7 issues = pages of 3, 3, 1; 5 + 6 x 2 = 17 transitions.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import requests

from sources.adapters import jira as adapter
from sources.pull.client import ApiClient, ApiUnavailable, retry_after
from sources.pull.jira import cursor_key
from streams.broker import free_port
from tests.helpers.fake_jira import EMAIL, TOKEN, FakeJira
from tests.helpers.local_service import kill_midway
from tests.helpers.processes import flowmeter
from tests.helpers.waiting import wait_until

ENV = {"FLOWMETER_JIRA_EMAIL": EMAIL, "FLOWMETER_JIRA_TOKEN": TOKEN, "FLOWMETER_SYNC_OVERLAP": "300"}
JQL = "project = PAY ORDER BY key"


def _site(jira: FakeJira) -> dict[str, str]:
    """Fill the local Jira as the module docstring says; returns PAY-1's change history ids."""
    jira.statuses["PAY"] = [
        ("To Do", "new"),
        ("In Progress", "indeterminate"),
        ("In Review", "indeterminate"),
        ("Done", "done"),
    ]
    jira.add("PAY-1", "2024-05-01T09:00:00+02:00", labels=["checkout"], flagged=True)
    ids = {
        "in_progress": jira.move("PAY-1", "2024-05-01T10:00:00+02:00", "In Progress"),
        "review": jira.move("PAY-1", "2024-05-02T10:00:00+02:00", "In Review"),
        "back": jira.move("PAY-1", "2024-05-02T16:00:00+02:00", "In Progress"),
        "done": jira.move("PAY-1", "2024-05-03T10:00:00+02:00", "Done"),
    }
    for n in range(2, 8):
        jira.add(f"PAY-{n}", "2024-05-01T09:00:00+02:00")
        jira.move(f"PAY-{n}", "2024-05-01T12:00:00+02:00", "In Progress")
    return ids


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(cloud=True, zone="Europe/Berlin", page=3, embedded=2) as site:
        yield site


def _sync(
    jira: FakeJira, tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return flowmeter(
        "sync",
        "jira",
        "--url",
        jira.url,
        "--jql",
        JQL,
        "--once",
        "--db",
        str(tmp_path / "flow.duckdb"),
        *extra,
        env=env or ENV,
        cwd=tmp_path,
    )


def _rows(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_init_then_sync_lands_ticket_flow_as_computed_by_hand(jira: FakeJira, tmp_path: Path) -> None:
    # Follows: Cloud search (GET /rest/api/3/search/jql, nextPageToken, isLast)
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
    # the cut-off changelog's pages (GET /rest/api/3/issue/{key}/changelog, startAt, oldest first)
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-changelog-get
    # project statuses (GET /rest/api/3/project/{key}/statuses, statusCategory.key)
    #   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-projects/#api-rest-api-3-project-projectidorkey-statuses-get
    ids = _site(jira)
    init = flowmeter("init", "jira", "--url", jira.url, "--jql", JQL, env=ENV, cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    written = (tmp_path / "flowmeter.toml").read_text()
    assert TOKEN not in written and EMAIL not in written
    assert '{ name = "In Review",   category = "queue" }' in written  # indeterminate, named like waiting
    assert '{ name = "In Progress", category = "active" }' in written
    again = flowmeter("init", "jira", "--url", jira.url, "--jql", JQL, env=ENV, cwd=tmp_path)
    assert again.returncode == 1 and "exists; pass --force" in again.stderr and "Traceback" not in again.stderr

    jira.requests.clear()
    first = _sync(jira, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "7 issues, 17 events" in first.stdout and "17 landed, 0 duplicates" in first.stdout
    searches = jira.searches()
    assert len(searches) == 3 and "nextPageToken" not in searches[0] and "nextPageToken" in searches[2]
    changelog_pages = [q for p, q in jira.requests if p == "/rest/api/3/issue/PAY-1/changelog"]
    assert [q["startAt"] for q in changelog_pages] == ["0", "2"]  # 4 changes, 2 a page

    # PAY-1 by hand: committed 05-01 08:00Z (In Progress), done 05-03 08:00Z -> cycle 2 days;
    # lead = 07:00Z 05-01 -> 08:00Z 05-03 = 49 h = 2.041667 days; active = In Progress 24 h + 18 h
    # = 1.75 days; wait = In Review 6 h = 0.25 days; efficiency 42 / 48 = 0.875.
    flow = _rows(
        tmp_path,
        "SELECT ticket_id, board, state, category, committed_at, done_at, cycle_time_days, lead_time_days, "
        "wait_days, active_days, flow_efficiency, transitions FROM ticket_flow ORDER BY ticket_id",
    )
    assert len(flow) == 7
    assert flow[0][:6] == ("PAY-1", "PAY", "Done", "done", datetime(2024, 5, 1, 8), datetime(2024, 5, 3, 8))
    assert flow[0][6:] == (2.0, pytest.approx(49 / 24), pytest.approx(0.25), pytest.approx(1.75), 0.875, 5)
    for row in flow[1:]:  # In Progress since 05-01 12:00+02 = 10:00Z, still open
        assert row[2:6] == ("In Progress", "active", datetime(2024, 5, 1, 10), None) and row[11] == 2

    # Attributes beyond the contract, as Jira said them in this pass (labels, priority, Flagged).
    attributes = _rows(tmp_path, "SELECT DISTINCT attributes::VARCHAR FROM transitions WHERE ticket_id = 'PAY-1'")
    assert attributes == [('{"flagged":true,"labels":["checkout"],"priority":"Medium"}',)]

    # The ids the webhook path gives the same changes (sources/adapters/jira.py): the two land once together.
    webhook = adapter.from_webhook(
        {
            "webhookEvent": "jira:issue_updated",
            "timestamp": 1714723200000,
            "issue": {"id": "20001", "key": "PAY-1", "fields": {"project": {"key": "PAY"}, "status": {"name": "Done"}}},
            "changelog": {
                "id": ids["done"],
                "items": [{"field": "status", "fieldtype": "jira", "fromString": "In Progress", "toString": "Done"}],
            },
        }
    )
    landed = {r[0] for r in _rows(tmp_path, "SELECT event_id FROM transitions WHERE ticket_id = 'PAY-1'")}
    assert webhook[0][1]["event_id"] in landed
    assert landed == {"jira-20001-created", *(f"jira-20001-{i}" for i in ids.values())}


def test_second_pass_asks_since_the_cursor_and_lands_only_the_change(jira: FakeJira, tmp_path: Path) -> None:
    # Follows the Cloud search page above; JQL dates are the caller's time zone, to the minute:
    #   https://support.atlassian.com/jira-software-cloud/docs/jql-fields/#Updated
    _site(jira)
    assert _sync(jira, tmp_path).returncode == 0
    (cursor,) = _rows(tmp_path, "SELECT cursor_key, synced_from, passes FROM sync_cursors")
    assert cursor[0] == cursor_key("jira", jira.url, JQL) and cursor[2] == 1
    now = datetime.now(UTC).astimezone()
    jira.move("PAY-2", now.isoformat(timespec="seconds"), "Done")  # changed between the passes
    jira.requests.clear()

    second = _sync(jira, tmp_path)
    assert second.returncode == 0, second.stderr
    # Only PAY-2 was updated since the cursor less 5 minutes: its 3 transitions, 2 already landed.
    assert "1 issues, 3 events" in second.stdout and "1 landed, 2 duplicates" in second.stdout
    (search,) = jira.searches()
    # The cursor (the first pass's start, UTC) less the 5-minute overlap, on a Berlin clock, to the minute.
    asked = (cursor[1].replace(tzinfo=UTC) - timedelta(minutes=5)).astimezone(ZoneInfo("Europe/Berlin"))
    assert search["jql"] == f'(project = PAY) AND updated >= "{asked:%Y-%m-%d %H:%M}" ORDER BY key'
    assert _rows(tmp_path, "SELECT state FROM ticket_flow WHERE ticket_id = 'PAY-2'") == [("Done",)]
    assert _rows(tmp_path, "SELECT passes FROM sync_cursors") == [(2,)]
    # Another selection has its own cursor: its first pass asks for everything.
    other = flowmeter(
        "sync",
        "jira",
        "--url",
        jira.url,
        "--jql",
        "project = PAY",
        "--once",
        "--db",
        str(tmp_path / "flow.duckdb"),
        env=ENV,
        cwd=tmp_path,
    )
    assert other.returncode == 0 and "7 issues, 18 events" in other.stdout and "0 landed, 18 duplicates" in other.stdout
    assert _rows(tmp_path, "SELECT count(*) FROM sync_cursors") == [(2,)]


def test_a_pass_killed_midway_and_run_again_lands_everything_once(jira: FakeJira, tmp_path: Path) -> None:
    # Follows the Cloud search page above: the site stalls on page 3, the pass is SIGKILLed there.
    _site(jira)
    jira.stall_after = 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")} | ENV
    command = ["sync", "jira", "--url", jira.url, "--jql", JQL, "--once"]
    command += ["--db", str(tmp_path / "flow.duckdb")]
    kill_midway(jira, command, env, tmp_path, lambda: len(jira.searches()) >= 3)

    rerun = _sync(jira, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "updated" not in jira.searches()[0]["jql"]  # no cursor was saved: a full pass again
    # Pages 1-2 (PAY-1..6: 5 + 5 x 2 = 15 events) landed before the kill; page 3 (PAY-7: 2) did not.
    assert "17 events" in rerun.stdout and "2 landed, 15 duplicates" in rerun.stdout
    assert _rows(tmp_path, "SELECT count(*), count(DISTINCT event_id) FROM transitions") == [(17, 17)]
    assert _rows(tmp_path, "SELECT count(*) FROM ticket_flow") == [(7,)]


def test_data_center_search_is_paged_by_start_at(tmp_path: Path) -> None:
    # Follows: GET /rest/api/2/search (startAt, maxResults, total)
    #   https://docs.atlassian.com/software/jira/docs/api/REST/9.12.0/#api/2/search-searchUsingSearchRequest
    # and GET /rest/api/2/issue/{key}?expand=changelog (the whole changelog) on Data Center.
    with FakeJira(cloud=False, page=3, embedded=2) as jira:
        _site(jira)
        done = _sync(jira, tmp_path)
        assert done.returncode == 0, done.stderr
        assert [q.get("startAt") for q in jira.searches()] == ["0", "3", "6"]
        assert any(p == "/rest/api/2/issue/PAY-1" for p, _ in jira.requests)
    assert _rows(tmp_path, "SELECT count(*) FROM transitions") == [(17,)]


def test_wrong_credentials_are_one_sentence_naming_them(jira: FakeJira, tmp_path: Path) -> None:
    # Follows: a 401 for missing or wrong basic-auth credentials
    #   https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
    _site(jira)
    refused = _sync(jira, tmp_path, env=ENV | {"FLOWMETER_JIRA_TOKEN": "wrong"})
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "refused the credentials (401)" in refused.stderr and "FLOWMETER_JIRA_TOKEN" in refused.stderr


def test_rate_limited_requests_wait_as_retry_after_says(jira: FakeJira) -> None:
    # Follows: 429 with Retry-After (seconds to wait)
    #   https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
    _site(jira)
    jira.throttle, jira.retry_after = 2, "7"
    waits: list[float] = []
    client = ApiClient(jira.url, auth=(EMAIL, TOKEN), retries=3, sleep=waits.append)
    assert client.get("/rest/api/2/serverInfo")["deploymentType"] == "Cloud"
    assert waits == [7.0, 7.0] and client.requests == 3
    jira.throttle = 10
    with pytest.raises(ApiUnavailable, match="kept answering 429"):
        ApiClient(jira.url, auth=(EMAIL, TOKEN), retries=2, sleep=waits.append).get("/rest/api/2/serverInfo")
    # An HTTP date: 30 s after "now" (RFC 9110 10.2.3).
    assert retry_after("Wed, 01 May 2024 07:30:30 GMT", now=datetime(2024, 5, 1, 7, 30, tzinfo=UTC).timestamp()) == 30
    assert retry_after("soon") is None


@pytest.mark.slow
def test_up_runs_the_configured_jira_sync_through_kafka(jira: FakeJira, tmp_path: Path) -> None:
    # `flowmeter up` with jira_url and jira_jql set starts `flowmeter sync jira` beside the receiver;
    # it produces to Kafka (the worker holds the store) and keeps its cursor beside the store.
    # Same requests as test_init_then_sync_lands_ticket_flow_as_computed_by_hand (pages cited there).
    _site(jira)
    (tmp_path / "flowmeter.toml").write_text(f'jira_url = "{jira.url}"\njira_jql = "{JQL}"\nsync_interval = 3600\n')
    db = tmp_path / "flow.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")} | ENV
    env["FLOWMETER_DASHBOARD_PORT"] = str(free_port())
    log_path = tmp_path / "up.log"
    with log_path.open("w") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "flowmeter", "up", "--db", str(db)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        runtime = db.with_name(db.name + ".worker.json")
        info = wait_until(lambda: runtime.exists() and json.loads(runtime.read_text()), 60, "the worker to start")

        def transitions() -> int:
            try:
                kinds = requests.get(f"{info['url']}/api/status", timeout=2).json()["kinds"]
            except (requests.RequestException, ValueError, KeyError):
                return 0
            return next(k["landed"] for k in kinds if k["kind"] == "transition")

        wait_until(lambda: transitions() == 17, 90, "the 17 transitions the sync pulls")
        cursor = db.with_name(db.name + ".sync.json")
        wait_until(cursor.exists, 30, "the sync's cursor beside the store")
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
    output = log_path.read_text()
    assert code == 0, output
    assert f"sync       jira {jira.url} ({JQL}), every 3600 s" in output
    assert TOKEN not in output

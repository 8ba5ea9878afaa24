"""`flowmeter up`'s restart policy (issue 13 item 2): with the embedded broker, whose log is in
memory, the supervisor never gives up on the worker, since stopping would drop every event the
broker holds that has not landed; with a real Kafka (which keeps them) it gives up after
MAX_RESTARTS within RESTART_WINDOW, as before."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flowcore.errors import FlowmeterError
from flowcore.settings import Settings
from flowmeter import supervisor
from flowmeter.supervisor import MAX_RESTARTS, Child, Supervisor, configured_syncs


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor.time, "sleep", lambda _seconds: None)  # the backoff only waits


def crashing_worker(tmp_path: Path) -> Child:
    """A real child process that exits 75 at once, as a worker that cannot land does."""
    return Child("worker", [sys.executable, "-c", "raise SystemExit(75)"], tmp_path / "worker.log", restart=True)


def test_with_the_embedded_broker_the_worker_is_restarted_past_the_limit(tmp_path, no_backoff):
    up = Supervisor(Settings(db=tmp_path / "s.duckdb"), demo=False)
    up.broker = object()  # only whether there is one matters here
    child = crashing_worker(tmp_path)
    for _ in range(MAX_RESTARTS + 3):
        up.restart(child, 75)
        assert child.process is not None and child.process.wait(30) == 75
    assert len(child.restarts) == MAX_RESTARTS + 3


def test_with_a_real_kafka_it_gives_up_after_the_limit(tmp_path, no_backoff):
    up = Supervisor(Settings(db=tmp_path / "s.duckdb", broker="kafka://127.0.0.1:9092"), demo=False)
    child = crashing_worker(tmp_path)
    for _ in range(MAX_RESTARTS):
        up.restart(child, 75)
        assert child.process is not None and child.process.wait(30) == 75
    with pytest.raises(FlowmeterError, match=f"failed {MAX_RESTARTS} times"):
        up.restart(child, 75)


def test_up_syncs_only_the_trackers_whose_settings_name_where_and_what():
    assert configured_syncs(Settings(jira_url="https://x.atlassian.net")) == []  # no JQL: nothing to pull
    assert configured_syncs(Settings(jira_url="https://x.atlassian.net", jira_jql="project = PAY")) == [
        ("jira", "https://x.atlassian.net (project = PAY)")
    ]
    assert configured_syncs(Settings(github_repos=["acme/shop", "acme/api"])) == [
        ("github", "https://api.github.com (acme/shop, acme/api)")
    ]
    assert configured_syncs(Settings(gitlab_projects=["grp/web"])) == [("gitlab", "https://gitlab.com (grp/web)")]

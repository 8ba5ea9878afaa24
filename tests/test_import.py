"""`flowmeter import` end to end: a saved Jira export through Kafka and a real worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from tests.helpers.jira_export import generate

pytestmark = [pytest.mark.broker]
# Views that do not depend on the clock for finished work (every generated issue ends Done).
METRICS = [
    "ticket_flow",
    "state_visits",
    "cfd_daily",
    "wip_daily",
    "throughput_daily",
    "cycle_time_percentiles",
    "handoff_matrix",
]


def metrics(worker) -> dict[str, list]:
    out = {}
    for view in METRICS:
        # An open visit's duration runs to now: the only column the clock moves.
        columns = "* EXCLUDE (duration_days)" if view == "state_visits" else "*"
        response = requests.post(
            f"{worker.url}/api/sql", json={"sql": f"SELECT {columns} FROM {view} ORDER BY ALL"}, timeout=30
        )
        out[view] = response.json()["rows"]
    return out


def test_importing_the_same_history_twice_gives_identical_metrics(worker_factory, topics, tmp_path):
    worker = worker_factory(query_max_rows=1_000_000).start()
    export = tmp_path / "search.json"
    issues = generate(export, 450)  # 50 issues x 9 status changes
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update({k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")})
    events = issues + issues * 9  # a creation per issue, then its 9 status changes

    first = subprocess.run(
        [sys.executable, "-m", "flowmeter", "import", "jira", str(export)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr
    assert f"imported {events:,} events ({events:,} transitions, 0 deploys, 0 incidents)" in first.stdout
    worker.wait_accounted(events)
    before = metrics(worker)
    assert len(before["ticket_flow"]) == issues and before["cfd_daily"]

    again = subprocess.run(
        [sys.executable, "-m", "flowmeter", "import", "jira", str(export)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    final = worker.wait_accounted(2 * events)
    assert final["by_kind"]["transition"]["landed"] == events
    assert final["by_kind"]["transition"]["duplicates"] == events
    assert metrics(worker) == before


def test_a_broken_file_is_skipped_and_the_rest_imported(worker_factory, topics, tmp_path):
    worker = worker_factory().start()
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    issues = generate(good, 90)
    bad.write_text('{"issues": [{"id": "1", "key": "X-1"')  # cut off mid-way
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update({k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")})
    result = subprocess.run(
        [sys.executable, "-m", "flowmeter", "import", "jira", str(bad), str(good)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The good file is imported; the run still fails, naming the file that gave nothing.
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"imported {issues * 10:,} events" in result.stdout and "1 skipped" in result.stdout
    assert "  skipped the whole file: bad.json stops being valid JSON" in result.stdout  # the name once
    assert "Error: nothing was imported from bad.json: every record was skipped" in result.stderr


def test_a_csv_whose_every_row_is_skipped_fails_and_times_follow_timezone(worker_factory, topics, tmp_path):
    worker = worker_factory().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update({k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")})

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flowmeter", "import", "csv", *args], env=env, capture_output=True, text=True
        )

    bad = tmp_path / "bad.csv"
    bad.write_text("ticket_id,board,to_state,at\nPAY-1,ops,Done,yesterday\nPAY-2,ops,Done,today\n")
    result = run(str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "imported 0 events" in result.stdout and "2 skipped" in result.stdout
    assert "  skipped bad.csv, row 2: " in result.stdout  # the file named once
    assert "Error: nothing was imported from bad.csv: every record was skipped" in result.stderr

    good = tmp_path / "good.csv"
    good.write_text("ticket_id,board,to_state,at\nPAY-3,ops,Done,2025-05-31 09:30\n")
    result = run(str(good), "--timezone", "Europe/Berlin")
    assert result.returncode == 0, result.stderr
    worker.wait_accounted(1)
    rows = requests.post(
        f"{worker.url}/api/sql", json={"sql": "SELECT ticket_id, occurred_at FROM transitions"}, timeout=30
    )
    assert rows.json()["rows"] == [
        {"ticket_id": "PAY-3", "occurred_at": "2025-05-31T07:30:00Z"}
    ]  # 09:30 CEST is 07:30 UTC

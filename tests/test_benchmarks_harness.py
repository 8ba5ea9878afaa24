"""`python -m benchmarks`, every scenario in one run at a tiny size, so the harness cannot rot. A file
of its own: it runs for about a minute, and pytest-xdist keeps a file on one worker
(tests/README.md#how-the-suite-is-shared-out)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]


@pytest.mark.timeout(660)
def test_harness_runs_every_scenario_at_tiny_size_and_writes_results(tmp_path):
    output = tmp_path / "RESULTS.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--scale", "0.002", "--repeats", "1", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    text = output.read_text()
    for label in (
        "# flowmeter benchmarks",
        "## Machine",
        "cores",
        "duckdb ",
        "faust-streaming ",
        "kafka-python ",
        "| figure | unit | min | median | max | ceiling / baseline | ratio | target | met? |",
        "## 1. Landing throughput",
        "worker: process start -> all landed and queryable",
        "ceiling: plain Faust agent loop",
        "ceiling: raw kafka-python batch consumer",
        "baseline: per-event INSERT (measured on 2,000 events)",
        "## 2. Freshness",
        "produce -> visible via /api/sql, p50",
        "produce -> visible via /api/sql, p95",
        "produce -> visible via /api/sql, p99",
        "## 3. Backfill",
        "flowmeter load, wall time incl. process start",
        "decode floor",
        "## 4. Metric queries at scale",
        "## 5. Memory",
        "## 7. Start-up",
        'baseline: `python -c "import duckdb"`',
        "worker peak RSS through scenario 1",
        "open tickets",
        "## What each change bought",
        "derive_every",  # benchmarks/CHANGES.md, copied in
        "## Where the time goes",
        "py-spy",
    ):  # benchmarks/PROFILES.md, copied in
        assert label in text, label
    from benchmarks.views import QUERIES

    for view in QUERIES:
        assert f"| `{view}` (" in text, view
    for n in range(1, 6):  # progress lines on stdout, one per scenario and repeat
        assert f"{('landing', 'freshness', 'backfill', 'views', 'memory')[n - 1]}: done" in result.stdout
    assert "s] " in result.stdout  # elapsed time on each progress line

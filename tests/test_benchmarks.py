"""Benchmarks never run in the suite at size; this runs each at a tiny size so they cannot rot."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_landing_benchmark_runs_and_prints_its_figures_with_the_ceiling():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.landing", "--events", "2000", "--timeout", "120"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for label in ("ceiling: raw kafka-python poll", "worker, first batch -> all landed", "worker time: filling"):
        assert label in result.stdout


def test_views_benchmark_runs_every_documented_query_at_small_size():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.views", "--tickets", "2000", "--deploys", "200", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    import re
    from pathlib import Path

    from benchmarks.views import QUERIES

    views_dir = Path(__file__).resolve().parent.parent / "analytics" / "sql" / "views"
    documented = {m for p in views_dir.glob("*.sql") for m in re.findall(r"VIEW (\w+) AS", p.read_text())}
    assert set(QUERIES) == documented  # every view is measured
    for view in QUERIES:
        assert f"\n{view} " in result.stdout
    assert "full re-derive" in result.stdout and "landing a 5,000-event batch" in result.stdout


def test_query_latency_benchmark_runs_under_ingest_and_prints_the_in_process_floor():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.query_latency",
            "--transitions",
            "3000",
            "--rate",
            "200",
            "--seconds",
            "3",
            "--timeout",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for label in (
        "machine: ",
        "landed 3,000 in",
        "ingest while measuring: target 200 events/s",
        "client p50",
        "server p50",
        "floor p50",
        "client/floor",
        "\ncount ",
        "\ngroup_by ",
        "\nwip_now ",
    ):
        assert label in result.stdout


def test_import_benchmark_runs_and_prints_the_decode_floor():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.import_jira", "--transitions", "900"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "decode floor: json.load of the file" in result.stdout
    assert "imported 1,000 events" in result.stdout  # 100 issues: 100 creations + 900 status changes


def test_alert_latency_benchmark_runs_and_prints_the_landing_baseline():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.alert_latency", "--breaches", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for label in (
        "produce -> webhook receives the alert",
        "baseline: produce -> queryable via /api/sql",
        "alerting's share",
        "target p95 < 2.0 s",
    ):
        assert label in result.stdout


def test_dashboard_render_benchmark_times_every_page_against_the_empty_baseline():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.dashboard_render",
            "--transitions",
            "2000",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--pace",
            "0",
            "--timeout",
            "60",
            "--cache",
            "none",
            # One browser context for every visit: the test checks what the benchmark prints, and a
            # fresh context per visit (the default) re-fetches Streamlit's scripts each time (~1 min here).
            "--warm-browser",
        ],
        capture_output=True,
        text=True,
        timeout=290,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    from dashboard.navigation import PAGES

    for label in (
        "machine: ",
        "transitions (",
        "empty store: median",
        "ratio",
        "first content",
        "target 1,500 ms",
        "slowest page: ",
    ):
        assert label in result.stdout
    for _, title, _ in PAGES:  # every page is measured
        assert f"\n{title} " in result.stdout


def test_startup_benchmark_prints_each_command_next_to_the_import_duckdb_baseline():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.startup", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "machine: " in result.stdout
    assert "(the baseline)" in result.stdout and 'python -c "import duckdb"' in result.stdout
    for label in ("flowmeter --help", 'flowmeter sql --db FILE "SELECT 1"', "flowmeter status --db FILE"):
        assert f"\n{label} " in result.stdout, label
    assert result.stdout.count("target within 0.5 s of the baseline") == 3


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

"""Benchmarks never run in the suite at size; these run each at a tiny size so they cannot rot.

The two longest (over a minute each) have files of their own, test_benchmarks_render.py and
test_benchmarks_harness.py: pytest-xdist keeps a file on one worker, so in one file they would
run one after the other (tests/README.md#how-the-suite-is-shared-out)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]


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

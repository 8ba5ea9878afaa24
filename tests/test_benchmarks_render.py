"""The dashboard render benchmark at a tiny size, so it cannot rot. A file of its own: it runs for
about a minute, and pytest-xdist keeps a file on one worker (tests/README.md#how-the-suite-is-shared-out)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]


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

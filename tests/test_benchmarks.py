"""Benchmarks never run in the suite at size; this runs each at a tiny size so they cannot rot."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_landing_benchmark_runs_and_prints_its_figures_with_the_ceiling():
    result = subprocess.run([sys.executable, "-m", "benchmarks.landing", "--events", "2000", "--timeout", "120"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for label in ("ceiling: raw kafka-python poll", "worker, first batch -> all landed", "worker time: filling"):
        assert label in result.stdout

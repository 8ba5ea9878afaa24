"""Start-up: how long commands that need no Faust take, against importing DuckDB alone.

Each command runs N times in a fresh interpreter, as a user starts it (wall time of the whole
process); the baseline, `python -c "import duckdb"`, is measured in the same run, interleaved
with the commands so a busy moment of the machine hits them alike. `sql` and `status` read an
empty store file with no worker running. Target: each within 0.5 s of the baseline.
Run: python -m benchmarks.startup [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analytics.store import Store
from benchmarks.report import machine

TARGET = 0.5  # seconds over the baseline
BASELINE = 'python -c "import duckdb"'


def commands(db: Path) -> dict[str, list[str]]:
    """What is timed, by the label it is printed with; the baseline first."""
    flowmeter = [sys.executable, "-m", "flowmeter"]
    return {
        BASELINE: [sys.executable, "-c", "import duckdb"],
        "flowmeter --help": [*flowmeter, "--help"],
        'flowmeter sql --db FILE "SELECT 1"': [*flowmeter, "sql", "--db", str(db), "SELECT 1"],
        "flowmeter status --db FILE": [*flowmeter, "status", "--db", str(db)],
    }


def wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def measure(runs: int) -> dict[str, list[float]]:
    """Seconds per run of each command, on an empty store in a scratch directory."""
    scratch = Path(tempfile.mkdtemp(prefix="flowmeter-startup-"))
    try:
        db = scratch / "flow.duckdb"
        Store.open(db).close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
        timed = commands(db)
        seconds: dict[str, list[float]] = {label: [] for label in timed}
        for _ in range(runs):
            for label, argv in timed.items():
                seconds[label].append(wall(argv, env))
        return seconds
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(seconds: dict[str, list[float]]) -> list[str]:
    baseline = statistics.median(seconds[BASELINE])
    lines = [f"{'command':<36} {'median':>8} {'min':>7} {'max':>7}  vs the baseline"]
    for label, values in seconds.items():
        median = statistics.median(values)
        if label == BASELINE:
            verdict = "(the baseline)"
        else:
            over = median - baseline
            verdict = (
                f"{over:+.3f} s  target within {TARGET} s of the baseline: {'met' if over <= TARGET else 'NOT met'}"
            )
        lines.append(f"{label:<36} {median:>7.3f}s {min(values):>6.3f}s {max(values):>6.3f}s  {verdict}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be positive")
    for line in machine():
        print(f"machine: {line}")
    print(f"{args.runs} runs of each command, interleaved; wall time of the whole process")
    print("\n".join(report(measure(args.runs))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

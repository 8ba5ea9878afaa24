"""Backfill speed: `flowmeter import jira` on a generated export, next to the decode floor.

Generates a Jira search-results file (expand=changelog) with --transitions status changes,
then in the same run: (1) the decode floor, json.loads of the whole file; (2) the import
itself, the real command as a user runs it, into an embedded broker.
Run: python -m benchmarks.import_jira --transitions 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from streams.broker import EmbeddedBroker
from streams.topics import ensure_topics
from tests.helpers.jira_export import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transitions", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="flowmeter-import-"))
    export = workdir / "search.json"
    started = time.perf_counter()
    issues = generate(export, args.transitions)
    size = export.stat().st_size
    print(f"generated {issues:,} issues, {size / 2**20:,.0f} MiB in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with export.open("rb") as handle:
        doc = json.load(handle)
    changes = sum(len(i["changelog"]["histories"]) for i in doc["issues"])
    floor = time.perf_counter() - started
    del doc

    with EmbeddedBroker() as broker:
        ensure_topics(
            [broker.url.removeprefix("kafka://")],
            ["flow.transitions", "flow.deploys", "flow.dead-letter"],
            partitions=4,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
        env.update(FLOWMETER_BROKER=broker.url, FLOWMETER_DB=str(workdir / "unused.duckdb"))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "flowmeter", "import", "jira", str(export)], env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed: {done.stderr}")
    events = issues + changes  # a creation per issue, then every status change
    print(done.stdout.strip())
    print(f"{'step':<40} {'seconds':>8} {'events/s':>12}")
    print(f"{'decode floor: json.load of the file':<40} {floor:>8.1f} {events / floor:>12,.0f}")
    print(
        f"{'flowmeter import jira (to Kafka)':<40} {seconds:>8.1f} {events / seconds:>12,.0f}"
        f"   {floor / seconds:.0%} of the floor's speed"
    )
    export.unlink()


if __name__ == "__main__":
    main()

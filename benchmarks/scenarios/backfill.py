"""Scenario 3, backfill: `flowmeter load` of an N-line JSON Lines file vs. the decode floor.

The file holds N transitions in benchmarks.query_latency.event()'s shape (N // 10 tickets).
Every repeat: the decode floor, reading the file and json.loads of every line in this
process; then `python -m flowmeter load FILE --db NEW` as a user runs it (a subprocess, wall
time including interpreter start-up) into a fresh store.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.query_latency import PATH, event
from benchmarks.report import Figure, Section, ratio_pct
from benchmarks.scenarios import Context

LINES = 1_000_000
TARGET_OF_FLOOR = 0.50


def write_file(path: Path, count: int) -> None:
    tickets = max(1, count // len(PATH))
    with path.open("wb") as out:
        for start in range(0, count, 10_000):
            out.write(b"".join(event(n, tickets)[2] + b"\n" for n in range(start, min(count, start + 10_000))))


def decode_floor(path: Path) -> tuple[float, int]:
    """(seconds, lines): read the file and json.loads every line."""
    started = time.perf_counter()
    lines = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            lines += 1
    return time.perf_counter() - started, lines


def load(ctx: Context, path: Path, count: int) -> tuple[float, float | None]:
    """(wall seconds of `flowmeter load` into a fresh store, the events/s it reports itself)."""
    workdir = ctx.scratch("load")
    db = workdir / "backfill.duckdb"
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "flowmeter", "load", str(path), "--db", str(db)],
            env=ctx.clean_env(),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=ctx.timeout,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"flowmeter load did not finish within {ctx.timeout:.0f} s") from None
    seconds = time.perf_counter() - started
    if done.returncode != 0 or f"{count:,} landed" not in done.stdout:
        raise SystemExit(
            f"flowmeter load failed or did not land {count:,} events ({done.returncode}):\n"
            f"{done.stdout[-1000:]}\n{done.stderr[-2000:]}"
        )
    reported = re.search(r"\(([\d,]+) events/s\)", done.stdout)
    shutil.rmtree(workdir, ignore_errors=True)
    return seconds, float(reported.group(1).replace(",", "")) if reported else None


def run(ctx: Context) -> Section:
    n = ctx.size(LINES, least=1_000)
    path = ctx.scratch("backfill") / "transitions.jsonl"
    started = time.perf_counter()
    write_file(path, n)
    size_mib = path.stat().st_size / 2**20
    ctx.say(f"backfill: wrote {n:,} lines, {size_mib:,.0f} MiB, in {time.perf_counter() - started:.1f} s")
    floors, loads, reported = [], [], []
    for r in range(1, ctx.repeats + 1):
        seconds, lines = decode_floor(path)
        if lines != n:
            raise SystemExit(f"the backfill file has {lines:,} lines, not {n:,}")
        floors.append(n / seconds)
        seconds, own = load(ctx, path, n)
        loads.append(n / seconds)
        if own is not None:
            reported.append(own)
        ctx.say(
            f"backfill {r}/{ctx.repeats}: decode floor {floors[-1]:,.0f} lines/s, flowmeter load "
            f"{loads[-1]:,.0f} events/s wall ({own or float('nan'):,.0f} as it reports)"
        )
    path.unlink()
    floor = statistics.median(floors)
    figures = [
        Figure(
            "flowmeter load, wall time incl. process start",
            loads,
            "events/s",
            reference=f"decode floor {floor:,.0f} lines/s",
            ratio=ratio_pct(statistics.median(loads), floor),
            target=f">= {TARGET_OF_FLOOR:.0%} of the floor",
            met=statistics.median(loads) >= TARGET_OF_FLOOR * floor,
        ),
        Figure("decode floor: read the file + json.loads per line", floors, "lines/s"),
    ]
    if reported:
        figures.insert(
            1,
            Figure(
                "flowmeter load, as it reports (after start-up)",
                reported,
                "events/s",
                reference=f"decode floor {floor:,.0f} lines/s",
                ratio=ratio_pct(statistics.median(reported), floor),
            ),
        )
    notes = [
        f"{n:,} lines ({size_mib:,.0f} MiB) of v1 transitions, {max(1, n // len(PATH)):,} tickets; every load "
        "goes into a fresh store with the default settings (batch_max 5,000)."
    ]
    return Section(
        "3. Backfill",
        f"`flowmeter load` of a {n:,}-line JSON Lines file vs. `json.loads` of the same file; {ctx.repeats} repeat(s).",
        figures,
        notes,
    )

"""Scenario 4, metric queries at scale: every documented view at N transitions, median of 5.

The store is generated straight into DuckDB by benchmarks.views (build: ~9 transitions a
ticket over 90 days, fm_now() pinned to the data's end, everything derived), then each
view's typical dashboard query in benchmarks.views.QUERIES runs RUNS times in this process.
"""

from __future__ import annotations

import shutil
import statistics

from benchmarks.report import Figure, Section
from benchmarks.scenarios import Context
from benchmarks.views import QUERIES, TRANSITIONS_PER_TICKET, build, default_incidents, time_views

TRANSITIONS = 10_000_000
DEPLOYS = 50_000
RUNS = 5
TARGET_SECONDS = 0.5


def run(ctx: Context) -> Section:
    tickets = ctx.size(TRANSITIONS // TRANSITIONS_PER_TICKET, least=200)
    deploys = ctx.size(DEPLOYS, least=100)
    workdir = ctx.scratch("views")
    ctx.say(
        f"views: generating {tickets:,} tickets (~{tickets * TRANSITIONS_PER_TICKET:,} transitions), "
        f"{deploys:,} deploys, {default_incidents(tickets):,} incidents"
    )
    store, transitions, gen, derive = build(workdir / "views.duckdb", tickets, deploys)
    with store:
        ctx.say(
            f"views: {transitions:,} transitions generated in {gen:.1f} s, derived in {derive:.1f} s; "
            f"timing {len(QUERIES)} views x {RUNS}"
        )
        timings = time_views(store, RUNS)
    size_mib = (workdir / "views.duckdb").stat().st_size / 2**20
    shutil.rmtree(workdir, ignore_errors=True)
    figures = []
    for view, (times, rows) in timings.items():
        label = f"`{view}` ({rows:,} row{'' if rows == 1 else 's'})"
        figures.append(
            Figure(
                label,
                times,
                "s",
                digits=3,
                target=f"<= {TARGET_SECONDS:g} s",
                met=statistics.median(times) <= TARGET_SECONDS,
            )
        )
    slowest = max(timings, key=lambda v: statistics.median(timings[v][0]))
    ctx.say(f"views: slowest median {slowest} {statistics.median(timings[slowest][0]):.3f} s")
    notes = [
        f"{transitions:,} transitions, {tickets:,} tickets, {deploys:,} deploys over 90 days "
        f"({size_mib:,.0f} MiB); generated in {gen:.1f} s; full re-derive (`flowmeter remap`) {derive:.1f} s.",
        "Queries are the ones in benchmarks/views.py (a typical dashboard filter per view), run in-process on "
        f"the open store, {RUNS} runs each, no warm-up; min/median/max are over those runs.",
        "No ceiling: the target is absolute.",
    ]
    return Section(
        "4. Metric queries at scale",
        f"Every documented view at {transitions:,} transitions, median of {RUNS}.",
        figures,
        notes,
    )

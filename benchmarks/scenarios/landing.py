"""Scenario 1, landing throughput: N pre-produced transitions until all are queryable in DuckDB.

Every repeat, on the same topic: the real worker on a fresh store and a fresh consumer group
(process start -> all N landed, read from /api/status, i.e. committed and queryable); the
ceilings, a plain Faust agent loop (benchmarks.faust_loop) and a raw kafka-python batch
consumer (benchmarks.landing.raw_consume); the baseline, one INSERT per event
(benchmarks.baseline_insert) on the first min(N, 20,000) events. The worker's RSS is sampled
throughout (scenario 5 reports it).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from benchmarks import faust_loop
from benchmarks.baseline_insert import SUBSET, per_event_insert
from benchmarks.landing import raw_consume
from benchmarks.procstat import RssSampler
from benchmarks.query_latency import PARTITIONS, PATH, produce
from benchmarks.report import Figure, Section, ratio_pct, ratio_x
from benchmarks.scenarios import Context
from streams.topics import ensure_topics

EVENTS = 1_000_000
TARGET_OF_CEILING = 0.70
TARGET_OF_BASELINE = 10.0


@dataclass
class Landed:
    total: float  # seconds from process start to all landed
    steady: float | None  # events/s after the first landed batch was seen (None: all landed in one go)
    peak_rss_mib: float
    stats: dict


def pre_produce(ctx: Context, name: str, count: int) -> str:
    """A fresh topic set holding `count` transitions (count // 10 tickets); returns its prefix."""
    prefix = ctx.prefix(name)
    ensure_topics(
        [ctx.server], [f"{prefix}transitions", f"{prefix}deploys", f"{prefix}dead-letter"], partitions=PARTITIONS
    )
    encoding, sending = produce(ctx.server, f"{prefix}transitions", count, max(1, count // len(PATH)))
    ctx.say(
        f"landing: pre-produced {count:,} transitions (encode {encoding:.1f} s, send {sending:.1f} s, "
        f"{count / sending:,.0f} events/s)"
    )
    return prefix


def land_once(ctx: Context, prefix: str, count: int) -> Landed:
    """The real worker on a fresh store and group, from process start to `count` landed."""
    with ctx.running(ctx.worker(prefix)) as worker:
        started = time.perf_counter()
        worker.start()
        assert worker.process is not None  # start() launched it
        sampler = RssSampler(worker.process.pid).start()
        try:
            stats, _ = worker.wait_landed(count, ctx.timeout, poll=0.1)
            done = time.perf_counter()
        finally:
            peak = sampler.stop()
    assert worker.first_landed is not None  # wait_landed saw `count` >= 1 events land
    first, landed_then = worker.first_landed
    steady = (count - landed_then) / (done - first) if landed_then < count and done > first else None
    return Landed(done - started, steady, peak, stats)


def run(ctx: Context) -> Section:
    n = ctx.size(EVENTS, least=1_000)
    subset = min(n, SUBSET)
    prefix = pre_produce(ctx, "landing", n)
    topic = f"{prefix}transitions"
    worker, worker_steady, loop, loop_steady, raw, insert, rss = [], [], [], [], [], [], []
    for r in range(1, ctx.repeats + 1):
        total, steady = faust_loop.run(ctx.server, topic, n, ctx.root, ctx.timeout)
        loop.append(n / total)
        loop_steady.append((n - 1) / steady)
        ctx.say(
            f"landing {r}/{ctx.repeats}: plain Faust loop {n / total:,.0f} events/s from start "
            f"({loop_steady[-1]:,.0f} after the first event)"
        )
        seconds = raw_consume(ctx.server, topic, n, ctx.timeout)
        raw.append(n / seconds)
        ctx.say(f"landing {r}/{ctx.repeats}: raw kafka-python consumer {n / seconds:,.0f} events/s")
        landed = land_once(ctx, prefix, n)
        worker.append(n / landed.total)
        if landed.steady is not None:
            worker_steady.append(landed.steady)
        rss.append(landed.peak_rss_mib)
        s = landed.stats
        after = f"{landed.steady:,.0f}" if landed.steady is not None else "all in one batch, no rate"
        ctx.say(
            f"landing {r}/{ctx.repeats}: worker {n / landed.total:,.0f} events/s from start "
            f"({after} after the first landed batch; filling {s['filling_seconds']:.1f} s, "
            f"parsing {s['parsing_seconds']:.1f} s, writing {s['writing_seconds']:.1f} s over "
            f"{s['batches']} batches); peak RSS {landed.peak_rss_mib:,.0f} MiB"
        )
        seconds = per_event_insert(ctx.server, topic, subset, ctx.scratch("insert") / "insert.duckdb", ctx.timeout)
        insert.append(subset / seconds)
        ctx.say(
            f"landing {r}/{ctx.repeats}: per-event INSERT baseline {subset / seconds:,.0f} events/s "
            f"(on {subset:,} events)"
        )
    ctx.shared["landing_rss_mib"] = (n, rss)

    med = statistics.median
    ceiling, baseline = med(loop), med(insert)
    maybe_figures = [
        Figure(
            "worker: process start -> all landed and queryable",
            worker,
            "events/s",
            reference=f"ceiling: plain Faust loop {ceiling:,.0f} events/s",
            ratio=ratio_pct(med(worker), ceiling),
            target=f">= {TARGET_OF_CEILING:.0%} of the ceiling",
            met=med(worker) >= TARGET_OF_CEILING * ceiling,
        ),
        Figure(
            "worker: process start -> all landed and queryable",
            worker,
            "events/s",
            reference=f"baseline: per-event INSERT {baseline:,.0f} events/s",
            ratio=ratio_x(med(worker), baseline),
            target=f">= {TARGET_OF_BASELINE:g}x the baseline",
            met=med(worker) >= TARGET_OF_BASELINE * baseline,
        ),
        Figure(
            "worker: after the first landed batch was seen -> all landed",
            worker_steady,
            "events/s",
            reference=f"plain Faust loop after its first event {med(loop_steady):,.0f} events/s",
            ratio=ratio_pct(med(worker_steady), med(loop_steady)),
        )
        if worker_steady
        else None,
        Figure(
            "ceiling: plain Faust agent loop, process start -> N events seen",
            loop,
            "events/s",
            reference=f"raw kafka-python consumer {med(raw):,.0f} events/s",
            ratio=ratio_pct(ceiling, med(raw)),
        ),
        Figure("ceiling: plain Faust agent loop, after its first event -> N seen", loop_steady, "events/s"),
        Figure("ceiling: raw kafka-python batch consumer, start -> N polled", raw, "events/s"),
        Figure(f"baseline: per-event INSERT (measured on {subset:,} events)", insert, "events/s"),
    ]
    figures = [f for f in maybe_figures if f is not None]
    notes = [
        f"{n:,} transitions ({max(1, n // len(PATH)):,} tickets, {PARTITIONS} partitions) pre-produced once; "
        f"every repeat reads the same topic with a fresh consumer group and (for the worker) a fresh store.",
        "The worker runs with its default batch settings; landed counts come from its /api/status, polled "
        "every 0.1 s, so each worker time is late by at most that.",
        "Steady rates count the events after the first sight (the worker's first landed batch, the loop's first "
        "event) over the time from then on"
        + ("." if worker_steady else "; none for the worker here: it landed everything in one batch."),
        f"The per-event INSERT baseline was measured on a subset: the first {subset:,} events of the topic "
        "(one autocommitted INSERT each, no dedupe or derived tables: less work than the worker does).",
    ]
    return Section(
        "1. Landing throughput",
        f"{n:,} pre-produced transitions, time until all are queryable in DuckDB; {ctx.repeats} repeat(s).",
        figures,
        notes,
    )

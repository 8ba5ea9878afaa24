"""Scenario 2, freshness: produce time -> visible to a query through the query service.

Every repeat: a real worker on a fresh store and topics (default batch settings), warmed up
with one landed event, then benchmarks.query_latency.SteadyProducer sends RATE events/s of
fresh events (stamped with the current time, as a live source sends) for SECONDS x scale
(at least MIN_SECONDS). Every SAMPLE_EVERY-th event's send time is recorded; this process
polls POST /api/sql every POLL s for the sampled event_ids not yet seen. Latency = the time
the answer that first held the event arrived - its send time (late by up to one poll).
"""

from __future__ import annotations

import statistics
import threading
import time

from benchmarks.query_latency import PARTITIONS, SteadyProducer, Worker, pct, warm_up
from benchmarks.report import Figure, Section
from benchmarks.scenarios import Context
from streams.topics import ensure_topics

RATE = 2_000
SECONDS = 60.0
MIN_SECONDS = 5.0
SAMPLE_EVERY = 50
POLL = 0.05
TICKETS = 10_000
TARGET_P95 = 1.5
MAX_IDS_PER_POLL = 500  # keeps the query under query_max_bytes even when the worker lags far behind


def visible_ids(worker: Worker, ids: list[str]) -> set[str]:
    quoted = ", ".join(f"'{i}'" for i in ids)
    response = worker.http.post(
        f"{worker.url}/api/sql",
        timeout=30,
        json={"sql": f"SELECT event_id FROM transitions WHERE event_id IN ({quoted})"},
    )
    if response.status_code != 200:
        raise SystemExit(f"the query service answered {response.status_code}: {response.text[:300]}")
    return {row["event_id"] for row in response.json()["rows"]}


def watch(
    worker: Worker, steady: SteadyProducer, thread: threading.Thread, seconds: float, timeout: float
) -> tuple[list[float], list[float]]:
    """(latency of each sampled event, round-trip seconds of each poll) until all sampled are seen."""
    pending: dict[str, float] = {}
    latencies, polls = [], []
    taken = 0
    started = time.monotonic()
    limit = seconds + timeout
    for tick in range(int(limit / POLL) + 1):  # bounded: one poll per tick
        count = len(steady.sampled)  # appended by the producer thread; read up to here only
        for eid, sent_at in steady.sampled[taken:count]:
            pending[eid] = sent_at
        taken = count
        if pending:
            asked = time.perf_counter()
            seen = visible_ids(worker, list(pending)[:MAX_IDS_PER_POLL])
            now = time.time()
            polls.append(time.perf_counter() - asked)
            for eid in seen:
                latencies.append(now - pending.pop(eid))
        if not thread.is_alive() and not pending and taken == len(steady.sampled):
            return latencies, polls
        time.sleep(max(0.0, started + (tick + 1) * POLL - time.monotonic()))
    raise SystemExit(
        f"{len(pending):,} sampled events were still not visible {limit:.0f} s after the "
        f"steady producer started; see {worker.dir / 'worker.log'}"
    )


def once(ctx: Context, seconds: float) -> tuple[list[float], list[float], float]:
    """(latencies, poll round trips, events/s actually produced) of one repeat."""
    prefix = ctx.prefix("freshness")
    topic = f"{prefix}transitions"
    ensure_topics([ctx.server], [topic, f"{prefix}deploys", f"{prefix}dead-letter"], partitions=PARTITIONS)
    with ctx.running(ctx.worker(prefix)) as worker:
        warm_up(ctx.server, worker, topic, TICKETS, ctx.timeout)
        steady = SteadyProducer(
            ctx.server, topic, TICKETS, first=1, rate=RATE, seconds=seconds, live_times=True, sample_every=SAMPLE_EVERY
        )
        thread = threading.Thread(target=steady.run, name="steady-producer", daemon=True)
        thread.start()
        try:
            latencies, polls = watch(worker, steady, thread, seconds, ctx.timeout)
        finally:
            steady.stop.set()
            thread.join(90)
        if thread.is_alive() or steady.error:
            raise SystemExit(f"the steady producer failed: {steady.error or 'still running after 90 s'}")
        worker.wait_landed(1 + steady.sent, ctx.timeout, poll=0.1)  # nothing lost on the way
    return latencies, polls, steady.sent / steady.elapsed


def run(ctx: Context) -> Section:
    seconds = max(MIN_SECONDS, SECONDS * ctx.scale)
    p50, p95, p99, worst, rates, round_trips, samples = [], [], [], [], [], [], 0
    for r in range(1, ctx.repeats + 1):
        latencies, polls, rate = once(ctx, seconds)
        p50.append(pct(latencies, 50))
        p95.append(pct(latencies, 95))
        p99.append(pct(latencies, 99))
        worst.append(max(latencies))
        rates.append(rate)
        round_trips.append(statistics.median(polls))
        samples += len(latencies)
        ctx.say(
            f"freshness {r}/{ctx.repeats}: {rate:,.0f} events/s for {seconds:g} s, {len(latencies):,} sampled: "
            f"p50 {p50[-1]:.3f} s, p95 {p95[-1]:.3f} s, p99 {p99[-1]:.3f} s, max {worst[-1]:.3f} s"
        )
    med = statistics.median
    figures = [
        Figure(
            "produced (target rate)",
            rates,
            "events/s",
            reference=f"target rate {RATE:,} events/s",
            ratio=f"{med(rates) / RATE:.0%}",
        ),
        Figure("produce -> visible via /api/sql, p50", p50, "s", digits=3),
        Figure(
            "produce -> visible via /api/sql, p95",
            p95,
            "s",
            digits=3,
            target=f"<= {TARGET_P95:g} s",
            met=med(p95) <= TARGET_P95,
        ),
        Figure("produce -> visible via /api/sql, p99", p99, "s", digits=3),
        Figure("produce -> visible via /api/sql, max", worst, "s", digits=3),
        Figure("poll round trip (POST /api/sql), median", round_trips, "s", digits=3),
    ]
    notes = [
        f"Each repeat: a fresh worker, store and topics; {seconds:g} s at {RATE:,} events/s over {TICKETS:,} "
        f"tickets; every {SAMPLE_EVERY}th event sampled ({samples:,} samples in all), polled every "
        f"{POLL * 1000:.0f} ms (a latency is late by at most one poll plus its round trip).",
        "Percentiles are per repeat; min/median/max are over the repeats.",
    ]
    return Section(
        "2. Freshness",
        f"A steady {RATE:,} events/s for {seconds:g} s; produce time -> visible to a query through the "
        f"query service; {ctx.repeats} repeat(s).",
        figures,
        notes,
    )

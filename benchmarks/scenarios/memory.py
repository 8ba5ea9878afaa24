"""Scenario 5, memory: peak RSS of the worker through scenario 1, and with M open tickets.

Through scenario 1: the peaks its worker runs recorded (VmRSS sampled every 0.1 s and the
kernel's VmHWM, from /proc/<pid>/status); when scenario 1 is not part of the run, its
landing is repeated here without the ceilings. With M open tickets: a store is generated
once (M tickets stopped part-way through their flow, 1-4 transitions each, all in the last
60 days) and derived; every repeat copies it for a fresh real worker, which lands a batch of
BATCH transitions moving some of those tickets on, and then idles SETTLE s (its alert
judgements and aging check run meanwhile). Baseline: the same on an empty store.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.store import Store
from benchmarks.procstat import RssSampler
from benchmarks.query_latency import PARTITIONS, producer_for
from benchmarks.report import Figure, Section, ratio_x
from benchmarks.scenarios import Context
from benchmarks.scenarios.landing import EVENTS, land_once, pre_produce
from flowcore.workflow import Workflow
from streams.topics import ensure_topics

OPEN_TICKETS = 1_000_000
BATCH = 5_000
SETTLE = 3.0
TARGET_MIB = 1024
PATH = ["Backlog", "In Progress", "Review", "In Progress", "QA"]  # where open tickets stand: never Done


def steps(ticket: int) -> int:
    return 1 + ticket % 4  # transitions of an open ticket: it stands in PATH[steps - 1]


def build_open_store(path: Path, tickets: int) -> int:
    """A store of `tickets` open tickets, derived with the default workflow (the worker's own,
    so it does not re-derive on start); returns the transitions stored."""
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    states = "[" + ", ".join(f"'{s}'" for s in PATH) + "]"
    with Store.open(path) as store:
        store.in_transaction(
            lambda con: con.execute(f"""
            INSERT INTO transitions (event_id, ticket_id, board, from_state, to_state, occurred_at, assignee, team,
                                     ticket_type, actor, source, landed_at, src)
            WITH t AS (
                SELECT id, TIMESTAMP '{now - timedelta(days=60)}' + INTERVAL (id * 7919 % (50 * 24 * 60)) MINUTE
                       AS start, 1 + id % 4 AS steps
                FROM range({tickets}) r(id)
            )
            SELECT 'o' || id || '-' || k, 'T' || id, 'board' || (id % 10),
                   CASE WHEN k = 0 THEN NULL ELSE {states}[k] END, {states}[k + 1],
                   start + INTERVAL (k * 2) DAY, 'a' || (id % 50), 'team' || (id % 20), 'story', NULL, 'bench',
                   TIMESTAMP '{now}', 'bench'
            FROM t, range(4) s(k) WHERE k < steps
        """)
        )
        store.sync_workflow(Workflow(), force=True)
        return store.read("SELECT count(*) FROM transitions")[1][0][0]


def moves(tickets: int, count: int, tag: str) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of `count` fresh transitions, each moving a distinct stored ticket on."""
    now = datetime.now(UTC)
    stride = max(1, tickets // count) if tickets else 1
    out = []
    for i in range(count):
        ticket = i * stride
        at = (now - timedelta(seconds=count - i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        step = steps(ticket) if tickets else 0
        value = json.dumps(
            {
                "event_id": f"m-{tag}-{i}",
                "ticket_id": f"T{ticket}",
                "board": f"board{ticket % 10}",
                "from_state": PATH[step - 1] if step else None,
                "to_state": PATH[step],
                "at": at,
                "team": f"team{ticket % 20}",
                "assignee": f"a{ticket % 50}",
            }
        )
        out.append((ticket % PARTITIONS, f"T{ticket}".encode(), value.encode()))
    return out


def with_store(ctx: Context, store: Path | None, tickets: int, count: int) -> float:
    """Peak RSS (MiB) of a real worker started on a copy of `store` (None: empty) that lands
    `count` transitions for its tickets, then idles SETTLE s."""
    prefix = ctx.prefix("memory")
    topic = f"{prefix}transitions"
    ensure_topics([ctx.server], [topic, f"{prefix}deploys", f"{prefix}dead-letter"], partitions=PARTITIONS)
    with ctx.running(ctx.worker(prefix)) as worker:
        if store is not None:
            shutil.copyfile(store, worker.db)
        worker.start()
        assert worker.process is not None  # start() launched it
        sampler = RssSampler(worker.process.pid).start()
        try:
            producer = producer_for(ctx.server)
            try:
                for partition, key, value in moves(tickets, count, prefix.strip(".")):
                    producer.send(topic, key=key, value=value, partition=partition)
                producer.flush(timeout=60)
            finally:
                producer.close(timeout=10)
            worker.wait_landed(count, ctx.timeout, poll=0.1)
            time.sleep(SETTLE)
            worker.landed()  # still alive and answering
        finally:
            peak = sampler.stop()
    return peak


def run(ctx: Context) -> Section:
    landing = ctx.shared.get("landing_rss_mib")
    if landing is None:
        n = ctx.size(EVENTS, least=1_000)
        prefix = pre_produce(ctx, "memory-landing", n)
        peaks = []
        for r in range(1, ctx.repeats + 1):
            peaks.append(land_once(ctx, prefix, n).peak_rss_mib)
            ctx.say(f"memory {r}/{ctx.repeats}: worker landing {n:,} events, peak RSS {peaks[-1]:,.0f} MiB")
        landing = (n, peaks)
    landed_n, landing_peaks = landing

    tickets = ctx.size(OPEN_TICKETS, least=1_000)
    batch = min(BATCH, tickets)
    workdir = ctx.scratch("memory")
    store = workdir / "open.duckdb"
    started = time.perf_counter()
    transitions = build_open_store(store, tickets)
    size_mib = store.stat().st_size / 2**20
    ctx.say(
        f"memory: store with {tickets:,} open tickets ({transitions:,} transitions, {size_mib:,.0f} MiB) "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    open_peaks, empty_peaks = [], []
    for r in range(1, ctx.repeats + 1):
        open_peaks.append(with_store(ctx, store, tickets, batch))
        empty_peaks.append(with_store(ctx, None, 0, batch))
        ctx.say(
            f"memory {r}/{ctx.repeats}: worker peak RSS {open_peaks[-1]:,.0f} MiB with {tickets:,} open tickets, "
            f"{empty_peaks[-1]:,.0f} MiB on an empty store"
        )
    shutil.rmtree(workdir, ignore_errors=True)
    med = statistics.median
    target = f"<= 1 GB ({TARGET_MIB:,} MiB)"
    figures = [
        Figure(
            f"worker peak RSS through scenario 1 ({landed_n:,} events landed)",
            landing_peaks,
            "MiB",
            reference=f"empty store, {batch:,} events: {med(empty_peaks):,.0f} MiB",
            ratio=ratio_x(med(landing_peaks), med(empty_peaks)),
            target=target,
            met=med(landing_peaks) <= TARGET_MIB,
        ),
        Figure(
            f"worker peak RSS, {tickets:,} open tickets, {batch:,} events landed",
            open_peaks,
            "MiB",
            reference=f"empty store, {batch:,} events: {med(empty_peaks):,.0f} MiB",
            ratio=ratio_x(med(open_peaks), med(empty_peaks)),
            target=target,
            met=med(open_peaks) <= TARGET_MIB,
        ),
        Figure(f"baseline: worker peak RSS, empty store, {batch:,} events landed", empty_peaks, "MiB"),
    ]
    notes = [
        "Peak = the larger of VmRSS sampled every 0.1 s and VmHWM from /proc/<pid>/status, from process "
        "start until it is stopped.",
        f"Open tickets: {transitions:,} transitions generated straight into the store (1-4 per ticket, none "
        f"Done, last 60 days; {size_mib:,.0f} MiB) and derived; each repeat starts a fresh worker on a copy, "
        f"lands {batch:,} fresh transitions moving {batch:,} of those tickets on, then idles {SETTLE:g} s.",
    ]
    return Section(
        "5. Memory",
        "Peak RSS of the worker process; the embedded broker and this process are not "
        f"counted; {ctx.repeats} repeat(s).",
        figures,
        notes,
    )

"""Scenario 6, hostile queries: does ad hoc SQL stall landing or /api/status?

One real worker with its default query limits. Two phases of SECONDS x scale each (at least
MIN_SECONDS), back to back, both with a steady RATE events/s of fresh transitions:
  quiet    nothing else;
  hostile  HOSTILE_CLIENTS threads each send hostile queries in a loop (a 400 MB result,
           a cross join that runs until the query timeout), as fast as they are answered.
A poller reads GET /api/status every POLL s: its round trip is the status latency, and the
landed count it reports tells when each sampled event landed (events are sent in order, so
event n has landed once `landed` > n; late by at most one poll). Landing latency = that time
- the event's send time. The figures put the hostile phase next to the quiet one of the same
run; the target is within 2x.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import requests

from benchmarks.procstat import RssSampler
from benchmarks.query_latency import PARTITIONS, SteadyProducer, Worker, pct, warm_up
from benchmarks.report import Figure, Section
from benchmarks.scenarios import Context
from streams.topics import ensure_topics

RATE = 500
SECONDS = 30.0
MIN_SECONDS = 4.0
SAMPLE_EVERY = 10
POLL = 0.05
TICKETS = 2_000
HOSTILE_CLIENTS = 4
TARGET_RATIO = 2.0
HOSTILE_SQL = (
    "SELECT repeat('x', 1000000) AS s FROM range(400)",  # 400 MB of result
    "SELECT count(*) FROM range(1000000000) a, range(100000) b",  # runs until query_timeout
)


@dataclass
class Phase:
    landing: list[float] = field(default_factory=list)  # seconds, per sampled event
    status: list[float] = field(default_factory=list)  # seconds, per GET /api/status
    answers: Counter = field(default_factory=Counter)  # hostile query outcomes by HTTP status
    peak_rss_mib: float = 0.0


def status_poller(worker: Worker, stop: threading.Event, seen: list[tuple[float, int]], rounds: list[float]) -> None:
    session = requests.Session()
    try:
        while not stop.is_set():  # bounded by the phase: the caller sets stop
            asked = time.perf_counter()
            report = session.get(f"{worker.url}/api/status", timeout=60).json()
            answered = time.perf_counter()
            rounds.append(answered - asked)
            landed = next(k["landed"] for k in report["kinds"] if k["kind"] == "transition")
            seen.append((time.time(), landed))
            stop.wait(max(0.0, POLL - (answered - asked)))
    finally:
        session.close()


def hostile_client(worker: Worker, first: int, stop: threading.Event, answers: Counter) -> None:
    """Sends HOSTILE_SQL in turn, starting at `first`, each as soon as the last was answered."""
    session = requests.Session()
    try:
        for turn in range(first, first + 1_000_000):  # bounded; the phase's stop ends it far sooner
            if stop.is_set():
                return
            sql = HOSTILE_SQL[turn % len(HOSTILE_SQL)]
            try:
                response = session.post(f"{worker.url}/api/sql", json={"sql": sql}, timeout=120)
                answers[response.status_code] += 1
            except requests.RequestException as exc:
                answers[exc.__class__.__name__] += 1
    finally:
        session.close()


def landing_latencies(sampled: list[tuple[int, float]], seen: list[tuple[float, int]]) -> list[float]:
    """For each (sequence number, send time): the first status poll whose landed count covers it."""
    out, i = [], 0
    for number, sent_at in sampled:
        while i < len(seen) and seen[i][1] <= number:
            i += 1
        if i == len(seen):
            break
        out.append(max(0.0, seen[i][0] - sent_at))
    return out


def phase(ctx: Context, worker: Worker, topic: str, first: int, seconds: float, hostile: bool) -> tuple[Phase, int]:
    result = Phase()
    steady = SteadyProducer(
        ctx.server, topic, TICKETS, first=first, rate=RATE, seconds=seconds, live_times=True, sample_every=SAMPLE_EVERY
    )
    stop = threading.Event()
    seen: list[tuple[float, int]] = []
    threads = [threading.Thread(target=status_poller, args=(worker, stop, seen, result.status), daemon=True)]
    if hostile:
        threads += [
            threading.Thread(target=hostile_client, daemon=True, args=(worker, i, stop, result.answers))
            for i in range(HOSTILE_CLIENTS)
        ]
    assert worker.process is not None, "phase() is given a started worker"
    rss = RssSampler(worker.process.pid).start()
    producing = threading.Thread(target=steady.run, name="steady-producer", daemon=True)
    for thread in threads:
        thread.start()
    producing.start()
    producing.join(seconds + 90)
    if producing.is_alive() or steady.error:
        stop.set()
        raise SystemExit(f"the steady producer failed: {steady.error or 'still running'}")
    worker.wait_landed(first + steady.sent, ctx.timeout, poll=0.1)  # nothing lost on the way
    time.sleep(2 * POLL)  # one more status poll after the last landing
    stop.set()
    threads[0].join(60)  # the status poller; hostile queries still running end with the worker
    result.peak_rss_mib = rss.stop()
    # Sequence numbers: the producer's sampled ids are ev-<n>; event n is the (n+1)-th sent.
    sampled = [(int(eid.rsplit("-", 1)[1]), at) for eid, at in steady.sampled]
    result.landing = landing_latencies(sampled, seen)
    return result, steady.sent


def run(ctx: Context) -> Section:
    seconds = max(MIN_SECONDS, SECONDS * ctx.scale)
    quiet_p95, hostile_p95, quiet_status, hostile_status, quiet_rss, hostile_rss = [], [], [], [], [], []
    answers: Counter = Counter()
    for r in range(1, ctx.repeats + 1):
        prefix = ctx.prefix("hostile")
        topic = f"{prefix}transitions"
        ensure_topics([ctx.server], [topic, f"{prefix}deploys", f"{prefix}dead-letter"], partitions=PARTITIONS)
        with ctx.running(ctx.worker(prefix)) as worker:
            warm_up(ctx.server, worker, topic, TICKETS, ctx.timeout)
            quiet, sent = phase(ctx, worker, topic, 1, seconds, hostile=False)
            loud, _ = phase(ctx, worker, topic, 1 + sent, seconds, hostile=True)
        quiet_p95.append(pct(quiet.landing, 95))
        hostile_p95.append(pct(loud.landing, 95))
        quiet_status.append(pct(quiet.status, 95))
        hostile_status.append(pct(loud.status, 95))
        quiet_rss.append(quiet.peak_rss_mib)
        hostile_rss.append(loud.peak_rss_mib)
        answers += loud.answers
        ctx.say(
            f"hostile {r}/{ctx.repeats}: landing p95 {quiet_p95[-1]:.3f} s quiet, {hostile_p95[-1]:.3f} s "
            f"hostile; /api/status p95 {quiet_status[-1] * 1000:.0f} ms quiet, {hostile_status[-1] * 1000:.0f} "
            f"ms hostile; peak RSS {quiet_rss[-1]:.0f} / {hostile_rss[-1]:.0f} MiB; hostile answers "
            f"{dict(loud.answers)}"
        )
    med = statistics.median
    land_ratio = med(hostile_p95) / med(quiet_p95)
    status_ratio = med(hostile_status) / med(quiet_status)
    figures = [
        Figure("landing latency p95, quiet", quiet_p95, "s", digits=3),
        Figure(
            "landing latency p95, 4 hostile queries",
            hostile_p95,
            "s",
            digits=3,
            reference="the quiet phase",
            ratio=f"{land_ratio:.2f}x",
            target=f"<= {TARGET_RATIO:g}x quiet",
            met=land_ratio <= TARGET_RATIO,
        ),
        Figure("GET /api/status p95, quiet", [s * 1000 for s in quiet_status], "ms", digits=1),
        Figure(
            "GET /api/status p95, 4 hostile queries",
            [s * 1000 for s in hostile_status],
            "ms",
            digits=1,
            reference="the quiet phase",
            ratio=f"{status_ratio:.2f}x",
            target=f"<= {TARGET_RATIO:g}x quiet",
            met=status_ratio <= TARGET_RATIO,
        ),
        Figure("worker peak RSS, quiet", quiet_rss, "MiB", digits=0),
        Figure("worker peak RSS, 4 hostile queries", hostile_rss, "MiB", digits=0),
    ]
    shown = ", ".join(f"{count:,} x {status}" for status, count in sorted(answers.items(), key=str))
    notes = [
        f"Each repeat: one worker with default query limits; {seconds:g} s quiet, then {seconds:g} s with "
        f"{HOSTILE_CLIENTS} clients looping over {' and '.join(repr(s) for s in HOSTILE_SQL)}; "
        f"{RATE:,} events/s throughout; every {SAMPLE_EVERY}th event sampled; /api/status polled every "
        f"{POLL * 1000:.0f} ms.",
        f"Hostile queries' answers over all repeats: {shown} (200: cut by a cap; 408: stopped at the "
        "time limit; 503: every query slot busy).",
        "Percentiles are per repeat; min/median/max are over the repeats.",
    ]
    return Section(
        "6. Hostile queries",
        f"Landing and /api/status while {HOSTILE_CLIENTS} clients send hostile SQL, next to the same "
        f"worker quiet; {ctx.repeats} repeat(s).",
        figures,
        notes,
    )

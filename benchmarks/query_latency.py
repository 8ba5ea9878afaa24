"""Query latency under ingest: ad hoc SQL over HTTP while the worker lands a steady stream.

Pre-produces N transitions (N/10 tickets walking a 10-step flow over 10 boards), lets the
real worker land them all, then for --seconds a background thread produces --rate more
events/s while this process queries POST /api/sql one query at a time, every --interval.
Also timed over HTTP while nothing is produced, for the share that is HTTP and JSON.
Floor, measured in the same run on the same data: the same SQL, as often, on an idle
in-process DuckDB opened on the worker's file after the worker stopped.
Run: python -m benchmarks.query_latency --transitions 1000000 --rate 2000 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import requests
from kafka import KafkaProducer

from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics

QUERIES = {
    "count": "SELECT count(*) FROM transitions",
    "group_by": "SELECT board, to_state, count(*) FROM transitions GROUP BY ALL",
    "wip_now": "SELECT * FROM wip_now",
}
PARTITIONS = 4
BOARDS = 10
# Each ticket's path; the live phase wraps round (a reopened ticket goes back to Backlog).
PATH = ["Backlog", "In Progress", "Review", "In Progress", "Review", "QA", "In Progress", "Review", "QA", "Done"]
START = datetime(2025, 1, 1, tzinfo=UTC)


def event_id(n: int) -> str:
    return f"q-{n}"


def event(n: int, tickets: int, at: datetime | None = None) -> tuple[int, bytes, bytes]:
    """(partition, key, value) of transition n: ticket n % tickets, its step n // tickets.

    Tickets take their steps in order within one partition, so each ticket's events stay
    in order; the partition is chosen here (ticket % PARTITIONS) to skip the Python murmur2.
    The event time is spread over 90 days from START unless `at` (UTC) is given.
    """
    ticket, step = n % tickets, n // tickets
    if at is None:
        at = START + timedelta(hours=ticket * 7 % (90 * 24) + step * 12)
    source = f'"{PATH[(step - 1) % len(PATH)]}"' if step else "null"
    value = (
        f'{{"event_id":"{event_id(n)}","ticket_id":"T-{ticket}","board":"board{ticket % BOARDS}",'
        f'"from_state":{source},"to_state":"{PATH[step % len(PATH)]}",'
        f'"at":"{at:%Y-%m-%dT%H:%M:%S}Z","team":"team{ticket % 20}","assignee":"a{ticket % 50}"}}'
    )
    return ticket % PARTITIONS, f"T-{ticket}".encode(), value.encode()


def producer_for(server: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=server,
        acks="all",
        linger_ms=20,
        batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
        metrics_enabled=False,
    )


def produce(server: str, topic: str, count: int, tickets: int) -> tuple[float, float]:
    """(seconds encoding, seconds sending through flush) for events 0..count-1."""
    started = time.perf_counter()
    encoded = [event(n, tickets) for n in range(count)]
    encoding = time.perf_counter() - started
    producer = producer_for(server)
    started = time.perf_counter()
    for partition, key, value in encoded:
        producer.send(topic, key=key, value=value, partition=partition)
    producer.flush()
    sending = time.perf_counter() - started
    producer.close()
    return encoding, sending


@dataclass
class SteadyProducer:
    """Sends `rate` events/s from event `first` on, in 20 ms slices against a deadline.

    live_times: stamp each event with the current time (fresh events, as a live source sends)
    instead of event()'s spread over 90 days. sample_every > 0: append (event_id, time.time()
    just after the send call) of every sample_every-th event to `sampled` (for freshness).
    """

    server: str
    topic: str
    tickets: int
    first: int
    rate: int
    seconds: float
    sent: int = 0
    elapsed: float = 0.0
    error: BaseException | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    live_times: bool = False
    sample_every: int = 0
    sampled: list[tuple[str, float]] = field(default_factory=list)

    def run(self) -> None:
        producer = producer_for(self.server)
        slice_s = 0.02
        try:
            started = time.monotonic()
            deadline = started + self.seconds
            for tick in range(int(self.seconds / slice_s) + 1):  # bounded: one pass per slice
                now = time.monotonic()
                if now >= deadline or self.stop.is_set():
                    break
                due = min(self.rate * (now - started + slice_s), self.rate * self.seconds)
                at = datetime.now(UTC) if self.live_times else None
                while self.sent < due:
                    n = self.first + self.sent
                    partition, key, value = event(n, self.tickets, at)
                    producer.send(self.topic, key=key, value=value, partition=partition)
                    if self.sample_every and self.sent % self.sample_every == 0:
                        self.sampled.append((event_id(n), time.time()))
                    self.sent += 1
                self.stop.wait(max(0.0, started + (tick + 1) * slice_s - time.monotonic()))
            producer.flush(timeout=60)
            self.elapsed = time.monotonic() - started
        except BaseException as exc:  # reported by the main thread
            self.error = exc
        finally:
            producer.close(timeout=10)


class Worker:
    """The real worker on a fresh store, as a subprocess; its HTTP API on a free port.

    Its files live in a new directory under `parent` (default: the system's temp dir).
    """

    def __init__(self, server: str, prefix: str, parent: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="flowmeter-querybench-", dir=parent))
        self.db = self.dir / "bench.duckdb"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.env = dict(
            {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")},
            FLOWMETER_BROKER=f"kafka://{server}",
            FLOWMETER_DB=str(self.db),
            FLOWMETER_TOPIC_PREFIX=prefix,
            FLOWMETER_GROUP_ID=f"bench-{uuid.uuid4().hex[:8]}",
            FLOWMETER_WEB_PORT=self.url.rsplit(":", 1)[1],
            FLOWMETER_SESSION_TIMEOUT="2",
            FLOWMETER_HEARTBEAT_INTERVAL="0.5",
            FLOWMETER_LOG_LEVEL="warning",
        )
        self.process: subprocess.Popen | None = None
        self.http = requests.Session()
        self.first_landed: tuple[float, int] | None = None  # (perf_counter, landed): the last wait_landed's first sight

    def start(self) -> None:
        with (self.dir / "worker.log").open("wb") as log:
            # cwd: its own directory, so no flowmeter.toml lying where the benchmark was started applies.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flowmeter", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
            )

    def landed(self) -> tuple[int, dict]:
        """(transitions landed, the worker's batch stats); SystemExit on dead letters or exit."""
        assert self.process is not None, "start() first"
        if self.process.poll() is not None:
            raise SystemExit(f"the worker exited with {self.process.returncode}; see {self.dir / 'worker.log'}")
        report = self.http.get(f"{self.url}/api/status", timeout=10).json()
        row = next(k for k in report["kinds"] if k["kind"] == "transition")
        if row["dead_lettered"] or row["duplicates"]:
            raise SystemExit(f"the benchmark's own events were rejected or duplicated: {row}")
        return row["landed"], report["worker"]

    def wait_landed(self, count: int, timeout: float, poll: float = 0.25) -> tuple[dict, float | None]:
        """(the worker's batch stats, perf_counter when a first landed batch was seen); polls every `poll` s."""
        deadline, first = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                landed, stats = self.landed()
            except requests.RequestException:  # not listening yet
                time.sleep(0.1)
                continue
            if landed and first is None:
                first = time.perf_counter()
                self.first_landed = (first, landed)
            if landed >= count:
                return stats, first
            time.sleep(poll)
        raise SystemExit(
            f"the worker did not land {count:,} transitions within {timeout:.0f} s; see {self.dir / 'worker.log'}"
        )

    def query(self, sql: str) -> tuple[float, float]:
        """(client wall ms incl. HTTP and JSON, server ms from X-Flowmeter-Elapsed-Ms)."""
        started = time.perf_counter()
        response = self.http.post(f"{self.url}/api/sql", json={"sql": sql}, timeout=60)
        response.json()
        client = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{sql!r} answered {response.status_code}: {response.text[:300]}")
        return client, float(response.headers["X-Flowmeter-Elapsed-Ms"])

    def stop(self, timeout: float = 60) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def warm_up(server: str, worker: Worker, topic: str, tickets: int, timeout: float) -> None:
    """Start the worker and land one fresh event: started, group joined, a first batch landed."""
    worker.start()
    producer = producer_for(server)
    try:
        partition, key, value = event(0, tickets, datetime.now(UTC))
        producer.send(topic, key=key, value=value, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    worker.wait_landed(1, timeout, poll=0.1)


def query_loop(worker: Worker, seconds: float, interval: float) -> dict[str, list[tuple[float, float]]]:
    """Round-robin over QUERIES, one at a time, starting one every `interval` s for `seconds`."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in QUERIES}
    names = list(QUERIES)
    started = time.monotonic()
    for n in range(int(seconds / interval) + 1):  # bounded: at most one query per interval
        due = started + n * interval
        if due >= started + seconds:
            break
        time.sleep(max(0.0, due - time.monotonic()))  # a slow query delays the next, no catch-up burst
        name = names[n % len(names)]
        samples[name].append(worker.query(QUERIES[name]))
    return samples


def floor(db: Path, repeats: dict[str, int]) -> dict[str, list[float]]:
    """The same SQL on an idle in-process DuckDB holding the same data, in ms (one warm-up each)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for name, sql in QUERIES.items():
            con.execute(sql).fetchall()
            times = []
            for _ in range(repeats[name]):
                started = time.perf_counter()
                con.execute(sql).fetchall()
                times.append((time.perf_counter() - started) * 1000)
            out[name] = times
        return out
    finally:
        con.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transitions", type=int, default=1_000_000, help="pre-produced before measuring")
    parser.add_argument("--rate", type=int, default=2_000, help="events/s produced while measuring")
    parser.add_argument("--seconds", type=float, default=30, help="length of the measurement under ingest")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between query starts")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="floor repetitions per query (default: as many as each query ran under ingest)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="longest wait for landing, seconds")
    args = parser.parse_args(argv)
    if args.transitions < 1 or args.rate < 1 or args.seconds <= 0 or args.interval <= 0:
        parser.error("--transitions, --rate, --seconds and --interval must be positive.")
    tickets = max(1, args.transitions // len(PATH))
    prefix = f"qbench{uuid.uuid4().hex[:6]}."
    topics = [f"{prefix}transitions", f"{prefix}deploys", f"{prefix}dead-letter"]
    n = args.transitions

    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, {platform.system()} {platform.release()}"
    )
    with EmbeddedBroker() as broker:
        server = broker.url.removeprefix("kafka://")
        ensure_topics([server], topics, partitions=PARTITIONS)
        encoding, sending = produce(server, topics[0], n, tickets)
        print(
            f"pre-produced {n:,} transitions ({tickets:,} tickets, {BOARDS} boards): encode {encoding:.1f} s, "
            f"send {sending:.1f} s ({n / sending:,.0f} events/s)"
        )

        worker = Worker(server, prefix)
        steady = SteadyProducer(server, topics[0], tickets, n, args.rate, args.seconds)
        thread = threading.Thread(target=steady.run, name="steady-producer", daemon=True)
        try:
            started = time.perf_counter()
            worker.start()
            stats, first = worker.wait_landed(n, args.timeout)
            done = time.perf_counter()
            assert first is not None  # n >= 1 events landed, so a first landed batch was seen
            print(
                f"landed {n:,} in {done - started:.1f} s from worker start ({n / (done - started):,.0f} "
                f"events/s), {done - first:.1f} s from the first landed batch ({n / (done - first):,.0f} "
                f"events/s); worker: filling {stats['filling_seconds']:.1f} s, parsing "
                f"{stats['parsing_seconds']:.1f} s, writing {stats['writing_seconds']:.1f} s over "
                f"{stats['batches']} batches"
            )

            for sql in QUERIES.values():  # warm-up: connection, first plan, caches
                worker.query(sql)
            idle = query_loop(worker, max(args.interval * len(QUERIES), args.seconds / 3), args.interval)

            before, t0 = worker.landed()[0], time.monotonic()
            thread.start()
            ingest = query_loop(worker, args.seconds, args.interval)
            after, t1, sent = worker.landed()[0], time.monotonic(), steady.sent
            steady.stop.set()
            thread.join(90)
            if thread.is_alive() or steady.error:
                raise SystemExit(f"the steady producer failed: {steady.error or 'still running after 90 s'}")
            total = n + steady.sent
            worker.wait_landed(total, args.timeout)
            caught_up = time.monotonic() - t1
        finally:
            steady.stop.set()
            worker.stop()
    if worker.process is not None and worker.process.returncode not in (0, None):
        print(f"  (worker exited with {worker.process.returncode} on SIGTERM; see {worker.dir / 'worker.log'})")

    repeats = {name: args.repeats or len(ingest[name]) for name in QUERIES}
    idle_floor = floor(worker.db, repeats)
    landed_rate = (after - before) / (t1 - t0)
    print(
        f"ingest while measuring: target {args.rate:,} events/s, produced {steady.sent / steady.elapsed:,.0f} "
        f"events/s, landed {landed_rate:,.0f} events/s ({after - before:,} in {t1 - t0:.1f} s, from "
        f"/api/status); {n + sent - after:,} produced but not landed at the window's end, all landed "
        f"{caught_up:.1f} s after it; store {total:,} transitions at the end"
    )
    print(
        f"queries: {args.seconds:g} s under ingest, one every {args.interval:g} s, round-robin, sequential; "
        f"floor: in-process on the stopped worker's file ({worker.db.stat().st_size / 2**20:,.0f} MiB), "
        f"one warm-up then {', '.join(map(str, repeats.values()))} runs"
    )
    head = (
        f"{'query':<10} {'n':>4} | {'client p50':>10} {'p95':>7} | {'server p50':>10} {'p95':>7} | "
        f"{'floor p50':>9} {'p95':>7} | {'client/floor':>12} | {'HTTP idle p50':>13}"
    )
    print(head + "\n" + "-" * len(head))
    for name in QUERIES:
        client = [c for c, _ in ingest[name]]
        server_ms = [s for _, s in ingest[name]]
        base = idle_floor[name]
        print(
            f"{name:<10} {len(client):>4} | {pct(client, 50):>10.1f} {pct(client, 95):>7.1f} | "
            f"{pct(server_ms, 50):>10.1f} {pct(server_ms, 95):>7.1f} | {pct(base, 50):>9.1f} {pct(base, 95):>7.1f} | "
            f"{pct(client, 50) / pct(base, 50):>11.1f}x | {pct([c for c, _ in idle[name]], 50):>13.1f}"
        )
    print(
        "ms. client: wall time of POST /api/sql under ingest (HTTP + JSON); server: its X-Flowmeter-Elapsed-Ms; "
        "floor: idle in-process con.execute().fetchall();\nHTTP idle: client wall time after landing, before the "
        f"steady producer started ({len(idle['count'])} runs each)"
    )
    for name, sql in QUERIES.items():
        print(f"  {name}: {sql}")
    shutil.rmtree(worker.dir, ignore_errors=True)  # kept on failure, for worker.log


if __name__ == "__main__":
    main()

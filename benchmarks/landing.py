"""Landing throughput: pre-produced transitions -> queryable in DuckDB through the real worker.

Ceiling, measured in the same run on the same topic: a raw kafka-python consumer that
only polls (no parsing, no writes). Run: python -m benchmarks.landing --events 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from kafka import KafkaConsumer, KafkaProducer

from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics


def produce(server: str, topic: str, count: int) -> float:
    producer = KafkaProducer(bootstrap_servers=server, acks="all", linger_ms=20, batch_size=512 * 1024)
    started = time.perf_counter()
    for n in range(count):
        event = {
            "event_id": f"b-{n}",
            "ticket_id": f"T-{n % 50_000}",
            "board": "bench",
            "from_state": "Backlog",
            "to_state": "In Progress",
            "at": "2025-03-01T09:00:00Z",
            "team": "core",
            "assignee": "ana",
        }
        producer.send(topic, key=event["ticket_id"].encode(), value=json.dumps(event).encode())
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def raw_consume(server: str, topic: str, count: int, timeout: float) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=server,
        group_id=None,
        auto_offset_reset="earliest",
        max_poll_records=10_000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    seen, started, deadline = 0, time.perf_counter(), time.monotonic() + timeout
    while seen < count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
    consumer.close()
    if seen < count:
        raise SystemExit(f"raw consumer saw only {seen:,} of {count:,} events within {timeout:.0f} s")
    return time.perf_counter() - started


def worker_landing(server: str, prefix: str, count: int, batch_max: int, timeout: float) -> tuple[float, float]:
    """(seconds from worker start to all landed, seconds from the first landed batch to all landed)."""
    workdir = Path(tempfile.mkdtemp(prefix="flowmeter-bench-"))
    port = free_port()
    env = dict(
        {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")},
        FLOWMETER_BROKER=f"kafka://{server}",
        FLOWMETER_DB=str(workdir / "bench.duckdb"),
        FLOWMETER_TOPIC_PREFIX=prefix,
        FLOWMETER_GROUP_ID=f"bench-{uuid.uuid4().hex[:8]}",
        FLOWMETER_WEB_PORT=str(port),
        FLOWMETER_BATCH_MAX=str(batch_max),
        FLOWMETER_SESSION_TIMEOUT="2",
        FLOWMETER_HEARTBEAT_INTERVAL="0.5",
        FLOWMETER_LOG_LEVEL="warning",
    )
    started = time.perf_counter()
    with (workdir / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flowmeter", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    first = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}; see {workdir / 'worker.log'}")
            try:
                requests.get(f"http://127.0.0.1:{port}/api/status", timeout=5)
            except requests.RequestException:
                time.sleep(0.1)
                continue
            report = requests.get(f"http://127.0.0.1:{port}/api/status", timeout=5).json()
            kinds, stats = report["kinds"], report["worker"]
            landed = next(k["landed"] for k in kinds if k["kind"] == "transition")
            if landed and first is None:
                first = time.perf_counter()
            if landed >= count:
                done = time.perf_counter()
                assert first is not None  # landed >= count >= 1, so this poll saw landed events at the latest
                print(
                    f"  worker time: filling batches {stats['filling_seconds']:.1f} s, parsing "
                    f"{stats['parsing_seconds']:.1f} s, writing {stats['writing_seconds']:.1f} s "
                    f"over {stats['batches']} batches"
                )
                return done - started, done - first
            time.sleep(0.25)
        raise SystemExit(f"the worker did not land {count:,} events within {timeout:.0f} s")
    finally:
        worker.terminate()
        worker.wait(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-max", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    with EmbeddedBroker() as broker:
        server = broker.url.removeprefix("kafka://")
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        topics = [f"{prefix}transitions", f"{prefix}deploys", f"{prefix}dead-letter"]
        ensure_topics([server], topics, partitions=4)
        produced = produce(server, topics[0], args.events)
        ceiling = raw_consume(server, topics[0], args.events, args.timeout)
        total, steady = worker_landing(server, prefix, args.events, args.batch_max, args.timeout)

    n = args.events
    print(f"landing {n:,} transitions, batch_max {args.batch_max:,}, {os.cpu_count()} cores")
    print(f"  produce (kafka-python)            {n / produced:>10,.0f} events/s")
    print(f"  ceiling: raw kafka-python poll    {n / ceiling:>10,.0f} events/s")
    print(
        f"  worker, first batch -> all landed {n / steady:>10,.0f} events/s  "
        f"({steady / ceiling:.1f}x the ceiling's time)"
    )
    print(f"  worker, process start -> landed   {n / total:>10,.0f} events/s  (includes start-up and group join)")


if __name__ == "__main__":
    main()

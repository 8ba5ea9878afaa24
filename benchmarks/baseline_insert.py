"""Baseline for landing: the naive way, one INSERT per event.

Consumes the topic with kafka-python, json.loads each message and runs one
`INSERT INTO transitions VALUES (...)` per event (autocommit: one transaction each) into a
fresh DuckDB file with the real schema. No deduplication, offsets or derived tables, so it
does less than the worker: the ratio to it understates what batching buys. Slow by design,
so it is measured on the first `count` events of the topic (the harness uses at most 20,000).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from kafka import KafkaConsumer

from analytics.store import Store

SUBSET = 20_000
# By name: columns added to the table later (attributes) take their default.
INSERT = (
    "INSERT INTO transitions (event_id, ticket_id, board, from_state, to_state, occurred_at, assignee, team, "
    "ticket_type, actor, source, landed_at, src) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def per_event_insert(server: str, topic: str, count: int, db: Path, timeout: float) -> float:
    """Seconds to consume and insert the first `count` events of `topic`, one INSERT each."""
    Store.open(db).close()  # the real tables, views and defaults
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=server,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5_000,
    )
    con = duckdb.connect(str(db))  # a plain connection of its own: the naive way has no Store
    done, deadline = 0, time.monotonic() + timeout
    try:
        started = time.perf_counter()
        while done < count:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the per-event INSERT baseline inserted only {done:,} of {count:,} events within {timeout:.0f} s"
                )
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if done >= count:
                        break
                    e = json.loads(record.value)
                    at = datetime.fromisoformat(e["at"]).astimezone(UTC).replace(tzinfo=None)
                    con.execute(
                        INSERT,
                        [
                            e["event_id"],
                            e["ticket_id"],
                            e["board"],
                            e.get("from_state"),
                            e["to_state"],
                            at,
                            e.get("assignee"),
                            e.get("team"),
                            e.get("ticket_type"),
                            e.get("actor"),
                            e.get("source"),
                            datetime.now(UTC).replace(tzinfo=None),
                            f"{record.topic}[{record.partition}]@{record.offset}",
                        ],
                    )
                    done += 1
        seconds = time.perf_counter() - started
        stored = con.execute("SELECT count(*) FROM transitions").fetchall()[0][0]
        if stored != count:
            raise SystemExit(f"the per-event INSERT baseline stored {stored:,} rows, not {count:,}")
        return seconds
    finally:
        consumer.close()
        con.close()

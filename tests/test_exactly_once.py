"""Nothing lost, nothing doubled: a real worker, the real broker, SIGKILL in the middle."""

from __future__ import annotations

import signal
from collections import Counter

import duckdb
import pytest

from tests.helpers.dead_letters import dead_letter_headers
from tests.helpers.events import MALFORMED, encode, transition
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]

DISTINCT, RESENT, BAD = 19_800, 200, 100
TOTAL = DISTINCT + RESENT + BAD  # 20,100 messages on the topic


def build_stream() -> tuple[list[tuple[bytes, bytes]], Counter]:
    """19,800 distinct transitions, 200 of them re-sent later, 100 malformed ones spread through."""
    good = [(f"T-{n % 500}".encode(), encode(transition(n))) for n in range(DISTINCT)]
    resent = [good[i] for i in range(0, DISTINCT, 99)]  # 0, 99, ..., 19,701: 200 re-sends
    assert len(resent) == RESENT
    bad: list[tuple[bytes, bytes]] = []
    reasons: Counter[str] = Counter()
    for n in range(BAD):
        make, fragment = MALFORMED[n % len(MALFORMED)]
        bad.append((b"bad", make(n)))
        reasons[fragment] += 1
    stream: list[tuple[bytes, bytes]] = []
    for i, message in enumerate(good):
        stream.append(message)
        if i % 198 == 0 and bad:  # a malformed one every 198 good ones
            stream.append(bad.pop())
        if i >= 10_000 and i % 49 == 0 and resent:  # re-sends in the second half
            stream.append(resent.pop())
    stream += bad + resent
    assert len(stream) == TOTAL
    return stream, reasons


def test_sigkill_mid_stream_then_restart_lands_each_event_exactly_once(worker_factory, producer, topics, broker):
    stream, expected_reasons = build_stream()
    for key, value in stream:
        producer.send(topics["transitions"], key=key, value=value)
    producer.flush()

    worker = worker_factory(batch_max=500).start()
    at_kill = wait_until(lambda: (s := worker.status())["accounted"] >= 2_000 and s, 60, "2,000 events landed")
    assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
    with duckdb.connect(worker.env["FLOWMETER_DB"], read_only=True) as con:
        landed_at_kill = con.execute("SELECT count(*) FROM transitions").fetchone()[0]
    assert at_kill["accounted"] <= landed_at_kill + BAD + RESENT
    assert 0 < landed_at_kill < DISTINCT, "the kill must fall in the middle of the stream"

    worker.start()
    final = worker.wait_accounted(TOTAL)
    row = final["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (DISTINCT, RESENT, BAD)
    assert final["accounted"] == TOTAL
    assert worker.stop() == 0

    with duckdb.connect(worker.env["FLOWMETER_DB"], read_only=True) as con:
        ids = [r[0] for r in con.execute("SELECT event_id FROM transitions").fetchall()]
        assert len(ids) == DISTINCT
        assert set(ids) == {f"ev-{n}" for n in range(DISTINCT)}
        dead = con.execute("SELECT src, reason FROM dead_letters").fetchall()
        assert len(dead) == BAD and len({src for src, _ in dead}) == BAD
        got = Counter(next(f for f in expected_reasons if f in reason) for _, reason in dead)
        assert got == expected_reasons  # every malformed message got its own reason
        counts = con.execute("SELECT sum(landed), sum(duplicates), sum(dead_lettered) FROM ingest_counts").fetchone()
        assert counts == (DISTINCT, RESENT, BAD)
        dead_srcs = {src for src, _ in dead}

    # The dead-letter topic holds each reject at least once (a kill between its send and
    # the batch's commit re-sends it), with the reason and the source coordinates.
    headers = dead_letter_headers(broker, topics["dead_letter"], BAD)
    assert {h["flowmeter-source"] for h in headers} == dead_srcs
    assert all(h["flowmeter-reason"] for h in headers)


def test_sigterm_while_landing_finishes_the_batch_and_loses_nothing(worker_factory, producer, topics):
    total = 12_000
    for n in range(total):
        producer.send(topics["transitions"], key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    producer.flush()

    worker = worker_factory(batch_max=1_000).start()
    wait_until(lambda: worker.status()["accounted"] >= 1_000, 60, "the first batch to land")
    assert worker.stop(signal.SIGTERM) == 0  # a clean stop ...
    with duckdb.connect(worker.env["FLOWMETER_DB"], read_only=True) as con:
        assert 0 < con.execute("SELECT count(*) FROM transitions").fetchone()[0] < total  # ... mid-stream

    worker.start()
    final = worker.wait_accounted(total)
    assert final["by_kind"]["transition"]["landed"] == total
    assert final["by_kind"]["transition"]["duplicates"] == 0
    assert worker.stop() == 0
    with duckdb.connect(worker.env["FLOWMETER_DB"], read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT event_id) FROM transitions").fetchone() == (total, total)

"""A DuckDB write that fails mid-stream is never acknowledged past: retried, or the worker
stops before the ack and resumes from the offsets stored with the last landed batch.

The failure is injected by the `store.commit` failpoint, which raises duckdb.IOException
inside the open transaction after the batch's rows were inserted, so the rollback and
recovery paths run exactly as they would for a full disk."""

from __future__ import annotations

import duckdb
import pytest

from streams.lander import EXIT_WRITE_FAILED
from tests.helpers.events import MALFORMED, encode, transition
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.heavy]


def send_stream(producer, topic: str, good: int, bad: int) -> None:
    for n in range(good):
        producer.send(topic, key=f"T-{n % 500}".encode(), value=encode(transition(n)))
        if n % (good // max(bad, 1)) == 0 and n // (good // max(bad, 1)) < bad:
            make, _ = MALFORMED[n % len(MALFORMED)]
            producer.send(topic, key=b"bad", value=make(n))
    producer.flush()


def stored(db: str) -> tuple[int, int, int]:
    with duckdb.connect(db, read_only=True) as con:
        [(rows,)] = con.execute("SELECT count(*) FROM transitions").fetchall()
        [(ids,)] = con.execute("SELECT count(DISTINCT event_id) FROM transitions").fetchall()
        [(dead,)] = con.execute("SELECT count(*) FROM dead_letters").fetchall()
    return rows, ids, dead


def test_transient_write_failure_is_retried_and_nothing_is_lost_or_doubled(worker_factory, producer, topics):
    good, bad = 6_000, 20
    send_stream(producer, topics["transitions"], good, bad)
    # Batches 1-3 land, the 4th and 5th commit attempts fail, the 6th (a retry) succeeds.
    worker = worker_factory(batch_max=500, failpoints="store.commit=3+2").start()
    final = worker.wait_accounted(good + bad)
    assert worker.process.poll() is None, "a transient failure must not stop the worker"
    row = final["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (good, 0, bad)
    assert "retry 2 of 5" in worker.log_tail(200)
    assert worker.stop() == 0
    assert stored(worker.env["FLOWMETER_DB"]) == (good, good, bad)


def test_persistent_write_failure_stops_before_the_ack_and_restart_resumes(worker_factory, producer, topics):
    good, bad = 6_000, 20
    send_stream(producer, topics["transitions"], good, bad)
    # Two batches land; every later commit fails; after 1 retry the worker must exit.
    worker = worker_factory(batch_max=500, failpoints="store.commit=2+", write_retries=1).start()
    wait_until(lambda: worker.process.poll() is not None, 60, "the worker to stop on the failing write")
    assert worker.stop() == EXIT_WRITE_FAILED
    assert "stopping before Faust acknowledges the batch" in worker.log_tail(50)
    landed, distinct, _ = stored(worker.env["FLOWMETER_DB"])
    assert 0 < landed == distinct < good  # two batches' worth, no partial third

    worker.start(FLOWMETER_FAILPOINTS="")  # the disk was cleared: restart without the fault
    final = worker.wait_accounted(good + bad)
    row = final["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (good, 0, bad)
    assert worker.stop() == 0
    assert stored(worker.env["FLOWMETER_DB"]) == (good, good, bad)

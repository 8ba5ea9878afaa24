"""The store on a real DuckDB file: dedup, positions, atomic batches, clear errors."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from analytics import snapshot
from analytics.store import LandResult, Store
from flowcore.batch import Envelope, prepare
from flowcore.errors import StoreError, StoreLocked
from flowcore.failpoints import Failpoints
from tests.helpers.events import encode, transition

T = "flow.transitions"


def env(offset: int, value: bytes, partition: int = 0, kind: str = "transition", source: str = T) -> Envelope:
    return Envelope(source, partition, offset, kind, value)


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as s:
        s.use_logs({T: "log-1"})
        yield s


def count(store: Store, sql: str):
    return store.read(sql)[1][0][0]


def test_same_event_id_lands_once_within_and_across_batches(store):
    # Batch 1: ids ev-0..ev-4 plus ev-0 again -> 5 landed, 1 duplicate.
    first = [env(i, encode(transition(i))) for i in range(5)] + [env(5, encode(transition(0)))]
    assert store.commit(prepare(first)) == LandResult(landed=5, duplicates=1, dead_lettered=0)
    # Batch 2: ev-3, ev-4 again (duplicates) and ev-5 new -> 1 landed, 2 duplicates.
    second = [env(6 + i, encode(transition(n))) for i, n in enumerate([3, 4, 5])]
    assert store.commit(prepare(second)) == LandResult(landed=1, duplicates=2, dead_lettered=0)
    assert count(store, "SELECT count(*) FROM transitions") == 6
    assert store.read("SELECT landed, duplicates, dead_lettered FROM ingest_counts")[1] == [(6, 3, 0)]


def test_positions_skip_redelivered_offsets_per_partition(store):
    store.commit(
        prepare(
            [env(0, encode(transition(0))), env(1, encode(transition(1))), env(0, encode(transition(2)), partition=1)]
        )
    )
    again = [env(1, b"x"), env(2, b"y"), env(0, b"z", partition=1), env(1, b"w", partition=1), env(0, b"v", 2)]
    fresh, skipped = store.unseen(again)
    # Landed: partition 0 up to offset 1, partition 1 up to offset 0, partition 2 nothing.
    assert skipped == 2
    assert [(e.partition, e.offset) for e in fresh] == [(0, 2), (1, 1), (2, 0)]


def test_positions_survive_reopening_but_not_a_new_log(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store.open(path) as s:
        s.use_logs({T: "log-1"})
        s.commit(prepare([env(i, encode(transition(i))) for i in range(3)]))
    with Store.open(path) as s:
        s.use_logs({T: "log-1"})
        assert s.landed_position(T, 0) == 2
        s.use_logs({T: "log-2"})  # the topic was recreated (or a fresh embedded broker): offsets restart
        assert s.landed_position(T, 0) is None
        assert s.unseen([env(0, b"new")])[1] == 0


def test_a_failed_commit_leaves_nothing_behind_and_a_retry_lands_it_once(tmp_path):
    with Store.open(tmp_path / "s.duckdb", failpoints=Failpoints("store.commit=0+1")) as s:
        s.use_logs({T: "log-1"})
        batch = prepare([env(0, encode(transition(0))), env(1, b"{bad")])
        with pytest.raises(duckdb.IOException, match="failpoint store.commit"):
            s.commit(batch)
        for table in ("transitions", "dead_letters", "ingest_counts", "ingest_positions"):
            assert count(s, f"SELECT count(*) FROM {table}") == 0, table
        assert s.landed_position(T, 0) is None
        assert s.commit(batch) == LandResult(landed=1, duplicates=0, dead_lettered=1)
        assert s.landed_position(T, 0) == 1


def test_dead_letters_keep_reason_source_and_bytes_and_a_rerun_does_not_double_them(store):
    rejects = [Envelope("file:/x.jsonl", 0, 7, "transition", b"{nope")]
    assert store.commit(prepare(rejects)).dead_lettered == 1
    assert store.commit(prepare(rejects)) == LandResult(landed=0, duplicates=1, dead_lettered=0)
    src, kind, reason, raw = store.read("SELECT src, kind, reason, raw FROM dead_letters")[1][0]
    assert (src, kind, raw) == ("file:/x.jsonl:7", "transition", b"{nope")
    assert reason.startswith("the message is not JSON")


def test_deploys_land_with_commits_and_tickets(store):
    deploy = encode(
        {
            "event_id": "d1",
            "service": "api",
            "environment": "prod",
            "status": "failure",
            "at": "2025-03-01T10:00:00Z",
            "commits": [{"sha": "a1", "committed_at": "2025-03-01T08:00:00Z"}],
            "tickets": ["T-1"],
        }
    )
    store.use_logs({T: "log-1", "flow.deploys": "log-2"})
    assert store.commit(prepare([env(0, deploy, kind="deploy", source="flow.deploys")])).landed == 1
    row = store.read("SELECT service, status, commits[1].sha, tickets, src FROM deploys")[1][0]
    assert row == ("api", "failure", "a1", ["T-1"], "flow.deploys[0]@0")


def test_ingest_status_view_accounts_for_every_kind(store):
    store.commit(
        prepare(
            [
                env(0, encode(transition(0))),
                env(1, encode(transition(0))),
                env(2, b"!"),
                Envelope("flow.dead-letter", 0, 0, "unknown", b"?", "line 3: not JSON"),
            ]
        )
    )
    rows = {r[0]: r[1:5] for r in store.read("SELECT * FROM ingest_status")[1]}
    # kind: (received, landed, duplicates, dead_lettered)
    assert rows == {
        "deploy": (0, 0, 0, 0),
        "incident": (0, 0, 0, 0),
        "transition": (3, 1, 1, 1),
        "unknown": (1, 0, 0, 1),
    }


def test_opening_a_store_held_by_another_process_says_so_in_one_sentence(tmp_path):
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(path)!r})
        print("held", flush=True)
        sys.stdin.read()
    """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked) as caught:
            Store.open(path)
        message = str(caught.value)
        assert f"PID {holder.pid}" in message and "flowmeter worker" in message and "\n" not in message
    finally:
        holder.stdin.close()
        holder.wait(10)


def test_read_only_open_of_a_missing_store_explains(tmp_path):
    with pytest.raises(StoreError, match="no store at .*land some events first"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def _derived(store: Store) -> tuple[list, list]:
    visits = store.read("SELECT * EXCLUDE (event_id) FROM visits ORDER BY ticket_id, seq")[1]
    tickets = store.read("SELECT * FROM tickets ORDER BY ticket_id")[1]
    return visits, tickets


def test_a_backfill_derives_once_at_the_end_exactly_what_batch_by_batch_derives(tmp_path):
    # 600 events over 50 tickets (12 each), in a shuffled order, in batches of 70: every ticket
    # is touched by several batches. Deferred derivation must give the same visits and tickets.
    import random

    paths = ["Backlog", "In Progress", "Review", "In Progress", "Review", "QA", "Done"]
    events = [
        transition(
            n,
            ticket_id=f"K{n % 50}",
            to_state=paths[(n // 50) % len(paths)],
            at=f"2025-03-{1 + n // 50:02d}T{n % 24:02d}:00:00Z",
        )
        for n in range(600)
    ]
    random.Random(7).shuffle(events)
    batches = [[env(i + j, encode(e)) for j, e in enumerate(events[i : i + 70])] for i in range(0, 600, 70)]
    with Store.open(tmp_path / "live.duckdb") as live, Store.open(tmp_path / "backfill.duckdb") as backfill:
        for batch in batches:
            live.commit(prepare(batch))
            backfill.commit(prepare(batch), derive=False)
        assert count(backfill, "SELECT count(*) FROM tickets") == 0  # nothing derived yet
        assert backfill.derive_backlog() == 50
        assert _derived(backfill) == _derived(live)
        assert count(backfill, "SELECT count(*) FROM derive_backlog") == 0


def test_a_backlog_left_by_a_crash_is_derived_when_the_store_is_next_opened(tmp_path):
    with Store.open(tmp_path / "s.duckdb") as store:
        store.commit(
            prepare([env(0, encode(transition(0, ticket_id="A"))), env(1, encode(transition(1, ticket_id="B")))]),
            derive=False,
        )
    with Store.open(tmp_path / "s.duckdb") as store:
        assert count(store, "SELECT count(*) FROM tickets") == 2
        assert count(store, "SELECT count(*) FROM derive_backlog") == 0


def test_batches_deferred_while_catching_up_are_derived_with_the_next_live_batch(tmp_path):
    # Worker catching up: two full batches deferred, then a live batch derives all three at once.
    events = [
        transition(
            n, ticket_id=f"K{n % 7}", to_state=("Review" if n % 2 else "In Progress"), at=f"2025-03-01T{n:02d}:00:00Z"
        )
        for n in range(21)
    ]
    batches = [[env(i + j, encode(e)) for j, e in enumerate(events[i : i + 7])] for i in range(0, 21, 7)]
    with Store.open(tmp_path / "live.duckdb") as live, Store.open(tmp_path / "caught.duckdb") as caught:
        for batch in batches:
            live.commit(prepare(batch))
        caught.commit(prepare(batches[0]), derive=False)
        caught.commit(prepare(batches[1]), derive=False)
        assert caught.backlog_pending and count(caught, "SELECT count(*) FROM derive_backlog") == 14
        caught.commit(prepare(batches[2]))  # K0..K6 of this batch and the 7 deferred: derived together
        assert not caught.backlog_pending
        assert _derived(caught) == _derived(live)
        assert count(caught, "SELECT count(*) FROM derive_backlog") == 0


def test_incidents_land_once_and_are_counted_per_kind(store):
    opened = {
        "event_id": "i1",
        "incident_id": "PD-7",
        "service": "api",
        "status": "opened",
        "at": "2025-03-01T10:00:00Z",
    }
    resolved = {**opened, "event_id": "i2", "status": "resolved", "at": "2025-03-01T11:00:00+01:00", "severity": "P1"}
    store.use_logs({"flow.incidents": "log-3"})
    batch = [
        env(0, encode(opened), kind="incident", source="flow.incidents"),
        env(1, encode(resolved), kind="incident", source="flow.incidents"),
        env(2, encode(opened), kind="incident", source="flow.incidents"),  # sent twice: a duplicate
        env(3, encode({**opened, "status": "firing"}), kind="incident", source="flow.incidents"),
    ]
    result = store.commit(prepare(batch))
    assert (result.landed, result.duplicates, result.dead_lettered) == (2, 1, 1)
    rows = store.read("SELECT event_id, status, occurred_at::VARCHAR, severity, src FROM incidents ORDER BY event_id")[
        1
    ]
    # 11:00 at UTC+1 is 10:00 UTC.
    assert rows == [
        ("i1", "opened", "2025-03-01 10:00:00", None, "flow.incidents[0]@0"),
        ("i2", "resolved", "2025-03-01 10:00:00", "P1", "flow.incidents[0]@1"),
    ]
    status = {r[0]: r[1:5] for r in store.read("SELECT * FROM ingest_status")[1]}
    assert status["incident"] == (4, 2, 1, 1)  # received = landed + duplicates + dead-lettered
    assert store.read("SELECT reason FROM dead_letters")[1] == [
        ("status 'firing' is not one of opened, acknowledged, resolved.",)
    ]


def test_a_snapshot_copies_every_table_the_store_keeps():
    # A table added to tables.sql and forgotten in TABLES would be silently missing from every
    # snapshot and restore (the incidents table nearly was).
    sql = (Path(snapshot.__file__).parent / "sql" / "tables.sql").read_text()
    assert set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql)) == set(snapshot.TABLES)

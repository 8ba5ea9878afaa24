"""A damaged store is refused at start in one sentence; a full disk exits 75; a FATAL DuckDB
error ends the worker at once instead of retrying on a dead connection; and the recovery
paths of docs/recovery.md (rebuild from Kafka, restore a snapshot) land every event exactly
once (issue 13 item 8)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.errors import EX_TEMPFAIL, StoreDamaged
from tests.helpers.events import encode, transition

# How the file is damaged, and a fragment of what DuckDB says (measured with DuckDB 2.0.1):
# counting rows passes on each of these; only reading every block finds them.
DAMAGE = [
    ("truncated to half", lambda p, size: os.truncate(p, size // 2), "Could not read enough bytes"),
    ("truncated to 90%", lambda p, size: os.truncate(p, size * 9 // 10), "Could not read enough bytes"),
    ("4 KB of garbage 8 KB before the end", lambda p, size: _scribble(p, size - 8192), "checksum"),
    ("4 KB of garbage in the middle", lambda p, size: _scribble(p, size // 2), "checksum"),
    ("garbage over the header", lambda p, size: _scribble(p, 4096, 512), "Corrupt database file"),
]


def _scribble(path: Path, at: int, n: int = 4096) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(os.urandom(n))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    """A checkpointed store of 20,000 transitions (about 2.9 MB)."""
    path = tmp_path_factory.mktemp("healthy") / "flow.duckdb"
    with Store.open(path) as store:
        store.commit(prepare([Envelope("file:x", 0, n, "transition", encode(transition(n))) for n in range(20_000)]))
        store.read("CHECKPOINT")
    return path


@pytest.mark.parametrize("what,damage,says", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_store_is_refused_at_start(healthy, tmp_path, what, damage, says):
    path = tmp_path / "flow.duckdb"
    shutil.copy(healthy, path)
    damage(path, path.stat().st_size)
    with pytest.raises(StoreDamaged) as refused:
        Store.open(path)
    sentence = str(refused.value)
    assert str(path) in sentence and says in sentence and "docs/recovery.md" in sentence


def test_the_worker_refuses_a_damaged_store_in_one_sentence(healthy, tmp_path, broker):
    path = tmp_path / "flow.duckdb"
    shutil.copy(healthy, path)
    os.truncate(path, path.stat().st_size // 2)
    done = run_worker(path, broker)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"the store {path} is damaged" in done.stderr and "rebuild it from Kafka" in done.stderr


def run_worker(db: Path, broker: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    full.update({"FLOWMETER_TOPIC_PREFIX": f"d{uuid.uuid4().hex[:8]}.", **env})
    return subprocess.run(
        [sys.executable, "-m", "flowmeter", "worker", "--broker", broker, "--db", str(db), "--web-port", "0"],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def full_disk(tmp_path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A directory on a full disk: a real 2 MB tmpfs filled up when we may mount one (root),
    else a plain directory with the store.open failpoint raising DuckDB's own ENOSPC error."""
    where = tmp_path / "disk"
    where.mkdir()
    if (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True
        ).returncode
        == 0
    ):
        Store.open(where / "flow.duckdb").close()  # a store exists, then the disk fills
        with open(where / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        yield where, {}
        subprocess.run(["umount", str(where)], check=True)
    else:
        yield where, {"FLOWMETER_FAILPOINTS": "store.open=0+"}


def test_starting_on_a_full_disk_exits_75_in_one_sentence(full_disk, broker):
    where, env = full_disk
    done = run_worker(where / "flow.duckdb", broker, **env)
    assert done.returncode == EX_TEMPFAIL, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "is full (No space left on device)" in done.stderr


pytest_broker = pytest.mark.broker


@pytest_broker
@pytest.mark.slow
def test_a_fatal_error_ends_the_worker_at_once_and_a_restart_lands_everything(worker_factory, producer, topics):
    for n in range(300):
        producer.send(topics["transitions"], key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    producer.flush()
    worker = worker_factory(failpoints="store.fatal=0+1").start()
    assert worker.process.wait(60) == EX_TEMPFAIL
    log = worker.log_tail(60)
    assert "fatal DuckDB error" in log and "retry 1 of" not in log  # no retry on the invalidated connection
    worker.start(FLOWMETER_FAILPOINTS="")
    row = worker.wait_accounted(300)["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"], row["dead_lettered"]) == (300, 0, 0)
    assert worker.stop() == 0


def counts(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        [(rows, ids)] = con.execute("SELECT count(*), count(DISTINCT event_id) FROM transitions").fetchall()
    return rows, ids


@pytest_broker
@pytest.mark.slow
def test_recovery_rebuild_from_kafka_and_restore_a_snapshot(worker_factory, producer, topics, tmp_path):
    """docs/recovery.md's two ways out, step by step: every event ends landed exactly once."""

    def send(numbers: range) -> None:
        for n in numbers:
            producer.send(topics["transitions"], key=f"T-{n % 500}".encode(), value=encode(transition(n)))
        producer.flush()

    send(range(400))
    worker = worker_factory().start()
    worker.wait_accounted(400)
    snapshot = tmp_path / "snap.duckdb"
    made = subprocess.run(
        [sys.executable, "-m", "flowmeter", "snapshot", str(snapshot)],
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    send(range(400, 600))  # landed after the snapshot
    worker.wait_accounted(600)
    assert worker.stop() == 0
    db = Path(worker.env["FLOWMETER_DB"])

    # Way 1: move the damaged file aside, rebuild from the topics with a fresh consumer group.
    db.rename(db.with_name("flow.damaged.duckdb"))
    worker.start(FLOWMETER_GROUP_ID=f"rebuild-{uuid.uuid4().hex[:8]}")
    row = worker.wait_accounted(600)["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"]) == (600, 0)
    assert worker.stop() == 0
    assert counts(db) == (600, 600)

    # Way 2: restore the snapshot (400 events) and catch up from the topics with a fresh group:
    # the snapshot's stored positions skip the 400 it holds, the 200 after it land.
    db.unlink()
    restored = subprocess.run(
        [sys.executable, "-m", "flowmeter", "restore", str(snapshot)],
        env=worker.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restored.returncode == 0, restored.stderr
    assert "400 transitions" in restored.stdout
    worker.start(FLOWMETER_GROUP_ID=f"restore-{uuid.uuid4().hex[:8]}")
    final = worker.wait_accounted(600)
    row = final["by_kind"]["transition"]
    assert (row["landed"], row["duplicates"]) == (600, 0)
    assert final["worker"]["redelivered_skipped"] == 400
    assert worker.stop() == 0
    assert counts(db) == (600, 600)

"""On forward-only flows flowmeter agrees with jira-agile-metrics 0.24 (the reference the
issue names), run in its own environment by tests/jam/oracle.py. JAM counts whole UTC
calendar days; what must equal what is in tests/jam/README.md. scripts/test.sh builds
.venv-jam (scripts/jam-env.sh) before the suite, so in CI this always runs."""

from __future__ import annotations

import json
import random
import subprocess
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.workflow import StateDef, Workflow
from tests.helpers.store import pin_now, writer_rows

ROOT = Path(__file__).resolve().parent.parent
JAM_PYTHON = ROOT / ".venv-jam" / "bin" / "python"
STATES = (
    StateDef("Backlog", "backlog"),
    StateDef("In Progress", "active"),
    StateDef("Review", "queue"),
    StateDef("QA", "queue"),
    StateDef("Done", "done"),
)
NOW = datetime(2025, 3, 25, 12, 0)

pytestmark = pytest.mark.skipif(not JAM_PYTHON.exists(), reason="run scripts/jam-env.sh to build .venv-jam")


def forward_histories(seed: int = 11, tickets: int = 80) -> list[dict]:
    """Forward-only flows: states in order, some skipped (never Backlog straight to Done,
    which JAM leaves out of throughput), some tickets still open; times land on exact
    midnights and 23:59:59 now and then to test the day boundary."""
    rng = random.Random(seed)
    names = [s.name for s in STATES]
    out = []
    for n in range(tickets):
        at = datetime(2025, 3, 1) + timedelta(hours=rng.randrange(0, 24 * 18))
        path = [0] + sorted(rng.sample([1, 2, 3], rng.randint(1, 3)))
        if rng.random() < 0.7:
            path.append(4)
        path = path[: rng.randint(2, len(path))] if rng.random() < 0.2 else path
        moves = []
        for i, index in enumerate(path):
            if i:
                at += rng.choice([timedelta(hours=rng.randint(1, 60)), timedelta(0)])
                if rng.random() < 0.1:
                    at = datetime(at.year, at.month, at.day) + timedelta(days=1)  # exactly midnight
                elif rng.random() < 0.1:
                    at = datetime(at.year, at.month, at.day, 23, 59, 59)
            if at >= NOW:
                break
            moves.append(
                {"from_state": names[path[i - 1]] if i else None, "to_state": names[index], "at": at.isoformat()}
            )
        out.append({"ticket_id": f"T-{n}", "created_at": moves[0]["at"], "transitions": moves})
    return out


def oracle(histories: list[dict]) -> dict:
    payload = {
        "states": [{"name": s.name, "category": s.category} for s in STATES],
        "tickets": histories,
        "now": NOW.isoformat(),
    }
    done = subprocess.run(
        [str(JAM_PYTHON), str(ROOT / "tests" / "jam" / "oracle.py")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    histories = forward_histories()
    path = tmp_path_factory.mktemp("jam") / "flow.duckdb"
    store = Store.open(path, workflow=Workflow(boards={"b": STATES}))
    pin_now(store, NOW)
    envs = []
    for h in histories:
        for i, move in enumerate(h["transitions"]):
            doc = dict(
                move,
                event_id=f"{h['ticket_id']}-{i}",
                ticket_id=h["ticket_id"],
                board="b",
                at=move["at"] + "Z",
                team="t",
                ticket_type="story",
            )
            envs.append(Envelope("t", 0, len(envs), "transition", json.dumps(doc).encode()))
    random.Random(3).shuffle(envs)  # arrival order must not matter
    for start in range(0, len(envs), 50):
        store.commit(prepare(envs[start : start + 50]))
    jam = oracle(histories)
    assert jam["anomalies"] == [], "JAM 0.24's CFD bug was triggered; the comparison would be meaningless"
    yield store, jam
    store.close()


def rows(store: Store, sql: str) -> list[tuple]:
    return writer_rows(store, sql)


def test_commitment_and_done_dates_agree(both):
    store, jam = both
    ours = {
        t: (c, d)
        for t, c, d in rows(
            store, "SELECT ticket_id, committed_at::DATE::VARCHAR, done_at::DATE::VARCHAR FROM ticket_flow"
        )
    }
    theirs = {t["ticket_id"]: (t["committed"], t["done"]) for t in jam["tickets"]}
    assert ours == theirs
    assert sum(1 for c, d in ours.values() if d) >= 30 and sum(1 for c, d in ours.values() if not d) >= 10


def test_daily_cfd_agrees(both):
    store, jam = both
    ours = {(d, s): n for d, s, n in rows(store, "SELECT day::VARCHAR, state, tickets FROM cfd_daily")}
    theirs = {(r["day"], r["state"]): r["tickets"] for r in jam["cfd"]}
    assert theirs and {k: ours[k] for k in theirs} == theirs
    last_day = max(d for d, _ in theirs)  # after JAM's last event day the CFD stays flat up to now
    assert all(ours[(d, s)] == theirs[(last_day, s)] for (d, s) in ours if d > last_day)


def test_daily_wip_agrees(both):
    store, jam = both
    ours = {(d, s): n for d, s, n in rows(store, "SELECT day::VARCHAR, state, wip FROM wip_daily")}
    per_state = {
        (r["day"], r["state"]): r["tickets"] for r in jam["bands"] if r["state"] in ("In Progress", "Review", "QA")
    }
    assert per_state and {k: ours[k] for k in per_state} == per_state
    total = defaultdict(int)
    for (day, _), n in ours.items():
        total[day] += n
    assert {r["day"]: total[r["day"]] for r in jam["wip"]} == {r["day"]: r["wip"] for r in jam["wip"]}


def test_daily_throughput_agrees(both):
    store, jam = both
    ours = dict(rows(store, "SELECT day::VARCHAR, sum(done)::INTEGER FROM throughput_daily GROUP BY day"))
    theirs = {r["day"]: r["done"] for r in jam["throughput"]}
    assert sum(theirs.values()) >= 30
    assert {d: ours[d] for d in theirs} == theirs
    assert sum(ours.values()) == sum(theirs.values())  # no finishes outside JAM's range

"""What the alert tests share: a judged store, and a worker with a receiver.

- On a DuckDB store, no broker: board 'pay' (Backlog -> In Progress (active) -> Review (queue) ->
  QA (queue) -> Done), transitions built with `move`, landed with `land`, judged by an
  AlertEvaluator with `judge` at minutes after T0.
- End to end: a flowmeter.toml for board 'payments' with a WIP limit on Review (2 unless told)
  and a webhook route `hook` signed with SECRET, fresh transitions to send through the broker,
  and `query`, SQL on the running worker's /api/sql.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from alerting.evaluate import AlertEvaluator, AlertPolicy
from alerting.routes import Route, parse_routes
from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.workflow import StateDef, WipLimit, Workflow
from tests.helpers.events import encode, transition

# ---- the evaluator on a store -----------------------------------------------------------------
PAY = (
    StateDef("Backlog", "backlog"),
    StateDef("In Progress", "active"),
    StateDef("Review", "queue"),
    StateDef("QA", "queue"),
    StateDef("Done", "done"),
)
T0 = datetime(2026, 3, 2, 9, 0, 0)
ROUTES = {
    **parse_routes({}, "", "flow.alerts"),
    "hook": Route("hook", "webhook", url="http://127.0.0.1:9/x"),
    "chat": Route("chat", "slack", url="http://127.0.0.1:9/y"),
}
_offset = iter(range(1_000_000))  # each landed envelope its own offset, as a partition gives


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat() + "Z"


def move(ticket: str, frm: str | None, to: str, minutes: float, team: str = "core", assignee: str = "ana") -> dict:
    return {
        "event_id": f"{ticket}-{to}-{minutes}",
        "ticket_id": ticket,
        "board": "pay",
        "from_state": frm,
        "to_state": to,
        "at": at(minutes),
        "team": team,
        "assignee": assignee,
    }


def land(store: Store, *events: dict) -> None:
    store.commit(prepare([Envelope("t", 0, next(_offset), "transition", json.dumps(e).encode()) for e in events]))


def make(tmp_path, *limits: WipLimit, name: str = "a.duckdb", **policy) -> tuple[Store, AlertEvaluator]:
    store = Store.open(tmp_path / name, workflow=Workflow(boards={"pay": PAY}, wip_limits=limits))
    return store, AlertEvaluator(AlertPolicy(routes=ROUTES, **policy))


def judge(store: Store, evaluator: AlertEvaluator, minutes: float, aging: bool = False):
    return store.in_transaction(evaluator.evaluate, T0 + timedelta(minutes=minutes), aging)


# ---- a worker and a receiver --------------------------------------------------------------
SECRET = "s3cret"


def settings_file(tmp_path: Path, hook_url: str, limit: int = 2, routes: str = '["hook"]', extra: str = "") -> Path:
    path = tmp_path / "flowmeter.toml"
    path.write_text(f"""
[boards.payments]
states = [
  {{ name = "Backlog", category = "backlog" }},
  {{ name = "In Progress", category = "active" }},
  {{ name = "Review", category = "queue" }},
  {{ name = "QA", category = "queue" }},
  {{ name = "Done", category = "done" }},
]

[[boards.payments.wip_limits]]
states = ["Review"]
limit = {limit}
routes = {routes}

[alerts.hook]
kind = "webhook"
url = "{hook_url}/alerts"
secret = "{SECRET}"
{extra}
""")
    return path


def fresh(seconds_ago: float) -> str:
    """A timestamp just before now: alerts judge fresh events (older ones are history, replayed)."""
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat()


def to_review(n: int, ticket: str) -> bytes:
    return encode(transition(n, ticket_id=ticket, from_state="In Progress", to_state="Review", at=fresh(200 - n)))


def to_qa(n: int, ticket: str) -> bytes:
    return encode(transition(n, ticket_id=ticket, from_state="Review", to_state="QA", at=fresh(100 - n)))


def send(producer, topic: str, *values: bytes) -> None:
    for value in values:
        producer.send(topic, value)
    producer.flush(30)


def query(worker, statement: str) -> list[list]:
    response = requests.post(f"{worker.url}/api/sql", json={"sql": statement}, timeout=10)
    response.raise_for_status()
    return [list(row.values()) for row in response.json()["rows"]]


def breach(producer, names) -> None:
    """R1, R2, R3 into Review: WIP 3 breaks the limit 2."""
    send(producer, names["transitions"], to_review(1, "R1"), to_review(2, "R2"), to_review(3, "R3"))

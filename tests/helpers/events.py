"""Events as the tests send them: a valid v1 transition, its bytes, and malformed inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def transition(n: int, **over: Any) -> dict[str, Any]:
    """A valid v1 transition; ticket n % 500, so tickets have several events."""
    event = {
        "event_id": f"ev-{n}",
        "ticket_id": f"T-{n % 500}",
        "board": "payments",
        "from_state": "Backlog",
        "to_state": "In Progress",
        "at": "2025-03-01T09:00:00+01:00",
        "team": "core",
        "assignee": "ana",
        "source": "test",
    }
    event.update(over)
    return event


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# Malformed inputs, one per rejection reason, with a fragment of the reason each must get.
MALFORMED: list[tuple[Callable[[int], bytes], str]] = [
    (lambda n: b"{not json " + str(n).encode(), "is not JSON"),
    (lambda n: encode({k: v for k, v in transition(n).items() if k != "to_state"}), "to_state is missing"),
    (lambda n: encode(transition(n, at="2025-03-01T09:00:00")), "has no UTC offset"),
    (lambda n: encode(transition(n, ticket_id=n)), "ticket_id must be a string"),
    (lambda n: encode(transition(n, at="1970-01-01T00:00:00Z")), "before 2000-01-01"),
    (lambda n: b"[" + str(n).encode() + b"]", "must be a JSON object"),
    (lambda n: b"\xff\xfe" + str(n).encode(), "not UTF-8"),
    (lambda n: encode(transition(n, board=None)), "board is null"),
    (lambda n: encode(transition(n, at=f"day {n}")), "is not an ISO-8601 timestamp"),
    (lambda n: encode(transition(n, to_state="  ")), "to_state is empty"),
]

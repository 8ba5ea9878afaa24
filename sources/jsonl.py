"""Reading v1 events from JSON Lines files: one event per line, kind told by its fields."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flowcore import routing
from flowcore.events import load_object


def peek(line: bytes) -> tuple[str, str | None]:
    """The kind of one line and its Kafka key (ticket_id or service), without validating it."""
    try:
        doc = load_object(line)
    except Exception:  # noqa: BLE001 - not a JSON object (InvalidEvent), or one that breaks json: the parser says why
        return "unknown", None
    kind = routing.kind_of(doc)
    return kind, routing.key_for(kind, doc)


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) for every non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line

"""Reading v1 events from JSON Lines files: one event per line, kind told by its fields."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flowcore.events import load_object


def kind_of(doc: object) -> str:
    """'deploy' if it names a service, 'transition' if it names a ticket or state, else 'unknown'."""
    if not isinstance(doc, dict):
        return "unknown"
    if "service" in doc:
        return "deploy"
    if "ticket_id" in doc or "to_state" in doc:
        return "transition"
    return "unknown"


def peek(line: bytes) -> tuple[str, str | None]:
    """The kind of one line and its Kafka key (ticket_id or service), without validating it."""
    try:
        doc = load_object(line)
    except Exception:  # noqa: BLE001 - not a JSON object (InvalidEvent), or one that breaks json: the parser says why
        return "unknown", None
    kind = kind_of(doc)
    key = doc.get("service" if kind == "deploy" else "ticket_id") if kind != "unknown" else None
    return kind, key if isinstance(key, str) else None


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) for every non-blank line."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line

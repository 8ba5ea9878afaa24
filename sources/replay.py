"""`flowmeter produce`: a JSON Lines file of v1 events replayed to Kafka, each to its topic.

Each line is checked with the worker's own parser first, as the receiver does: a line the
worker would refuse goes to the dead-letter topic with "line N: <reason>" instead, so the
summary tells how many were rejected and why. One bad line never stops the run, whatever it
holds (not JSON, not UTF-8, a lone surrogate, a date that overflows in UTC, megabytes): a line
too big for one Kafka message is dead-lettered with its first bytes and its size in the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flowcore.events import PARSERS, unknown_kind_reason
from sources.jsonl import peek, read_lines
from sources.producer import EventProducer
from sources.rejects import MAX_MESSAGE, kept_copy, printable, reason_for, size_note, surrogate_reason

SHOWN_REJECTS = 20  # rejects listed by line; the count covers them all


@dataclass
class ReplaySummary:
    rejected: int = 0
    first_rejects: list[str] = field(default_factory=list)  # "line N: reason"


def produce_file(
    producer: EventProducer, path: Path, advance: Callable[[int], None] = lambda _n: None
) -> ReplaySummary:
    """Send every line of `path`: events to their topics, rejects to the dead-letter topic."""
    summary = ReplaySummary()
    for number, line in read_lines(path):
        kind, key = peek(line)
        reason = _reason(kind, line)
        if reason is None:
            producer.send_raw(kind, key, line)
        else:
            value, original = kept_copy(line)
            reason = printable(f"line {number}: {reason}{size_note(original)}")
            producer.dead_letter(printable(f"file:{path}:{number}"), value, reason, kind)
            summary.rejected += 1
            if len(summary.first_rejects) < SHOWN_REJECTS:
                summary.first_rejects.append(reason)
        advance(len(line) + 1)
    return summary


def _reason(kind: str, line: bytes) -> str | None:
    """Why the worker would refuse this line, or None when it lands."""
    surrogate = surrogate_reason(line)  # first, as `flowmeter load` does: the same line, the same reason
    if surrogate is not None:
        return surrogate
    try:
        if kind == "unknown":
            return unknown_kind_reason(line)
        PARSERS[kind](line)
    except Exception as exc:  # noqa: BLE001 - InvalidEvent, or whatever else this one line raises
        return reason_for(exc)
    if len(line) > MAX_MESSAGE:  # valid, but Kafka cannot carry it (the unknown fields are that big)
        return f"the event is valid but too big for one Kafka message (at most {MAX_MESSAGE:,} bytes)."
    return None

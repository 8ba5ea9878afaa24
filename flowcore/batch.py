"""From consumed messages to a batch ready to land: the pure middle of the worker.

An Envelope is one input message with its coordinates; ``prepare`` parses a
list of them into valid events and rejects, each reject with its reason. No I/O
happens here, so the worker and ``flowmeter load`` share it and tests need no broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowcore.deadletter import REASON_CHARS, clean_text
from flowcore.errors import InvalidEvent
from flowcore.events import (
    Deploy,
    Incident,
    Transition,
    parse_deploy,
    parse_incident,
    parse_transition,
    unknown_kind_reason,
)


@dataclass(frozen=True, slots=True)
class Envelope:
    """One input message: where it came from, which kind its channel carries, its bytes."""

    source: str  # a topic name, or 'file:PATH'
    partition: int
    offset: int  # Kafka offset, or 1-based line number for files
    kind: str  # 'transition' | 'deploy' | 'incident' | 'unknown' (the channel could not tell)
    value: bytes | None
    # Set when another producer already rejected this message and put it on the
    # dead-letter topic with this reason: it is recorded, not parsed.
    rejected_because: str | None = None
    # A message from the dead-letter topic that says a worker rejected it: the source it names
    # (topic[partition]@offset). A claim anyone can write; the store checks it against what it
    # recorded (Store._insert_dead_letters).
    claims_source: str | None = None
    # The size of the message before a dead letter's copy was cut (flowmeter-original-bytes).
    original_bytes: int | None = None

    @property
    def src(self) -> str:
        """'flow.transitions[2]@1234' for Kafka, 'file:events.jsonl:17' for files, 'sync:jira URL:17' for a pull."""
        if self.source.startswith(("file:", "sync:")):
            return f"{self.source}:{self.offset}"
        return f"{self.source}[{self.partition}]@{self.offset}"


@dataclass(frozen=True, slots=True)
class Reject:
    envelope: Envelope
    reason: str


@dataclass
class TransitionRows:
    """Transitions already checked column-wise (streams.columnar), all from one source:
    a table in streams.columnar.ROW_SCHEMA whose `ord` is each line's number."""

    source: str
    table: Any  # pyarrow.Table; not imported here so the worker's hot path stays light


@dataclass
class PreparedBatch:
    transitions: list[tuple[Envelope, Transition]] = field(default_factory=list)
    rows: TransitionRows | None = None  # `flowmeter load`'s fast path; landed with `transitions`
    deploys: list[tuple[Envelope, Deploy]] = field(default_factory=list)
    incidents: list[tuple[Envelope, Incident]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    # Highest offset per (source, partition) covered by this batch, valid or not.
    positions: dict[tuple[str, int], int] = field(default_factory=dict)

    def __len__(self) -> int:
        rows = self.rows.table.num_rows if self.rows is not None else 0
        return len(self.transitions) + rows + len(self.deploys) + len(self.incidents) + len(self.rejects)


def prepare(envelopes: list[Envelope], now: datetime | None = None) -> PreparedBatch:
    if now is None:  # one clock reading per batch for the "not in the future" check
        now = datetime.now(UTC).replace(tzinfo=None)
    batch = PreparedBatch()
    for envelope in envelopes:
        key = (envelope.source, envelope.partition)
        batch.positions[key] = max(envelope.offset, batch.positions.get(key, -1))
        if envelope.rejected_because is not None:
            batch.rejects.append(reject(envelope, envelope.rejected_because))
            continue
        # Per message, whatever it raises (an OverflowError from a date, a ValueError from a
        # 4,301-digit number, a parser bug ...): one message is one dead letter, never the
        # batch's failure and so never the worker's.
        try:
            if envelope.kind == "transition":
                batch.transitions.append((envelope, parse_transition(envelope.value, now)))
            elif envelope.kind == "deploy":
                batch.deploys.append((envelope, parse_deploy(envelope.value, now)))
            elif envelope.kind == "incident":
                batch.incidents.append((envelope, parse_incident(envelope.value, now)))
            else:
                raise InvalidEvent(unknown_kind_reason(envelope.value))
        except InvalidEvent as exc:
            batch.rejects.append(reject(envelope, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a parser bug is still this message's problem alone
            batch.rejects.append(reject(envelope, unexpected_reason(exc)))
    return batch


def reject(envelope: Envelope, reason: str) -> Reject:
    """A reject whose reason is printable, valid UTF-8 and bounded, whatever it quotes."""
    return Reject(envelope, clean_text(reason, REASON_CHARS))


def unexpected_reason(exc: BaseException) -> str:
    """The sentence for an error the parser did not foresee: what it was, and that only this
    message was set aside."""
    detail = clean_text(str(exc), 200)
    return f"the message could not be read ({type(exc).__name__}: {detail}); it was set aside so the rest could land."

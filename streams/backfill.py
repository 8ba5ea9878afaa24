"""`flowmeter load`: the worker's parser and store, fed from a JSON Lines file instead of Kafka.

For backfill when no worker runs. Re-running the same file changes nothing:
events are deduplicated by event_id and dead letters by line and content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from analytics.store import LandResult, Store
from sources.jsonl import file_envelopes
from streams.batch import Envelope, prepare


@dataclass
class LoadSummary:
    result: LandResult = field(default_factory=lambda: LandResult(0, 0, 0))
    transitions: int = 0
    deploys: int = 0
    first_rejects: list[tuple[str, str]] = field(default_factory=list)  # (where, reason), a few
    derived: int = 0  # tickets derived at the end


def load_file(store: Store, path: Path, batch_size: int,
              progress: Callable[[int], None] = lambda _bytes: None,
              announce: Callable[[str], None] = lambda _text: None) -> LoadSummary:
    """Land the file batch by batch, then derive each touched ticket once (not once per batch:
    a backfill touches the same tickets in many batches; see Store.commit(derive=False))."""
    summary = LoadSummary()
    for chunk in _chunks(file_envelopes(path), batch_size):
        batch = prepare(chunk)
        summary.result = summary.result + store.commit(batch, derive=False)
        summary.transitions += len(batch.transitions)
        summary.deploys += len(batch.deploys)
        for reject in batch.rejects[: max(0, 5 - len(summary.first_rejects))]:
            summary.first_rejects.append((f"line {reject.envelope.offset}", reject.reason))
        progress(sum(len(e.value or b"") + 1 for e in chunk))
    announce("deriving the metrics of the tickets landed ...")
    summary.derived = store.derive_backlog()
    return summary


def _chunks(envelopes: Iterator[Envelope], size: int) -> Iterator[list[Envelope]]:
    chunk: list[Envelope] = []
    for envelope in envelopes:
        chunk.append(envelope)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

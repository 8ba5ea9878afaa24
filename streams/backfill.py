"""`flowmeter load`: a JSON Lines file landed straight into the store, for backfill when no worker runs.

Lines are taken CHUNK_LINES at a time, one transaction each. Transitions are checked a column
at a time (streams.columnar). Lines that check cannot prove valid go through the worker's
per-event parser: deploys, events without an event_id, anything unusual and anything
invalid. Each ticket's metrics are derived once at the end, not once per chunk.

Re-running the same file changes nothing: events are deduplicated by event_id and dead
letters by line and content.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from analytics.store import LandResult, Store
from sources.jsonl import peek, read_lines
from streams.batch import Envelope, PreparedBatch, TransitionRows, prepare
from streams.columnar import split

# Lines per transaction. Larger than the worker's batch_max: each chunk pays a fixed cost
# (its check query, the duplicate check, the insert), and a backfill has no one waiting on it.
CHUNK_LINES = 100_000
T = TypeVar("T")


@dataclass
class LoadSummary:
    result: LandResult = field(default_factory=lambda: LandResult(0, 0, 0))
    transitions: int = 0
    deploys: int = 0
    first_rejects: list[tuple[str, str]] = field(default_factory=list)  # (where, reason), a few
    derived: int = 0  # tickets derived at the end
    checked_per_event: int = 0  # lines the column-wise check left to the per-event parser


def load_file(store: Store, path: Path, chunk_lines: int = CHUNK_LINES,
              progress: Callable[[int], None] = lambda _bytes: None,
              announce: Callable[[str], None] = lambda _text: None) -> LoadSummary:
    """Land the file chunk by chunk, then derive each touched ticket once (a backfill touches
    the same tickets in many chunks; see Store.commit(derive=False))."""
    summary = LoadSummary()
    reader = store.cursor()  # the column-wise check only reads (a registered chunk)
    try:
        # The next chunk is read and checked (mostly Python) on a thread while this one is
        # written (mostly DuckDB, which lets go of the GIL): see benchmarks/CHANGES.md.
        for batch, size, per_event in _ahead(_prepared(path, chunk_lines, reader)):
            summary.result = summary.result + store.commit(batch, derive=False)
            summary.transitions += batch.rows.table.num_rows + len(batch.transitions)  # type: ignore[union-attr]
            summary.deploys += len(batch.deploys)
            summary.checked_per_event += per_event
            for reject in batch.rejects[: max(0, 5 - len(summary.first_rejects))]:
                summary.first_rejects.append((f"line {reject.envelope.offset}", reject.reason))
            progress(size)
    finally:
        reader.close()
    announce("deriving the metrics of the tickets landed ...")
    summary.derived = store.derive_backlog()
    return summary


def _prepared(path: Path, chunk_lines: int, reader: Any) -> Iterator[tuple[PreparedBatch, int, int]]:
    """(batch, bytes read, lines checked per event) for each chunk of the file."""
    source = f"file:{path.resolve()}"
    for numbers, lines in _chunks(path, chunk_lines):
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        checked = split(reader, lines, numbers, now)
        others = [Envelope(source, 0, numbers[i], peek(lines[i])[0], lines[i]) for i in checked.others]
        batch = prepare(others, now)
        batch.rows = TransitionRows(source, checked.rows)
        yield batch, sum(len(line) + 1 for line in lines), len(others)


def _ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield what `items` yields, producing the next one on a thread meanwhile (one ahead)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowmeter-load-reader") as pool:
        pending = pool.submit(next, items, _END)
        while True:
            item = pending.result()  # the producer's exception, if any, is raised here
            if item is _END:
                return
            pending = pool.submit(next, items, _END)
            yield item


_END: Any = object()


def _chunks(path: Path, size: int) -> Iterator[tuple[list[int], list[bytes]]]:
    """(line numbers, lines) of up to `size` non-blank lines at a time."""
    numbers: list[int] = []
    lines: list[bytes] = []
    for number, line in read_lines(path):
        numbers.append(number)
        lines.append(line)
        if len(lines) >= size:
            yield numbers, lines
            numbers, lines = [], []
    if lines:
        yield numbers, lines

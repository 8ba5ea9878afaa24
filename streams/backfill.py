"""`flowmeter load`: a JSON Lines file landed straight into the store, for backfill when no worker runs.

Lines are taken CHUNK_LINES at a time, one transaction each. Transitions are checked a column
at a time (streams.columnar). Lines that check cannot prove valid go through the worker's
per-event parser: deploys, events without an event_id, anything unusual and anything
invalid. Each ticket's metrics are derived once at the end, not once per chunk.

Re-running the same file changes nothing: events are deduplicated by event_id and dead
letters by line and content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from analytics.store import LandResult, Store
from flowcore.batch import Envelope, PreparedBatch, Reject, TransitionRows, prepare
from sources.jsonl import peek, read_lines
from sources.rejects import printable, reason_for, surrogate_reason
from streams.columnar import ROW_SCHEMA, Split, split

# Lines per transaction. Larger than the worker's batch_max: each chunk pays a fixed cost
# (its check query, the duplicate check, the insert), and a backfill has no one waiting on it.
CHUNK_LINES = 100_000
SHOWN_REJECTS = 20  # rejects listed by line; the summary counts them all
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class LoadSummary:
    result: LandResult = field(default_factory=lambda: LandResult(0, 0, 0))
    transitions: int = 0
    deploys: int = 0
    incidents: int = 0
    first_rejects: list[tuple[str, str]] = field(default_factory=list)  # (where, reason), the first SHOWN_REJECTS
    rejected: int = 0  # lines rejected (each a dead letter in the store; re-runs count them again)
    derived: int = 0  # tickets derived at the end
    checked_per_event: int = 0  # lines the column-wise check left to the per-event parser


def load_file(
    store: Store,
    path: Path,
    chunk_lines: int = CHUNK_LINES,
    progress: Callable[[int], None] = lambda _bytes: None,
    announce: Callable[[str], None] = lambda _text: None,
) -> LoadSummary:
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
            summary.incidents += len(batch.incidents)
            summary.checked_per_event += per_event
            summary.rejected += len(batch.rejects)
            for reject in batch.rejects[: max(0, SHOWN_REJECTS - len(summary.first_rejects))]:
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
        now = datetime.now(UTC).replace(tzinfo=None)
        checked = _split(reader, lines, numbers, now)
        others = [_envelope(source, numbers[i], lines[i]) for i in checked.others]
        batch = _prepare(others, now)
        batch.rows = TransitionRows(source, checked.rows)
        yield batch, sum(len(line) + 1 for line in lines), len(others)


# One bad line must never stop a load (issue 13, item 7): whatever one line makes the column-wise
# check or the parser raise, the line becomes a dead letter with a reason and the rest go on.
# The careful paths below cost nothing on a clean file: they run only when something raised.


def _split(reader: Any, lines: list[bytes], numbers: list[int], now: datetime) -> Split:
    """The column-wise check, or, should it fail on something in this chunk, every line per event."""
    try:
        return split(reader, lines, numbers, now)
    except Exception:  # noqa: BLE001 - the per-event parser judges each line instead
        log.warning(
            "the column-wise check failed on lines %s-%s; checking them one by one",
            numbers[0],
            numbers[-1],
            exc_info=True,
        )
        return Split(ROW_SCHEMA.empty_table(), list(range(len(lines))))


def _envelope(source: str, number: int, line: bytes) -> Envelope:
    """The line for the per-event parser; already rejected when it spells a lone surrogate
    (text DuckDB cannot store, which would fail the whole chunk's transaction)."""
    return Envelope(source, 0, number, peek(line)[0], line, surrogate_reason(line))


def _prepare(envelopes: list[Envelope], now: datetime) -> PreparedBatch:
    """prepare(), and, should one line make it raise, each line on its own with the culprits rejected."""
    try:
        batch = prepare(envelopes, now)
    except Exception:  # noqa: BLE001 - find the line(s) and reject them; the others are kept
        batch = PreparedBatch()
        for envelope in envelopes:
            try:
                one = prepare([envelope], now)
            except Exception as exc:  # noqa: BLE001 - this line's dead letter, with a reason
                one = prepare([replace(envelope, rejected_because=reason_for(exc))], now)
            batch.transitions += one.transitions
            batch.deploys += one.deploys
            batch.incidents += one.incidents
            batch.rejects += one.rejects
            for key, offset in one.positions.items():
                batch.positions[key] = max(offset, batch.positions.get(key, -1))
    # A reason may quote the field that held a lone surrogate: such text cannot be stored.
    batch.rejects = [
        r if printable(r.reason) == r.reason else Reject(r.envelope, printable(r.reason)) for r in batch.rejects
    ]
    return batch


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

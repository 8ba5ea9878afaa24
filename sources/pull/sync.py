"""One pass of a pull source: fetch what changed, map it, hand it to a sink, then move the cursor.

The cursor moves last, and only after the sink acknowledged every event of the pass (committed
to the store, or acknowledged by Kafka with acks=all). A pass killed midway leaves the cursor
where it was: the next pass asks again for everything since then, and the events already
landed are duplicates by event_id (the store's dedup), so each change lands exactly once.

Where the cursor lives:
- ``--db`` (StoreSink): in the store's ``sync_cursors`` table, written by this process, which
  holds the store (no worker runs).
- Kafka (KafkaSink): the store belongs to the worker, its one writer, so the cursor is kept in
  a small JSON file beside the store (``<db>.sync.json``, FileCursors). Losing that file costs
  one full pass, whose events the worker drops as duplicates; never a lost change.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from flowcore.batch import Envelope, prepare
from flowcore.errors import BrokerError, FlowmeterError
from sources.adapters import Mapped

SHOWN_SKIPS = 5


class Source(Protocol):
    """What run_pass needs of a pull source (sources/pull/jira.py is one)."""

    kind: str  # jira | github | gitlab
    url: str
    selection: str  # the JQL; the repositories or projects, one per line
    cursor_key: str

    def pages(self, since: datetime | None) -> Iterator[Any]:
        """Pages changed since `since` (None: everything), each with .issues, .events, .skipped."""
        ...


class Cursors(Protocol):
    def get(self, key: str) -> datetime | None: ...

    def save(self, source: Source, synced_from: datetime) -> None: ...


@dataclass
class PassSummary:
    since: datetime | None = None
    issues: int = 0
    events: int = 0
    landed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    first_skips: list[str] = field(default_factory=list)
    seconds: float = 0.0


class StoreSink:
    """Events straight into the store (no worker running), one transaction per page, like `load`."""

    def __init__(self, store: Any, origin: str) -> None:
        self.store = store
        self.origin = origin  # 'sync:jira https://site': the ingest_counts source and each row's src prefix
        self._offset = 0

    def send(self, events: Mapped, summary: PassSummary) -> None:
        if not events:
            return
        envelopes = []
        for kind, event in events:
            self._offset += 1
            envelopes.append(Envelope(self.origin, 0, self._offset, kind, json.dumps(event).encode()))
        result = self.store.commit(prepare(envelopes), derive=False)
        summary.landed += result.landed
        summary.duplicates += result.duplicates
        summary.dead_lettered += result.dead_lettered

    def finish(self, summary: PassSummary) -> None:
        self.store.derive_backlog()


class KafkaSink:
    """Events to Kafka, each to its topic, like the receiver; the worker lands them."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer

    def send(self, events: Mapped, summary: PassSummary) -> None:
        for kind, event in events:
            self.producer.send_event(kind, event)

    def finish(self, summary: PassSummary) -> None:
        self.producer.flush()
        s = self.producer.summary
        if s.failed:
            raise BrokerError(
                f"{s.failed:,} events were not acknowledged by the broker (first error: {s.first_failure}); "
                "the cursor stays where it was, so the next pass sends them again."
            )
        summary.landed = sum(s.by_topic.values())  # sent and acknowledged; the worker counts duplicates


class StoreCursors:
    def __init__(self, store: Any) -> None:
        self.store = store

    def get(self, key: str) -> datetime | None:
        return self.store.sync_cursor(key)

    def save(self, source: Source, synced_from: datetime) -> None:
        self.store.save_sync_cursor(source.cursor_key, source.kind, source.url, source.selection, synced_from)


class FileCursors:
    """Cursors in a JSON file (Kafka mode: the store is the worker's). Written whole, then renamed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise FlowmeterError(
                f"the sync cursor file {self.path} cannot be read ({exc}); delete it to start with a full pass."
            ) from None
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> datetime | None:
        entry = self._read().get(key)
        try:
            return datetime.fromisoformat(entry["synced_from"]).astimezone(UTC) if isinstance(entry, dict) else None
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, source: Source, synced_from: datetime) -> None:
        data = self._read()
        passes = (
            data.get(source.cursor_key, {}).get("passes", 0) if isinstance(data.get(source.cursor_key), dict) else 0
        )
        data[source.cursor_key] = {
            "source": source.kind,
            "url": source.url,
            "selection": source.selection,
            "synced_from": synced_from.astimezone(UTC).isoformat(),
            "passes": passes + 1,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(partial, self.path)


def run_pass(
    source: Source,
    sink: StoreSink | KafkaSink,
    cursors: Cursors,
    progress: Callable[[int, int], None] = lambda _issues, _events: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PassSummary:
    """One pass: everything `source` changed since its cursor, to `sink`; then the cursor moves."""
    started, clock = now(), time.monotonic()
    summary = PassSummary(since=cursors.get(source.cursor_key))
    for page in source.pages(summary.since):
        sink.send(page.events, summary)
        summary.issues += page.issues
        summary.events += len(page.events)
        summary.skipped += len(page.skipped)
        summary.first_skips += page.skipped[: max(0, SHOWN_SKIPS - len(summary.first_skips))]
        progress(page.issues, len(page.events))
    sink.finish(summary)
    cursors.save(source, started)  # the pass's start: changes made while it ran are asked again next time
    summary.seconds = time.monotonic() - clock
    return summary

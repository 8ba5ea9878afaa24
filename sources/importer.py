"""`flowmeter import`: saved history from a source, through its adapter, to Kafka.

Adapters stream their files and yield (kind, event) pairs, or an Unmappable for a record
they cannot map (counted and reported, the import goes on). event_ids come from the
source's own ids, so a re-run sends the same events and the worker lands none twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from flowcore.settings import Settings, bootstrap_servers
from sources.adapters import Unmappable, generic, github, jira, pagerduty
from sources.jsonl import read_lines
from sources.producer import EventProducer


@dataclass
class ImportSummary:
    transitions: int = 0
    deploys: int = 0
    incidents: int = 0
    skipped: int = 0
    duplicates: int = 0
    failed: int = 0
    first_failure: str | None = None
    first_skips: list[str] = field(default_factory=list)  # "FILE, where: reason", the file named once
    empty_files: list[str] = field(
        default_factory=list
    )  # files that gave no event: unreadable, or every record skipped

    @property
    def sent(self) -> int:
        return self.transitions + self.deploys + self.incidents


def records(conf: Settings, source: str, path: Path, columns: dict[str, str], zone: tzinfo = UTC) -> Iterator[Any]:
    """What the adapter of `source` yields for one file; `zone`: of CSV times without an offset."""
    if source == "jira":
        return jira.iter_import(path, team_field=conf.jira_team_field)
    if source == "github":
        return github.iter_import(path, label_states=conf.github_label_states)
    if source == "pagerduty":
        return pagerduty.iter_import(path)
    if source == "csv":
        return generic.iter_csv(path, columns or None, zone)
    return _jsonl(path)


def _jsonl(path: Path) -> Iterator[Any]:
    for number, line in read_lines(path):
        try:
            yield from generic.from_jsonl_line(line)
        except Unmappable as exc:
            yield Unmappable(f"line {number}: {exc}")


def import_files(
    conf: Settings,
    broker: str,
    source: str,
    paths: list[Path],
    columns: dict[str, str],
    progress: Callable[[int], None] = lambda _n: None,
    zone: tzinfo = UTC,
) -> ImportSummary:
    producer = EventProducer(conf, bootstrap_servers(broker))
    summary = ImportSummary()
    seen: set[str] = set()
    try:
        for path in paths:
            before = summary.sent + summary.duplicates
            try:
                _send_file(producer, records(conf, source, path, columns, zone), path, summary, seen)
            except Unmappable as exc:  # the file itself is unreadable (not JSON, cut off): the rest go on
                _skip(summary, path, f"the whole file: {exc}")
            if summary.sent + summary.duplicates == before:
                summary.empty_files.append(path.name)
            progress(path.stat().st_size)
        producer.flush()
    finally:
        producer.close()
    summary.failed = producer.summary.failed
    summary.first_failure = producer.summary.first_failure
    return summary


def _skip(summary: ImportSummary, path: Path, reason: str) -> None:
    summary.skipped += 1
    if len(summary.first_skips) < 5:
        # Adapters name the file in some reasons ("page-1.json, issue 2 ...") and not in others ("row 5: ...").
        summary.first_skips.append(reason if path.name in reason else f"{path.name}, {reason}")


def _send_file(
    producer: EventProducer, items: Iterator[Any], path: Path, summary: ImportSummary, seen: set[str]
) -> None:
    for record in items:
        if isinstance(record, Unmappable):
            _skip(summary, path, str(record))
            continue
        kind, event = record
        if event["event_id"] in seen:
            summary.duplicates += 1
            continue
        seen.add(event["event_id"])
        producer.send_event(kind, event)
        if kind == "deploy":
            summary.deploys += 1
        elif kind == "incident":
            summary.incidents += 1
        else:
            summary.transitions += 1

"""The generic adapter: v1 events as JSON (one object per line) or as CSV rows.

``from_jsonl_line(line)`` takes one v1 JSON object; its kind is told by its fields as in
``flowcore.routing.kind_of`` (``incident_id`` → incident, ``service`` → deploy,
``ticket_id``/``to_state`` → transition).

``iter_csv(path, mapping)`` streams a CSV file row by row. ``mapping`` is {v1 field: CSV
column} (from ``--map to_state=Status``); a field without an entry is read from the column of
its own name, so a CSV whose header already uses v1 names needs no mapping. An empty cell is
an absent field (an empty ``from_state`` is a creation). ``commits`` and ``tickets`` cells hold
either a JSON list or a ``;``-separated list: ``T-1; T-2`` for tickets, ``sha`` or
``sha@committed_at`` for commits (``a1b2c3@2024-05-01T09:30:00Z; d4e5f6``). A row that
cannot be mapped is yielded as an ``Unmappable`` naming its row (the header is row 1, as a
spreadsheet counts); a mapping that cannot work for any row raises ``Unmappable`` at once.
Spreadsheets often write times without an offset (``2024-05-01 09:30``): those are read as
times in ``zone`` (``--timezone``; UTC unless given) and sent with their offset, as v1 requires.

Every event passes ``flowcore.events.parse_*`` before it is returned, and carries an
``event_id``: the sender's, or the one the parser derives from the content, so a re-sent line
or a re-run import yields the same ids. Unknown fields of a JSON line are kept as sent
(Kafka is the record; v1 readers ignore them).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from flowcore.events import PARSERS, unknown_kind_reason
from flowcore.routing import kind_of
from sources.adapters import Mapped, Unmappable
from sources.rejects import reason_for

TRANSITION_FIELDS = (
    "event_id",
    "ticket_id",
    "board",
    "from_state",
    "to_state",
    "at",
    "assignee",
    "team",
    "ticket_type",
    "actor",
    "source",
)
DEPLOY_FIELDS = (
    "event_id",
    "service",
    "environment",
    "status",
    "at",
    "started_at",
    "version",
    "commits",
    "tickets",
    "fixes",
    "source",
)
INCIDENT_FIELDS = (
    "event_id",
    "incident_id",
    "service",
    "status",
    "at",
    "environment",
    "severity",
    "title",
    "url",
    "caused_by",
    "source",
)
FIELDS_OF = {"transition": TRANSITION_FIELDS, "deploy": DEPLOY_FIELDS, "incident": INCIDENT_FIELDS}
V1_FIELDS = tuple(dict.fromkeys(TRANSITION_FIELDS + DEPLOY_FIELDS + INCIDENT_FIELDS))
LIST_FIELDS = ("commits", "tickets", "fixes")
TIME_FIELDS = ("at", "started_at")  # and each commit's committed_at


def validated(kind: str, event: dict[str, Any]) -> dict[str, Any]:
    """`event` with its event_id (given, or derived as the worker would); Unmappable if v1 rejects it."""
    try:
        parsed = PARSERS[kind](json.dumps(event))
    except Exception as exc:  # noqa: BLE001 - InvalidEvent, or whatever else one event makes the parser raise
        raise Unmappable(reason_for(exc)) from None
    return event if event.get("event_id") == parsed.event_id else {**event, "event_id": parsed.event_id}


def from_jsonl_line(line: bytes) -> Mapped:
    """One v1 event from one JSON object; Unmappable with the parser's reason otherwise."""
    try:
        doc = json.loads(line)
    except RecursionError as exc:
        raise Unmappable(reason_for(exc)) from None
    except ValueError:
        doc = None
    kind = kind_of(doc)
    if kind == "unknown":
        try:
            reason = unknown_kind_reason(line)
        except Exception as exc:  # noqa: BLE001 - the parser's reason, or one for whatever it raised
            reason = reason_for(exc)
        raise Unmappable(reason)
    return [(kind, validated(kind, doc))]


def iter_csv(
    path: Path, mapping: dict[str, str] | None = None, zone: tzinfo = UTC
) -> Iterator[tuple[str, dict] | Unmappable]:
    """(kind, v1 event) per data row, or an Unmappable naming the row; see the module doc."""
    with path.open("rb") as handle:
        reader = csv.DictReader(_utf8_lines(handle, path.name))
        try:
            columns = _columns(reader.fieldnames or [], mapping or {}, path.name)
            for row_number, row in enumerate(reader, start=2):
                try:
                    yield _row_event(row, columns, zone)
                except Unmappable as exc:
                    yield Unmappable(f"row {row_number}: {exc}")
        except csv.Error as exc:
            raise Unmappable(f"{path.name} line {reader.line_num} is not readable CSV ({exc}).") from None


def _utf8_lines(handle: Any, name: str) -> Iterator[str]:
    """The file's lines as text, endings kept (what csv expects); stops at the first non-UTF-8 line."""
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise Unmappable(
                f"{name} line {number} is not UTF-8 text; save it as CSV UTF-8 and import it again."
            ) from None


def _columns(header: Sequence[str], mapping: dict[str, str], name: str) -> dict[str, str]:
    """{v1 field: column} for every field the file can fill; raises when the mapping cannot work."""
    for field, column in mapping.items():
        if field not in V1_FIELDS:
            raise Unmappable(f"--map {field}={column}: '{field}' is not a v1 field; use one of {', '.join(V1_FIELDS)}.")
        if column not in header:
            raise Unmappable(
                f"--map {field}={column}: {name} has no column '{column}' (its columns: {', '.join(header) or 'none'})."
            )
    columns = {field: mapping.get(field, field) for field in V1_FIELDS}
    columns = {field: column for field, column in columns.items() if column in header}
    if not {"service", "ticket_id", "to_state", "incident_id"} & columns.keys():
        raise Unmappable(
            f"{name} has no column for service (deploys), incident_id (incidents) nor ticket_id/to_state "
            "(transitions); "
            "name them with --map, e.g. --map ticket_id=Key --map to_state=Status."
        )
    return columns


def _row_event(row: dict[str | None, Any], columns: dict[str, str], zone: tzinfo) -> tuple[str, dict[str, Any]]:
    doc: dict[str, Any] = {}
    for field, column in columns.items():
        cell = (row.get(column) or "").strip()
        if cell:
            doc[field] = _list(field, cell, zone) if field in LIST_FIELDS else cell
    for field in TIME_FIELDS:
        if field in doc:
            doc[field] = _in_zone(doc[field], zone)
    kind = kind_of(doc)
    if kind == "unknown":
        raise Unmappable(
            "it has no service (a deploy), no incident_id (an incident) and no ticket_id or to_state (a transition)."
        )
    return kind, validated(kind, {field: value for field, value in doc.items() if field in FIELDS_OF[kind]})


def _in_zone(stamp: Any, zone: tzinfo) -> Any:
    """An ISO time without an offset as the same wall time in `zone`, with its offset; anything
    else (an offset given, not a time at all) as it was, for the v1 parser to judge."""
    if not isinstance(stamp, str):
        return stamp
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return parsed.replace(tzinfo=zone).isoformat() if parsed.tzinfo is None else stamp


def _list(field: str, cell: str, zone: tzinfo) -> list[Any]:
    if cell.startswith("["):
        try:
            items = json.loads(cell)
        except ValueError as exc:
            raise Unmappable(f"{field} starts with '[' but is not a JSON list ({exc}).") from None
    else:
        items = [item.strip() for item in cell.split(";") if item.strip()]
    return [_commit(item, zone) for item in items] if field == "commits" else items


def _commit(item: Any, zone: tzinfo) -> Any:
    """'sha' or 'sha@committed_at' becomes {sha, committed_at}; objects pass as they are."""
    if not isinstance(item, str):
        if isinstance(item, dict) and "committed_at" in item:
            return {**item, "committed_at": _in_zone(item["committed_at"], zone)}
        return item
    sha, _, committed_at = item.partition("@")
    commit = {"sha": sha.strip()}
    if committed_at.strip():
        commit["committed_at"] = _in_zone(committed_at.strip(), zone)
    return commit

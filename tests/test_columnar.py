"""`flowmeter load`'s column-wise check lands exactly what the per-event parser would.

The column-wise check (streams.columnar) only accepts lines it can prove valid; everything
else goes to the per-event parser. Each test loads the same file both ways, into two real
DuckDB stores, and compares every stored row: events, dead letters with their reasons,
ingest counts, and the derived visits and tickets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from sources.jsonl import peek, read_lines
from streams.backfill import load_file
from streams.columnar import split

NOW = datetime.now(UTC).replace(tzinfo=None)


def tr(eid: str | None, ticket: Any, to: str, at: str, **extra) -> bytes:  # ticket: any JSON value, to attack
    doc = {"event_id": eid, "ticket_id": ticket, "board": "pay", "from_state": None, "to_state": to, "at": at}
    doc.update(extra)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}, ensure_ascii=False).encode()


TOMORROW_AND_A_BIT = (NOW + timedelta(days=1, hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
LINES = [
    tr("e1", "PAY-1", "Backlog", "2025-01-01T09:00:00Z"),  # clean: column-wise
    tr("e2", "PAY-1", "In Progress", "2025-01-02T09:00:00.5+05:30", from_state="Backlog", team="core"),
    tr("e3", "PAY-2", "Backlog", "2025-01-02T09:00:00.123456-11:00", assignee="ana", ticket_type="bug"),
    b"",  # blank: skipped, but it keeps its line number
    tr("e1", "PAY-9", "Done", "2025-01-03T09:00:00Z"),  # same id as line 1: a duplicate, first line wins
    tr(None, "PAY-3", "Backlog", "2025-01-03T09:00:00Z"),  # no id: derived from the content (per event)
    tr("e4", " PAY-4 ", "Backlog", "2025-01-03T09:00:00Z"),  # padded: stripped (per event)
    tr("e5", "PAY-5\u00a0", "Backlog", "2025-01-03T09:00:00Z"),  # Unicode space at the end
    tr("e6", "PAY-6", "Backlog", "2025-02-30T09:00:00Z"),  # no such day: dead letter
    tr("e7", "PAY-7", "Backlog", "2025-01-03 09:00:00Z"),  # space separator: Python accepts it
    tr("e8", "PAY-8", "Backlog", "2025-01-03T09:00:00"),  # no offset: dead letter
    tr("e9", "PAY-9", "Backlog", "1999-12-31T23:59:59Z"),  # before 2000: dead letter
    tr("e10", "PAY-10", "Backlog", TOMORROW_AND_A_BIT),  # too far ahead: dead letter
    tr("e11", 11, "Backlog", "2025-01-03T09:00:00Z"),  # a number for the ticket: dead letter
    tr("e12", "PAY-12", "Backlog", "2025-01-03T09:00:00Z", team=["a"]),  # a list for the team
    tr("e13", "PAY-13", "Backlog", "2025-01-03T09:00:00Z", actor=""),  # empty optional: absent
    tr("e14", "P" * 513, "Backlog", "2025-01-03T09:00:00Z"),  # too long: dead letter
    tr("e15", "é" * 512, "Backlog", "2025-01-03T09:00:00Z"),  # 512 characters, 1024 bytes: fine
    tr("e16", "PAY-16", "Backlog", "2025-01-03T09:00:00Z", service=None),  # names a service: a deploy
    b'{"event_id":"d1","service":"api","environment":"prod","status":"success","at":"2025-01-04T10:00:00Z"}',
    b'{"event_id":"e17","ticket_id":"PAY-17","board":"pay","to_state":"Done","at":"2025-01-04T10:00:00Z","x":NaN}',
    b'{"event_id":"e18","ticket_id":"PAY-18","board":"pay","to_state":"Done","at":"2025-01-04T10:00:00Z",}',
    b'{"event_id":"e19","ticket_id":"PAY-19","board":"pay","to_state":"Done","at":"2025-01-04T10:00:00Z"',
    b'\xff{"event_id":"e20"}',  # not UTF-8
    b"[1, 2, 3]",
    b'{"hello": "world"}',  # neither a transition nor a deploy
    b'{"event_id":"e21","ticket_id":"PAY-21","ticket_id":"PAY-22","board":"pay","to_state":"QA",'
    b'"at":"2025-01-05T10:00:00Z"}',  # a repeated key: the last one counts
    tr("e22", "PAY-1", "Done", "2025-01-06T09:00:00+00:00", from_state="In Progress", team="core"),
    tr("e2", "PAY-1", "In Progress", "2025-01-02T09:00:00.5+05:30", from_state="Backlog", team="core"),  # resent
]


def write(tmp_path: Path, lines: list[bytes]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def load_per_event(store: Store, path: Path, chunk: int) -> None:
    """The reference: every line through the worker's per-event parser, chunk by chunk."""
    source = f"file:{path.resolve()}"
    envelopes = [Envelope(source, 0, n, peek(line)[0], line) for n, line in read_lines(path)]
    for start in range(0, len(envelopes), chunk):
        store.commit(prepare(envelopes[start : start + chunk], NOW), derive=False)
    store.derive_backlog()


DUMPS = {
    "transitions": "SELECT * EXCLUDE (landed_at) FROM transitions ORDER BY src",
    "dead_letters": "SELECT src, kind, reason, raw FROM dead_letters ORDER BY src",
    "ingest_counts": "SELECT source, kind, landed, duplicates, dead_lettered FROM ingest_counts ORDER BY ALL",
    "visits": "SELECT * FROM visits ORDER BY ticket_id, seq",
    "tickets": "SELECT * FROM tickets ORDER BY ticket_id",
}


def dump(store: Store) -> dict[str, list[tuple]]:
    return {name: store.read(sql)[1] for name, sql in DUMPS.items()}


@pytest.mark.parametrize("chunk", [4, 1000])  # 4: duplicates and tickets span chunks
def test_column_wise_load_stores_exactly_what_the_per_event_parser_stores(tmp_path, chunk):
    path = write(tmp_path, LINES)
    with Store.open(tmp_path / "columnar.duckdb") as fast:
        summary = load_file(fast, path, chunk_lines=chunk)
        got = dump(fast)
    with Store.open(tmp_path / "reference.duckdb") as slow:
        load_per_event(slow, path, chunk)
        expected = dump(slow)
    for name in DUMPS:
        assert got[name] == expected[name], name
    # 28 non-blank lines, by hand. Landed: e1 e2 e3, the content-id line, e4 e5 (stripped), e7
    # (a space for the T), e13, e15, d1, e17 (json reads NaN, in a field we ignore), e21, e22 = 13.
    # Duplicates: e1 again, the resent e2 = 2. Dead letters: the other 13.
    counts = expected["ingest_counts"]
    assert [sum(r[i] for r in counts) for i in (2, 3, 4)] == [13, 2, 13]
    assert (summary.result.landed, summary.result.duplicates, summary.result.dead_lettered) == (13, 2, 13)
    # Column-wise: e1 e2 e3, e1 again, e21, e22 and the resent e2 (see the next test); the other 21 per event.
    assert summary.checked_per_event == 21


def test_split_accepts_only_what_it_can_prove(tmp_path):
    lines = [line for line in LINES if line]
    with Store.open(tmp_path / "s.duckdb") as store:
        cursor = store.cursor()
        checked = split(cursor, lines, list(range(1, len(lines) + 1)), NOW)
        cursor.close()
    accepted = checked.rows.column("event_id").to_pylist()
    # Clean lines only: e1, e2, e3, e1 again (a duplicate is the store's call), e21 (orjson keeps the
    # last of a repeated key, as json does), e22, and e2 resent. Not e15: 512 characters are 1,024 bytes.
    assert accepted == ["e1", "e2", "e3", "e1", "e21", "e22", "e2"]
    assert len(checked.others) == len(lines) - len(accepted)
    row = checked.rows.slice(1, 1).to_pylist()[0]
    # 09:00:00.5 at +05:30 is 03:30:00.5 UTC.
    assert row["occurred_at"] == datetime(2025, 1, 2, 3, 30, 0, 500000) and row["team"] == "core"
    assert checked.rows.column("ord").to_pylist() == [1, 2, 3, 4, 26, 27, 28]


def generated_lines(count: int, seed: int) -> list[bytes]:
    """Lines that vary what the column-wise check looks at: timestamp shapes and values, padding,
    characters at the ends, lengths, types, missing and repeated ids."""
    import random

    rng = random.Random(seed)

    def pick(clean: list, odd: list) -> object:  # mostly clean, so both paths get plenty
        return rng.choice(clean) if rng.random() < 0.93 else rng.choice(odd)

    ends = ["", " ", "\t", "\u00a0", "\u2003", "\x1f", "é", "\u3000", "\n"]
    offsets = ["+00:00", "-00:00", "+05:30", "-11:00", "+23:59", "+24:00", "-12:60", "+0530", ""]
    lines = []
    for n in range(count):
        at = (datetime(2025, 1, 1) + timedelta(seconds=rng.randint(0, 10**7))).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
        if rng.random() < 0.3:  # shapes and values around the edges
            year = rng.choice([1999, 2000, 2024, 2025, NOW.year, NOW.year + 1])
            month, day = rng.randint(0, 13), rng.randint(0, 32)
            hour, minute, second = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
            frac = rng.choice(["", ".5", ".123456", ".1234567", "."])
            sep = rng.choice(["T", "T", "T", " ", "t"])
            at = (
                f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{frac}"
                f"{rng.choice(['Z', 'Z', 'Z'] + offsets)}"
            )
        doc = {
            "event_id": pick([f"g{n}", f"g{n // 3}"], [None, "", " g ", 7]),
            "ticket_id": pick([f"T-{rng.randint(1, 40)}"], [f"{rng.choice(ends)}T-1{rng.choice(ends)}", 5]),
            "board": pick(["b1", "b2"], [" b3", "x" * 511, "x" * 512, "x" * 513, "é" * 300]),
            "from_state": pick([None, "Backlog", "In Progress"], ["", " Review"]),
            "to_state": pick(["Backlog", "In Progress", "Review", "Done"], [None, 3, "Done "]),
            "at": at,
        }
        for optional in ("assignee", "team", "ticket_type", "actor", "source"):
            if rng.random() < 0.5:
                doc[optional] = pick([None, "ok", "a-b c"], ["", " pad ", "ü", 1.5, True, ["x"]])
        if rng.random() < 0.02:
            doc["service"] = "api"
        lines.append(json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode())
    return lines


@pytest.mark.parametrize("seed", [1, 2])
def test_generated_lines_land_the_same_both_ways(tmp_path, seed):
    path = write(tmp_path, generated_lines(1500, seed))
    with Store.open(tmp_path / "columnar.duckdb") as fast:
        summary = load_file(fast, path, chunk_lines=400)
        got = dump(fast)
    with Store.open(tmp_path / "reference.duckdb") as slow:
        load_per_event(slow, path, 400)
        expected = dump(slow)
    for name in DUMPS:
        assert got[name] == expected[name], name
    # Both paths did a good share, and the outcomes are mixed.
    assert 300 < summary.checked_per_event < 1200
    assert summary.result.landed > 300 and summary.result.dead_lettered > 100 and summary.result.duplicates > 100

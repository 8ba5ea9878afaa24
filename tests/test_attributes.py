"""A transition's optional `attributes` object (docs/contract.md#attributes): kept as compact JSON
of at most 4 KiB, never part of the content id, landed by the worker's parser and by `load`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from analytics.store import Store
from flowcore.errors import InvalidEvent
from flowcore.events import ATTRIBUTES_MAX_BYTES, event_to_json, parse_transition
from streams.backfill import load_file

BASE = {"ticket_id": "PAY-1", "board": "PAY", "to_state": "Done", "at": "2024-05-01T09:00:00+02:00"}


def test_attributes_are_kept_as_compact_json_and_do_not_change_the_content_id() -> None:
    plain = parse_transition(json.dumps(BASE))
    flagged = parse_transition(json.dumps(BASE | {"attributes": {"labels": ["a"], "flagged": True}}))
    assert flagged.attributes == '{"flagged":true,"labels":["a"]}'
    assert flagged.event_id == plain.event_id  # the same change, whatever is said beside it
    assert event_to_json(flagged)["attributes"] == {"flagged": True, "labels": ["a"]}


def test_attributes_must_be_an_object_and_are_bounded() -> None:
    with pytest.raises(InvalidEvent, match="attributes is a list, not an object"):
        parse_transition(json.dumps(BASE | {"attributes": ["a"]}))
    # 5,000 bytes of label text: past the 4,096-byte bound, replaced by its size; the transition lands.
    big = parse_transition(json.dumps(BASE | {"attributes": {"labels": ["x" * 5000]}}))
    size = len('{"labels":["' + "x" * 5000 + '"]}')  # 5,014 bytes
    assert size > ATTRIBUTES_MAX_BYTES and json.loads(big.attributes or "") == {"truncated": True, "bytes": size}


def test_load_lands_attributes_beside_the_column_wise_rows(tmp_path: Path) -> None:
    lines = [
        BASE | {"event_id": "e1", "attributes": {"priority": "High"}},
        BASE | {"event_id": "e2", "ticket_id": "PAY-2"},  # no attributes: the column-wise path
        BASE | {"event_id": "e1", "attributes": {"priority": "Low"}},  # a duplicate changes nothing
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with Store.open(tmp_path / "flow.duckdb") as store:
        summary = load_file(store, path)
    assert (summary.result.landed, summary.result.duplicates) == (2, 1)
    with duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT event_id, attributes::VARCHAR FROM transitions ORDER BY event_id").fetchall()
    assert rows == [("e1", '{"priority":"High"}'), ("e2", None)]

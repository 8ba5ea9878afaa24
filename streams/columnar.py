"""The v1 transition check, a column at a time: the fast path of `flowmeter load`.

``flowcore.events.parse_transition`` checks one event at a time in Python, about 10 us an
event: a million-line backfill spent most of its time there, well above the cost of
decoding the JSON. This module checks a chunk of lines column-wise instead. Each line is
decoded with orjson, the contract's fields are pulled into columns, and one DuckDB query
checks them all.

It accepts only lines it can prove the per-event parser would accept with the same result,
a strict subset of the contract:
- a JSON object orjson decodes, without a `service` or `incident_id` field (so a transition);
- an event_id given (a derived id needs the parser's content hash);
- every text field a string that starts and ends with a printable ASCII character (so
  stripping changes nothing), at most 512 bytes long (so at most 512 characters);
- `at` exactly YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+hh:mm|-hh:mm), a real date, from 2000-01-01
  to a day past `now`.

Every other line goes to the per-event parser, which lands it or says in one sentence why
not. The rows come back with their line number (`ord`), so the store can keep the first of
each event_id in file order whichever path a line took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from flowcore.events import EARLIEST, FUTURE_SLACK, MAX_TEXT

# The row columns, in the order of the transitions table (less landed_at and src).
ROW_COLUMNS = (
    "event_id",
    "ticket_id",
    "board",
    "from_state",
    "to_state",
    "occurred_at",
    "assignee",
    "team",
    "ticket_type",
    "actor",
    "source",
)
ROW_SCHEMA = pa.schema(
    [(name, pa.timestamp("us") if name == "occurred_at" else pa.string()) for name in ROW_COLUMNS]
    + [("ord", pa.int64())]
)
_TEXTS = (
    "event_id",
    "ticket_id",
    "board",
    "from_state",
    "to_state",
    "assignee",
    "team",
    "ticket_type",
    "actor",
    "source",
)
_REQUIRED = {"event_id", "ticket_id", "board", "to_state"}
_FIELDS = _TEXTS + ("at",)
_CLEAN = "'^[!-~](?s:.*[!-~])?$'"  # RE2; (?s) so a newline inside still counts as inside
_AT = (
    "'^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    "([.][0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$'"
)


def _text_ok(name: str) -> str:
    column = f'"{name}"'
    check = f"(regexp_matches({column}, {_CLEAN}) AND strlen({column}) <= {MAX_TEXT})"
    return check if name in _REQUIRED else f"({column} IS NULL OR {check})"


_CHECK_SQL = f"""
    WITH typed AS (
        SELECT *, CASE WHEN regexp_matches("at", {_AT})
                       THEN try_cast("at" AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS occurred_at
        FROM _columnar_lines
    )
    SELECT idx, ord, {", ".join(f'"{c}"' for c in ROW_COLUMNS)},
           coalesce(NOT bad AND {" AND ".join(_text_ok(c) for c in _TEXTS)}
                    AND occurred_at BETWEEN $earliest AND $latest, false) AS ok
    FROM typed
"""


@dataclass
class Split:
    rows: pa.Table  # ROW_SCHEMA: the lines proven valid
    others: list[int]  # indexes (into the chunk) of the lines the per-event parser must judge


def split(con: duckdb.DuckDBPyConnection, lines: list[bytes], numbers: list[int], now: datetime) -> Split:
    """Check a chunk of lines (numbered `numbers`) column-wise; see the module docstring."""
    docs: list[Any] = []
    bad = []
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            doc = None
        # Deploys, incidents and transitions with attributes (a column the check does not carry)
        # go to the per-event parser.
        if type(doc) is not dict or "service" in doc or "incident_id" in doc or "attributes" in doc:
            docs.append({})
            bad.append(True)
        else:
            docs.append(doc)
            bad.append(False)
    columns: dict[str, Any] = {
        "idx": pa.array(range(len(lines)), pa.int64()),
        "ord": pa.array(numbers, pa.int64()),
        "bad": pa.array(bad, pa.bool_()),
    }
    for name in _FIELDS:
        values = [doc.get(name) for doc in docs]
        try:
            columns[name] = pa.array(values, pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # a number, list or object where text belongs
            for index, value in enumerate(values):
                if value is not None and type(value) is not str:
                    values[index] = None
                    bad[index] = True
            columns[name] = pa.array(values, pa.string())
            columns["bad"] = pa.array(bad, pa.bool_())
    con.register("_columnar_lines", pa.table(columns))
    try:
        checked = con.sql(_CHECK_SQL, params={"earliest": EARLIEST, "latest": now + FUTURE_SLACK}).to_arrow_table()
    finally:
        con.unregister("_columnar_lines")
    ok = checked.column("ok")
    rows = checked.filter(ok).select(list(ROW_SCHEMA.names)).cast(ROW_SCHEMA)
    others = sorted(checked.filter(pa.compute.invert(ok)).column("idx").to_pylist())  # rows come in any order
    return Split(rows, others)

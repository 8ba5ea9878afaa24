"""The ingest report: what became of every input event, per kind, with the latest rejects.

Served by the worker at /api/status and read by `flowmeter status` and the Ingest page; with
no worker running, the same report comes from the file opened read-only.
"""

from __future__ import annotations

from typing import Any

from analytics.query import jsonable
from analytics.store import Store

# What became of every input event, and the latest rejects: /api/status and `flowmeter status`.
STATUS_SQL = "SELECT * FROM ingest_status"
RECENT_DEAD_LETTERS_SQL = """
    SELECT src, kind, reason, received_at FROM dead_letters
    ORDER BY received_at DESC, src DESC LIMIT 20
"""


def query_rows(store: Store, sql: str) -> list[dict[str, Any]]:
    """One of our own fixed queries, as JSON-ready row objects."""
    columns, rows = store.read(sql)
    return [{c: jsonable(v) for c, v in zip(columns, row)} for row in rows]


LOG_RESETS_SQL = """
    SELECT count(*) AS count, coalesce(sum(lost_offsets), 0) AS lost_offsets FROM log_resets
"""
_HAS_LOG_RESETS_SQL = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'log_resets'"


def ingest_report(store: Store) -> dict[str, Any]:
    """Per kind: landed, duplicates, dead-lettered; the latest dead letters with reasons; and the
    broker log resets this store has seen (docs/recovery.md), with or without a worker running."""
    has_resets = query_rows(store, _HAS_LOG_RESETS_SQL)[0]["n"]  # a store from before the table
    resets = query_rows(store, LOG_RESETS_SQL)[0] if has_resets else {"count": 0, "lost_offsets": 0}
    return {
        "kinds": query_rows(store, STATUS_SQL),
        "recent_dead_letters": query_rows(store, RECENT_DEAD_LETTERS_SQL),
        "log_resets": resets,
    }

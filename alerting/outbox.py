"""The persistent outbox of alert notices: rows of ``alert_deliveries``, read and updated by
the dispatcher. Each function runs inside ``Store.in_transaction`` on the writer thread, so a
delivery's outcome survives a restart, and a restart resumes the pending ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    alert_id: str
    notice: str
    route: str
    route_kind: str
    payload: str  # the CloudEvent JSON, exactly as stored
    attempts: int


def due(con: duckdb.DuckDBPyConnection, now: datetime, busy: frozenset[str], limit: int = 100) -> list[Delivery]:
    """Pending deliveries whose next attempt is due, oldest first, except those being attempted."""
    rows = con.execute("""
        SELECT delivery_id, alert_id, notice, route, route_kind, payload, attempts FROM alert_deliveries
        WHERE status = 'pending' AND next_attempt_at <= $now
          AND NOT list_contains($busy::VARCHAR[], delivery_id)
        ORDER BY next_attempt_at, created_at LIMIT $limit
    """, {"now": now, "busy": sorted(busy), "limit": limit}).fetchall()
    return [Delivery(*row) for row in rows]


def delivered(con: duckdb.DuckDBPyConnection, delivery_ids: list[str], now: datetime) -> None:
    """Record these deliveries as done (one statement for all: see Dispatcher._record_delivered)."""
    con.execute("""UPDATE alert_deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = $now,
                   next_attempt_at = NULL WHERE delivery_id IN (SELECT unnest($ids::VARCHAR[]))""",
                {"ids": delivery_ids, "now": now})


def failed(con: duckdb.DuckDBPyConnection, delivery_id: str, now: datetime, error: str,
           retries: int, backoff_max: float) -> str:
    """Record a failed attempt: pending again after a doubling backoff, or undelivered once
    `retries` retries are spent. Returns the new status."""
    attempts = con.execute("SELECT attempts FROM alert_deliveries WHERE delivery_id = ?",
                           [delivery_id]).fetchone()[0] + 1
    if attempts > retries:
        status, next_at = "undelivered", None
    else:
        status, next_at = "pending", now + timedelta(seconds=min(backoff_max, 2.0 ** (attempts - 1)))
    con.execute("""UPDATE alert_deliveries SET status = $status, attempts = $attempts, next_attempt_at = $next,
                   last_error = $error WHERE delivery_id = $id""",
                {"id": delivery_id, "status": status, "attempts": attempts, "next": next_at, "error": error})
    return status

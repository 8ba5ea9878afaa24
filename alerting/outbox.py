"""The persistent outbox of alert notices: rows of ``alert_deliveries``, read and updated by
the dispatcher. Each function runs inside ``Store.in_transaction`` on the writer thread, so a
delivery's outcome survives a restart, and a restart resumes the pending ones.

Delivery is at least once. An attempt is claimed (counted, and marked *in doubt*) before it
is made, and its outcome clears the doubt or keeps it: an HTTP answer, even an error, says
whether the receiver took the notice, but a timeout, a dropped connection or a crash before
the outcome is stored do not. The next attempt of a row still in doubt may reach the
receiver a second time, so it is counted in ``resends``; receivers deduplicate on the id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

PER_ROUTE_IN_FLIGHT = 4  # attempts one route may have running at once (the log route: any number)


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    alert_id: str
    notice: str
    route: str
    route_kind: str
    payload: str  # the CloudEvent JSON, exactly as stored
    attempts: int  # attempts started, this one included
    resend: bool = False  # an earlier attempt may have reached the receiver already


def due(
    con: duckdb.DuckDBPyConnection,
    now: datetime,
    busy: frozenset[str],
    in_flight: Mapping[str, int] | None = None,
    limit: int = 100,
) -> list[Delivery]:
    """Claim the pending deliveries whose next attempt is due, oldest first: not those being
    attempted (`busy`), and per route no more than PER_ROUTE_IN_FLIGHT minus its attempts
    running (`in_flight`), so nothing claimed waits for a slot (a crash then would count a
    resend of a notice never sent). The log route writes a line and takes any number. Each
    claimed row counts its attempt now, and a row claimed while still in doubt counts a resend."""
    rows = con.execute(
        """
        SELECT delivery_id, alert_id, notice, route, route_kind, payload, attempts, coalesce(in_doubt, false)
        FROM alert_deliveries
        WHERE status = 'pending' AND next_attempt_at <= $now
          AND NOT list_contains($busy::VARCHAR[], delivery_id)
        QUALIFY route_kind = 'log'
             OR row_number() OVER (PARTITION BY route ORDER BY next_attempt_at, created_at) <= $per_route
        ORDER BY next_attempt_at, created_at LIMIT $limit
    """,
        {"now": now, "busy": sorted(busy), "per_route": PER_ROUTE_IN_FLIGHT, "limit": limit},
    ).fetchall()
    taken: dict[str, int] = dict(in_flight or {})
    claimed = []
    for row in rows:
        route = row[3]
        if row[4] == "log" or taken.get(route, 0) < PER_ROUTE_IN_FLIGHT:
            taken[route] = taken.get(route, 0) + 1
            delivery_id, alert_id, notice, route, route_kind, payload, attempts, in_doubt = row
            claimed.append(
                Delivery(
                    delivery_id, alert_id, notice, route, route_kind, payload, attempts=attempts + 1, resend=in_doubt
                )
            )
    if claimed:
        con.execute(
            """UPDATE alert_deliveries SET attempts = attempts + 1,
                           resends = coalesce(resends, 0) + CASE WHEN coalesce(in_doubt, false) THEN 1 ELSE 0 END,
                           in_doubt = true
                       WHERE delivery_id IN (SELECT unnest($ids::VARCHAR[]))""",
            {"ids": [d.delivery_id for d in claimed]},
        )
    return claimed


def delivered(con: duckdb.DuckDBPyConnection, delivery_ids: list[str], now: datetime) -> None:
    """Record these deliveries as done (one statement for all: see Dispatcher._record_delivered).
    The last error belonged to an attempt that the success made moot: cleared."""
    con.execute(
        """UPDATE alert_deliveries SET status = 'delivered', delivered_at = $now, next_attempt_at = NULL,
                   last_error = NULL, in_doubt = false WHERE delivery_id IN (SELECT unnest($ids::VARCHAR[]))""",
        {"ids": delivery_ids, "now": now},
    )


def failed(
    con: duckdb.DuckDBPyConnection,
    delivery_id: str,
    now: datetime,
    error: str,
    retries: int,
    backoff_max: float,
    in_doubt: bool = False,
) -> str:
    """Record a failed attempt: pending again after a doubling backoff, or undelivered once
    `retries` retries are spent. in_doubt: the attempt may have reached the receiver (no answer
    came), so the next one counts as a resend. Returns the new status."""
    row = con.execute("SELECT attempts FROM alert_deliveries WHERE delivery_id = ?", [delivery_id]).fetchone()
    assert row is not None, f"delivery {delivery_id} was claimed from this table, so its row exists"
    attempts = row[0]
    if attempts > retries:
        status, next_at = "undelivered", None
    else:
        status, next_at = "pending", now + timedelta(seconds=min(backoff_max, 2.0 ** (attempts - 1)))
    con.execute(
        """UPDATE alert_deliveries SET status = $status, next_attempt_at = $next, last_error = $error,
                   in_doubt = $in_doubt WHERE delivery_id = $id""",
        {"id": delivery_id, "status": status, "next": next_at, "error": error, "in_doubt": in_doubt},
    )
    return status

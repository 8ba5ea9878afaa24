"""Alerts as the Alerts page and the Overview show them: the alert_log columns they select and
one readable line per alert (scope, what was seen against what was crossed, status, delivery)."""

from __future__ import annotations

import pandas as pd

from dashboard.text import age, count, given, minutes, when

ALERT_COLUMNS = (
    "alert_id, kind, level, board, limit_name, array_to_string(states, ' + ') AS states, team, person, "
    "ticket_id, threshold, wip_limit, value, peak_value, status, started_at, recovering_since, "
    "resolved_at, minutes_open, notified, delivered, pending, undelivered, last_error, "
    "CAST(tickets AS VARCHAR) AS tickets"
)
# open_alerts' own order (breaches and incidents first, then oldest first), said again after a WHERE.
_FIRST = "CASE WHEN level = 'breach' OR kind = 'incident' THEN 0 WHEN level = 'aging' THEN 1 ELSE 2 END"
OPEN_ORDER = f"{_FIRST}, started_at, alert_id"


def alert_against(row: pd.Series) -> str:
    """What was seen against what was crossed, in the alert's own unit."""
    if row["kind"] == "aging":
        return f"{age(row['value'])} in state vs p85 {age(row['threshold'])}"
    if row["kind"] == "incident":
        return f"open {age(row['value'])} vs objective {age(row['threshold'])}"
    limit = count(row["wip_limit"]) if given(row["wip_limit"]) else ""
    if row["level"] == "warning":
        return f"WIP {count(row['value'])} vs warn at {count(row['threshold'])}" + (
            f" (limit {limit})" if limit else ""
        )
    return f"WIP {count(row['value'])} vs limit {limit or count(row['threshold'])}"


def alert_scope_label(row: pd.Series) -> str:
    parts = [f"{who} {row[who]}" for who in ("team", "person") if given(row[who])]
    if row["kind"] == "aging" and given(row["ticket_id"]):
        parts.append(f"ticket {row['ticket_id']}")
    return ", ".join(parts) or "whole board"


def alert_title(row: pd.Series) -> str:
    """What an alert is about, in words: 'pay · Review limit' for a WIP rule (with its team or person),
    'Y · In Progress on ops' for an aging ticket, 'incident PD-7 on api' for an incident."""
    if row["kind"] == "incident":
        return f"incident {row['limit_name']} on {row['board']}"
    if row["kind"] == "aging" and given(row["ticket_id"]):
        return f"{row['ticket_id']} · {row['states']} on {row['board']}"
    who = ", ".join(f"{w} {row[w]}" for w in ("team", "person") if given(row[w]))
    return f"{row['board']} · {row['limit_name']} limit" + (f" ({who})" if who else "")


def alert_level(row: pd.Series) -> str:
    """The level, with 'recovering' when the condition has cleared and the cooldown runs: a red
    breach row that is already getting better says so in the row. An incident's level is its
    severity level, named as such."""
    level = f"incident, {row['level']}" if row["kind"] == "incident" else str(row["level"])
    return f"{level}, recovering" if row["status"] == "recovering" else level


def alert_status(row: pd.Series) -> str:
    if row["status"] == "recovering":
        return f"recovering since {when(row['recovering_since'])}"
    if row["status"] == "resolved":
        return f"resolved {when(row['resolved_at'])}"
    return str(row["status"])


def alert_delivery(row: pd.Series) -> str:
    """How the alert's notices fared: '1 delivered, 1 undelivered; last error: ...'."""
    counts = [f"{int(row[name])} {name}" for name in ("delivered", "pending", "undelivered") if row[name]]
    text = ", ".join(counts) or "no notices"
    if given(row["last_error"]) and (row["pending"] or row["undelivered"]):
        text += f"; last error: {row['last_error']}"
    return text


def alert_peak(row: pd.Series) -> str:
    return age(row["peak_value"]) if row["kind"] in ("aging", "incident") else count(row["peak_value"])


ALERT_TABLE = (
    "level",
    "board",
    "limit",
    "states",
    "scope",
    "against",
    "peak",
    "since",
    "open for",
    "status",
    "delivery",
    "alert_id",
)


def alert_table(alerts: pd.DataFrame) -> pd.DataFrame:
    """alert_log rows as shown: one readable line per alert, in the rows' order."""
    return pd.DataFrame(
        [
            {
                "level": alert_level(row),
                "board": row["board"],
                "limit": row["limit_name"],
                "states": row["states"],
                "scope": alert_scope_label(row),
                "against": alert_against(row),
                "peak": alert_peak(row),
                "since": when(row["started_at"]),
                "open for": minutes(row["minutes_open"]),
                "status": alert_status(row),
                "delivery": alert_delivery(row),
                "alert_id": row["alert_id"],
            }
            for _, row in alerts.iterrows()
        ],
        columns=list(ALERT_TABLE),
    )

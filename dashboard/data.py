"""How pages read: SQL on the documented views through `analytics.sqlclient.query` (the worker,
or the file read-only when none runs), cached for a moment, with the sidebar filters as WHERE
clauses. Pages do formatting and charting only; the metric maths is in the views."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from analytics import sqlclient
from flowcore.errors import FlowmeterError
from flowcore.settings import load_settings

ALL = "All"
EMPTY_HINT = (
    "Send v1 events to the flow.transitions and flow.deploys topics (e.g. `flowmeter produce "
    "events.jsonl`), or start `flowmeter up --demo` for demo traffic."
)


def literal(value: Any) -> str:
    """One value as an SQL literal.

    `sqlclient.query` takes a single SQL string (the worker's /api/sql has no slot for
    parameters), so filter values cannot be bound there. They are quoted here instead: a
    string goes in single quotes with every `'` doubled, which is all of DuckDB's string
    escaping (it has no backslash escapes), so no value can end the literal early. Dates and
    times are written from the Python objects, numbers with repr; nothing else is formatted in.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; None means "all"."""

    board: str | None
    team: str | None
    ticket_type: str | None
    start: date
    end: date

    def where(
        self,
        *,
        board: str | None = "board",
        team: str | None = None,
        ticket_type: str | None = None,
        day: str | None = None,
        time: str | None = None,
    ) -> str:
        """A WHERE condition for the columns a view has (pass the names; None skips a filter)."""
        parts = ["TRUE"]
        for column, value in ((board, self.board), (team, self.team), (ticket_type, self.ticket_type)):
            if column and value is not None:
                parts.append(f"{column} = {literal(value)}")
        if day:
            parts.append(f"{day} BETWEEN {literal(self.start)} AND {literal(self.end)}")
        if time:  # whole UTC days: [start 00:00, end + 1 day 00:00)
            start = datetime.combine(self.start, datetime.min.time())
            end = datetime.combine(self.end + timedelta(days=1), datetime.min.time())
            parts.append(f"{time} >= {literal(start)} AND {time} < {literal(end)}")
        return " AND ".join(parts)

    def ticket_where(self, *, time: str | None = None) -> str:
        return self.where(team="team", ticket_type="ticket_type", time=time)


def default_range() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=29), today


def filters() -> Filters:
    state = st.session_state
    picked = state.get("date_range") or default_range()
    start, end = (picked[0], picked[-1]) if len(picked) else default_range()
    board, team, ticket_type = (
        None if state.get(key, ALL) == ALL else state[key] for key in ("board", "team", "ticket_type")
    )
    return Filters(board, team, ticket_type, start=start, end=end)


def refresh_every() -> int | None:
    """The sidebar's Live toggle and interval, for `st.fragment(run_every=...)`."""
    return st.session_state.get("every", 3) if st.session_state.get("live", True) else None


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-query")  # the worker has 4 readers


@st.cache_data(ttl=2, show_spinner=False)
def _run_all(sqls: tuple[str, ...], db: str, worker: str | None) -> tuple[pd.DataFrame, ...]:  # db, worker: key
    """The statements at once, on the worker's reader threads: a page waits for its slowest query,
    not for the sum of them."""
    conf = load_settings()
    results = [_POOL.submit(sqlclient.query, conf, sql) for sql in sqls]
    return tuple(future.result()[0].to_pandas() for future in results)


def run(sql: str) -> pd.DataFrame:
    """One statement's result; raises FlowmeterError (unreachable worker, refused token, bad SQL)."""
    conf = load_settings()
    return _run_all((sql,), str(conf.db), conf.worker_url)[0]


def load(page: str, queries: dict[str, str]) -> dict[str, pd.DataFrame] | None:
    """Run a page's queries. When the worker cannot be read, say so in one sentence and return the
    page's last data (None if there is none yet)."""
    key = f"last:{page}"
    conf = load_settings()
    result: dict[str, pd.DataFrame] | None
    try:
        frames = _run_all(tuple(queries.values()), str(conf.db), conf.worker_url)
        result = dict(zip(queries, frames))
        st.session_state[key] = result
    except FlowmeterError as exc:
        result = st.session_state.get(key)
        st.warning(f"{exc} {'Showing the last data received.' if result else ''}".strip())
    return result


FILTER_COLUMNS = ("board", "team", "ticket_type")


def options(column: str) -> list[str]:
    """Distinct values for a sidebar filter; [] when nothing can be read (the page says why).
    The three filters' lists are read together, from the tickets table."""
    conf = load_settings()
    sqls = tuple(f"SELECT DISTINCT {c} AS v FROM tickets WHERE {c} IS NOT NULL ORDER BY v" for c in FILTER_COLUMNS)
    try:
        frames = _run_all(sqls, str(conf.db), conf.worker_url)
    except FlowmeterError:
        return []
    return [str(v) for v in frames[FILTER_COLUMNS.index(column)]["v"]]


def days(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1f} d"


def percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"


# ---- Alerts (the alert_log / open_alerts views): shared by the Alerts page and the Overview ----

ALERT_COLUMNS = (
    "alert_id, kind, level, board, limit_name, array_to_string(states, ' + ') AS states, team, person, "
    "ticket_id, threshold, wip_limit, value, peak_value, status, started_at, recovering_since, "
    "resolved_at, minutes_open, notified, delivered, pending, undelivered, last_error, "
    "CAST(tickets AS VARCHAR) AS tickets"
)
# open_alerts' own order (breaches first, then oldest first), said again after a WHERE.
OPEN_ORDER = "CASE level WHEN 'breach' THEN 0 WHEN 'aging' THEN 1 ELSE 2 END, started_at, alert_id"


def alert_scope(f: Filters) -> str:
    """The board and team filters on alert_log rows. An alert belongs to a team when its limit is
    that team's, or when a ticket in it (the `tickets` JSON) is that team's."""
    where = f.where()
    if f.team is not None:
        team = literal(f.team)
        where += f" AND (team = {team} OR list_contains(json_extract_string(tickets, '$[*].team'), {team}))"
    return where


def when(value: Any) -> str:
    """A stored (naive UTC) time, to the minute."""
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def minutes(value: float | None) -> str:
    """A duration given in minutes, in words: '45 min', '15 h 10 min', '3 d 4 h'."""
    if value is None or pd.isna(value):
        return "—"
    total = int(round(value))
    d, rest = divmod(total, 1440)
    h, m = divmod(rest, 60)
    if d:
        return f"{d} d {h} h"
    return f"{h} h {m} min" if h else f"{m} min"


def _hours_or_days(seconds: float) -> str:
    return f"{seconds / 86400:.1f} d" if seconds >= 86400 else f"{seconds / 3600:.1f} h"


def alert_against(row: pd.Series) -> str:
    """What was seen against what was crossed, in the alert's own unit."""
    if row["kind"] == "aging":
        return f"{_hours_or_days(row['value'])} in state vs p85 {_hours_or_days(row['threshold'])}"
    limit = f"{int(row['wip_limit'])}" if given(row["wip_limit"]) else ""
    if row["level"] == "warning":
        return f"WIP {row['value']:g} vs warn at {row['threshold']:g}" + (f" (limit {limit})" if limit else "")
    return f"WIP {row['value']:g} vs limit {limit or format(row['threshold'], 'g')}"


def given(value: Any) -> bool:
    """Not None and not NaN (pandas turns some missing values into NaN)."""
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NaT


def alert_scope_label(row: pd.Series) -> str:
    parts = [f"{who} {row[who]}" for who in ("team", "person") if given(row[who])]
    if row["kind"] == "aging" and given(row["ticket_id"]):
        parts.append(f"ticket {row['ticket_id']}")
    return ", ".join(parts) or "whole board"


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
    return _hours_or_days(row["peak_value"]) if row["kind"] == "aging" else f"{row['peak_value']:g}"


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
                "level": row["level"],
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

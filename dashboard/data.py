"""How pages read: SQL on the documented views through `flowmeter.sqlclient.query` (the worker,
or the file read-only when none runs), cached for a moment, with the sidebar filters as WHERE
clauses. Pages do formatting and charting only; the metric maths is in the views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import streamlit as st

from flowmeter import sqlclient
from flowmeter.errors import FlowmeterError
from flowmeter.settings import load_settings

ALL = "All"
EMPTY_HINT = ("Send v1 events to the flow.transitions and flow.deploys topics (e.g. `flowmeter produce "
              "events.jsonl`), or start `flowmeter up --demo` for demo traffic.")


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

    def where(self, *, board: str | None = "board", team: str | None = None, ticket_type: str | None = None,
              day: str | None = None, time: str | None = None) -> str:
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
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=29), today


def filters() -> Filters:
    state = st.session_state
    picked = state.get("date_range") or default_range()
    start, end = (picked[0], picked[-1]) if len(picked) else default_range()
    return Filters(*(None if state.get(key, ALL) == ALL else state[key] for key in ("board", "team", "ticket_type")),
                   start=start, end=end)


def refresh_every() -> int | None:
    """The sidebar's Live toggle and interval, for `st.fragment(run_every=...)`."""
    return st.session_state.get("every", 3) if st.session_state.get("live", True) else None


@st.cache_data(ttl=2, show_spinner=False)
def _run(sql: str, db: str, worker: str | None) -> tuple[pd.DataFrame, bool]:  # db, worker: cache key
    table, truncated = sqlclient.query(load_settings(), sql)
    return table.to_pandas(), truncated


def run(sql: str) -> pd.DataFrame:
    """One statement's result; raises FlowmeterError (unreachable worker, refused token, bad SQL)."""
    conf = load_settings()
    return _run(sql, str(conf.db), conf.worker_url)[0]


def load(page: str, queries: dict[str, str]) -> dict[str, pd.DataFrame] | None:
    """Run a page's queries. When the worker cannot be read, say so in one sentence and return the
    page's last data (None if there is none yet)."""
    key = f"last:{page}"
    try:
        result = {name: run(sql) for name, sql in queries.items()}
        st.session_state[key] = result
    except FlowmeterError as exc:
        result = st.session_state.get(key)
        st.warning(f"{exc} {'Showing the last data received.' if result else ''}".strip())
    return result


def options(column: str, view: str = "ticket_flow") -> list[str]:
    """Distinct values for a sidebar filter; [] when nothing can be read (the page says why)."""
    try:
        frame = run(f"SELECT DISTINCT {column} AS v FROM {view} WHERE {column} IS NOT NULL ORDER BY v")
    except FlowmeterError:
        return []
    return [str(v) for v in frame["v"]]


def days(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1f} d"


def percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"

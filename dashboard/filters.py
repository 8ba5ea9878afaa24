"""The sidebar's choices (board, team, ticket type, date range, live refresh) and the WHERE
conditions they make. A condition names its values as parameters (`$board`, `$start`, ...);
`Filters.params` holds them and dashboard.reading binds them, so no chosen value is ever
written into SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import streamlit as st

from dashboard.reading import run_all
from flowcore.errors import FlowmeterError

ALL = "All"
FILTER_COLUMNS = ("board", "team", "ticket_type")


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; None means "all"."""

    board: str | None
    team: str | None
    ticket_type: str | None
    start: date
    end: date

    @property
    def params(self) -> dict[str, Any]:
        """The values the conditions name, as JSON values (they travel to the worker as JSON)."""
        day = datetime.min.time()
        return {
            "board": self.board,
            "team": self.team,
            "ticket_type": self.ticket_type,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            # whole UTC days: [start 00:00, end + 1 day 00:00)
            "start_at": datetime.combine(self.start, day).isoformat(sep=" "),
            "end_at": datetime.combine(self.end + timedelta(days=1), day).isoformat(sep=" "),
        }

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
        for column, name in ((board, "board"), (team, "team"), (ticket_type, "ticket_type")):
            if column and getattr(self, name) is not None:
                parts.append(f"{column} = ${name}")
        if day:
            parts.append(f"{day} BETWEEN $start::DATE AND $end::DATE")
        if time:
            parts.append(f"{time} >= $start_at::TIMESTAMP AND {time} < $end_at::TIMESTAMP")
        return " AND ".join(parts)

    def ticket_where(self, *, time: str | None = None) -> str:
        return self.where(team="team", ticket_type="ticket_type", time=time)

    def alert_where(self) -> str:
        """The board and team filters on alert_log rows. An alert belongs to a team when its limit is
        that team's, or when a ticket in it (the `tickets` JSON) is that team's."""
        where = self.where()
        if self.team is not None:
            where += " AND (team = $team OR list_contains(json_extract_string(tickets, '$[*].team'), $team))"
        return where


def default_range() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=29), today


def filters() -> Filters:
    state = st.session_state
    picked = state.get("date_range") or default_range()
    start, end = (picked[0], picked[-1]) if len(picked) else default_range()
    board, team, ticket_type = (None if state.get(key, ALL) == ALL else state[key] for key in FILTER_COLUMNS)
    return Filters(board, team, ticket_type, start=start, end=end)


def refresh_every() -> int | None:
    """The sidebar's Live toggle and interval, for `st.fragment(run_every=...)`."""
    return st.session_state.get("every", 3) if st.session_state.get("live", True) else None


def options(column: str) -> list[str]:
    """Distinct values for a sidebar filter; [] when nothing can be read (the page says why).
    The three filters' lists are read together, from the tickets table, and kept for 30 s."""
    statements = tuple(
        (f"SELECT DISTINCT {c} AS v FROM tickets WHERE {c} IS NOT NULL ORDER BY v", None) for c in FILTER_COLUMNS
    )
    try:
        frames = run_all(statements, changes_slowly=True)
    except FlowmeterError:
        return []
    return [str(v) for v in frames[FILTER_COLUMNS.index(column)]["v"]]

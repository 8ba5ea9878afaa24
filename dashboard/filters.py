"""The sidebar's choices (board, team, ticket type, team attribution, date range, live refresh),
the WHERE conditions they make, and the URL that carries them.

A condition names its values as parameters (`$board`, `$start`, ...); `Filters.params` holds
them and dashboard.reading binds them, so no chosen value is ever written into SQL.

Every choice also lives in the page's URL, named by its widget key (`?board=pay&team=web&
date_range=2025-03-01&date_range=2025-03-30`, and a page's own choices the same way): a link opens
the same view and a reload keeps it. Streamlit keeps widget and URL in step (`bind=URL`); a
value left out of the URL is the default, a value the widget does not offer is dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import streamlit as st

from dashboard.reading import run_all
from flowcore.errors import FlowmeterError

ALL = "All"
FILTER_COLUMNS = ("board", "team", "ticket_type")
URL: Literal["query-params"] = "query-params"  # a widget's `bind`: its value lives in the URL under its key
# Who a ticket counts for under a team filter (docs/metrics.md, ticket_teams): the choice as the sidebar
# and the URL name it (a bound widget puts its option text in the URL), and in words.
FINISHER, ANY_TEAM = "finished it", "worked on it"
ATTRIBUTIONS = {FINISHER: "the team that finished it", ANY_TEAM: "any team that worked on it"}


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; None means "all". Ticket types compare lower-cased (type_label)."""

    board: str | None
    team: str | None
    ticket_type: str | None
    start: date
    end: date
    attribution: str = FINISHER

    @property
    def params(self) -> dict[str, Any]:
        """The values the conditions name, as JSON values (they travel to the worker as JSON)."""
        day = datetime.min.time()
        return {
            "board": self.board,
            "team": self.team,
            "ticket_type": type_label(self.ticket_type) if self.ticket_type is not None else None,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            # whole UTC days: [start 00:00, end + 1 day 00:00)
            "start_at": datetime.combine(self.start, day).isoformat(sep=" "),
            "end_at": datetime.combine(self.end + timedelta(days=1), day).isoformat(sep=" "),
        }

    @property
    def any_team(self) -> bool:
        return self.team is not None and self.attribution == ANY_TEAM

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
        if board and self.board is not None:
            parts.append(f"{board} = $board")
        if team and self.team is not None:
            parts.append(f"{team} = $team")
        if ticket_type and self.ticket_type is not None:
            parts.append(f"lower({ticket_type}) = $ticket_type")
        if day:
            parts.append(f"{day} BETWEEN $start::DATE AND $end::DATE")
        if time:
            parts.append(f"{time} >= $start_at::TIMESTAMP AND {time} < $end_at::TIMESTAMP")
        return " AND ".join(parts)

    def ticket_where(self, *, time: str | None = None, ticket: str | None = None) -> str:
        """Board, team and type on a view with those columns. Pass `ticket` (the view's ticket_id
        column) on a view of whole tickets: then the team filter follows the chosen attribution,
        and "any team that worked on it" keeps every ticket the team held at some point
        (ticket_teams); without it the view's own team column decides."""
        if not (ticket and self.any_team):
            return self.where(team="team", ticket_type="ticket_type", time=time)
        return (
            self.where(ticket_type="ticket_type", time=time)
            + f" AND {ticket} IN (SELECT ticket_id FROM ticket_teams WHERE team = $team)"
        )

    def alert_where(self) -> str:
        """The board and team filters on alert_log rows. An alert belongs to a team when its limit is
        that team's, or when a ticket in it (the `tickets` JSON) is that team's."""
        where = self.where()
        if self.team is not None:
            where += " AND (team = $team OR list_contains(json_extract_string(tickets, '$[*].team'), $team))"
        return where

    def team_rule(self) -> str:
        """The attribution in words, for a caption next to a figure of finished or open tickets."""
        if self.team is None:
            return "All teams."
        return f"Team {self.team}: a ticket counts for {ATTRIBUTIONS[self.attribution]} (sidebar)."


def type_label(value: str) -> str:
    """The one place ticket types are normalised: 'Bug' from Jira and 'bug' from the demo are one type."""
    return value.strip().lower()


def default_range() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return today - timedelta(days=29), today


def filters() -> Filters:
    state = st.session_state
    picked = state.get("date_range") or default_range()
    start, end = (picked[0], picked[-1]) if len(picked) else default_range()
    board, team, ticket_type = (None if state.get(key, ALL) == ALL else state[key] for key in FILTER_COLUMNS)
    picked_rule = state.get("attribution")
    attribution = picked_rule if isinstance(picked_rule, str) and picked_rule in ATTRIBUTIONS else FINISHER
    return Filters(board, team, ticket_type, start=start, end=end, attribution=attribution)


def refresh_every() -> int | None:
    """The sidebar's Live toggle and interval, for `st.fragment(run_every=...)`."""
    return st.session_state.get("every", 3) if st.session_state.get("live", True) else None


def options(column: str) -> list[str]:
    """Distinct values for a sidebar filter; [] when nothing can be read (the page says why).
    The three filters' lists are read together, from the tickets table (types lower-cased), and
    kept for 30 s."""
    statements = tuple(
        (
            f"SELECT DISTINCT {'lower(' + c + ')' if c == 'ticket_type' else c} AS v FROM tickets "
            f"WHERE {c} IS NOT NULL ORDER BY v",
            None,
        )
        for c in FILTER_COLUMNS
    )
    try:
        frames = run_all(statements, changes_slowly=True)
    except FlowmeterError:
        return []
    return [str(v) for v in frames[FILTER_COLUMNS.index(column)]["v"]]


def chosen(key: str, offered: list[str]) -> str:
    """A page's own choice before its widget is drawn further down the page: the session's value,
    else the URL's (a shared link: a widget bound to the URL fills the session only once it is
    drawn, too late for the charts above it), else the first offered. A value not offered is
    ignored, as the widget itself ignores it."""
    for value in (st.session_state.get(key), st.query_params.get(key)):
        if value in offered:
            return str(value)
    return offered[0]

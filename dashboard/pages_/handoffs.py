"""Handoffs: who hands work to whom and how long it then waits, between teams or between people
(never mixed: handoff_events keeps the two levels apart), summed over the boards shown, each
cell labelled with its count; then the tickets with the most handoffs at that level. Selects
from the documented views only."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.filters import URL, chosen, filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT

st.title("Handoffs")
st.caption(
    "Every filter applies: board, team (handoffs into or out of that team, or between people while the ticket "
    "was that team's), ticket type, and the date range (by when the handoff happened). With Board = All the "
    "boards are summed."
)
# The selector's words -> handoff_events.level, and what a handoff at that level is.
LEVELS = {
    "Between teams": ("team", "the ticket's team changed (the events' `team` field)"),
    "Between people": ("person", "the ticket's assignee changed (the events' `assignee` field)"),
}
TOP_TICKETS = 20
ROW_PX = 32  # height of a matrix row: room for the count


@st.fragment(run_every=refresh_every())
def handoffs() -> None:
    f = filters()
    # The selector is drawn below the counts; its choice (session or URL) picks the level now.
    choice = chosen("handoff_level", list(LEVELS))
    level, meaning = LEVELS[choice]

    def scope(h: str = "") -> str:
        """The filters on handoff_events (as `h`, when joined)."""
        team = f"$team IN ({h}team, {h}previous_team)" if f.team is not None else "TRUE"
        return f"{f.where(board=f'{h}board', ticket_type=f'{h}ticket_type', time=f'{h}handoff_at')} AND {team}"

    data = load(
        "handoffs",
        {
            "levels": f"SELECT level, count(*) AS handoffs FROM handoff_events WHERE {scope()} GROUP BY level",
            # Over boards: count(*) and median(wait_after_hours) per pair (docs/metrics.md, handoff_events).
            "matrix": f"SELECT from_party, to_party, count(*) AS handoffs, "
            f"median(wait_after_hours) AS median_wait_after_hours, count(DISTINCT board) AS boards "
            f"FROM handoff_events WHERE {scope()} AND level = $level "
            f"GROUP BY from_party, to_party ORDER BY handoffs DESC, from_party, to_party",
            "tickets": f"SELECT h.ticket_id, h.board, c.state, c.team, c.assignee, count(*) AS handoffs "
            f"FROM handoff_events h JOIN ticket_current c USING (ticket_id) "
            f"WHERE {scope('h.')} AND h.level = $level "
            f"GROUP BY ALL ORDER BY handoffs DESC, h.ticket_id LIMIT {TOP_TICKETS}",
        },
        {**f.params, "level": level},
    )
    if data is None:
        return
    counts = dict(zip(data["levels"]["level"], data["levels"]["handoffs"], strict=True))
    if not counts:
        st.info(
            f"No handoffs yet{' with these filters' if f.board or f.team or f.ticket_type else ''}. A handoff "
            "is a transition whose team (between teams) or assignee (between people) differs from the one before: "
            f"send transitions with `team` or `assignee`. {EMPTY_HINT}"
        )
        return
    cols = st.columns(2)
    cols[0].metric("Between teams", f"{counts.get('team', 0):,}", help=LEVELS["Between teams"][1].capitalize() + ".")
    cols[1].metric(
        "Between people", f"{counts.get('person', 0):,}", help=LEVELS["Between people"][1].capitalize() + "."
    )
    st.radio("Handoffs", list(LEVELS), horizontal=True, key="handoff_level", label_visibility="collapsed", bind=URL)
    st.caption(f"**{choice}:** a handoff is a transition where {meaning}. From = before, to = after.")

    matrix = data["matrix"]
    if matrix.empty:
        other = next(name for name in LEVELS if name != choice)
        st.info(
            f"No handoffs {choice.lower()} here: the events carry no "
            f"`{'team' if level == 'team' else 'assignee'}` changes. See {other.lower()}."
        )
        return
    top = int(matrix["handoffs"].max())
    base = alt.Chart(matrix).encode(
        x=alt.X("to_party:N", title="To", sort="ascending", axis=alt.Axis(labelAngle=-30)),
        y=alt.Y("from_party:N", title="From", sort="ascending"),
    )
    tooltip = [
        alt.Tooltip("from_party:N", title="from"),
        alt.Tooltip("to_party:N", title="to"),
        alt.Tooltip("handoffs:Q", title="handoffs"),
        alt.Tooltip("median_wait_after_hours:Q", format=".1f", title="median wait after (h)"),
        alt.Tooltip("boards:Q", title="boards"),
    ]
    cells = base.mark_rect().encode(
        color=alt.Color("handoffs:Q", title="Handoffs", scale=alt.Scale(scheme="blues", domainMin=0)),
        tooltip=tooltip,
    )
    # The count on each cell, white on the darker half of the scale so it stays readable.
    labels = base.mark_text(fontSize=13).encode(
        text=alt.Text("handoffs:Q", format=","),
        color=alt.condition(f"datum.handoffs > {top / 2}", alt.value("white"), alt.value("black")),
        tooltip=tooltip,
    )
    rows = matrix["from_party"].nunique()
    chart = (cells + labels).properties(title=f"Handoffs {choice.lower()}")
    # Room for the title, the axis labels and a row of ROW_PX per from-party (Streamlit sets the chart's height).
    st.altair_chart(chart, width="stretch", height=max(160, ROW_PX * rows + 140))
    st.dataframe(
        matrix,
        hide_index=True,
        width="stretch",
        column_config={
            "from_party": "from",
            "to_party": "to",
            "median_wait_after_hours": st.column_config.NumberColumn("median wait after (h)", format="%.1f"),
        },
    )
    st.subheader("Tickets with the most handoffs")
    st.caption(f"Handoffs {choice.lower()} per ticket, with the same filters; state, team and assignee as now.")
    if data["tickets"].empty:
        st.write("No ticket with a handoff matches these filters.")
    else:
        st.dataframe(data["tickets"], hide_index=True, width="stretch")


handoffs()

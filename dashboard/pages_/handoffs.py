"""Handoffs: who hands work to whom and how long it then waits; tickets with the most handoffs.
Selects from the documented views only."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT

st.title("Handoffs")
st.caption(
    "Board and team apply to the matrix (team: handoffs into or out of that team); ticket type and the "
    "date range do not, as handoff_matrix has neither. The ticket list follows board, team and type; the "
    "date range does not apply to it either."
)


@st.fragment(run_every=refresh_every())
def handoffs() -> None:
    f = filters()
    pair = "$team IN (from_team, to_team)" if f.team is not None else "TRUE"
    data = load(
        "handoffs",
        {
            "matrix": f"SELECT board, from_team, to_team, handoffs, median_wait_after_hours FROM handoff_matrix "
            f"WHERE {f.where()} AND {pair} ORDER BY handoffs DESC, board, from_team, to_team",
            "tickets": f"SELECT ticket_id, board, team, state, handoffs FROM ticket_flow "
            f"WHERE handoffs > 0 AND {f.ticket_where()} ORDER BY handoffs DESC, ticket_id LIMIT 20",
        },
        f.params,
    )
    if data is None:
        return
    matrix = data["matrix"]
    if matrix.empty:
        st.info(
            f"No handoffs yet{' with these filters' if f.board or f.team else ''}. A handoff is a transition "
            "whose team (or, without one, assignee) differs from the previous one: send transitions with "
            f"`team` or `assignee`. {EMPTY_HINT}"
        )
        return
    st.altair_chart(
        alt.Chart(matrix, title="Handoffs between teams")
        .mark_rect()
        .encode(
            x=alt.X("to_team:N", title="To"),
            y=alt.Y("from_team:N", title="From"),
            color=alt.Color("handoffs:Q", title="Handoffs"),
            tooltip=[
                "board",
                "from_team",
                "to_team",
                "handoffs",
                alt.Tooltip("median_wait_after_hours:Q", format=".1f", title="median wait after (h)"),
            ],
        ),
        width="stretch",
    )
    st.dataframe(
        matrix,
        hide_index=True,
        width="stretch",
        column_config={
            "median_wait_after_hours": st.column_config.NumberColumn("median wait after (h)", format="%.1f")
        },
    )
    st.subheader("Tickets with the most handoffs")
    if data["tickets"].empty:
        st.write("No ticket with a handoff matches the board, team and type filters.")
    else:
        st.dataframe(data["tickets"], hide_index=True, width="stretch")


handoffs()

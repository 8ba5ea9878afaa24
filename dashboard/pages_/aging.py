"""Aging WIP: open, committed tickets oldest first, against the board's cycle-time percentile
bands, each with its history. Selects from the documented views only."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load, run
from dashboard.text import EMPTY_HINT, days
from flowcore.errors import FlowmeterError

st.title("Aging WIP")
st.caption("Open tickets now: board, team and ticket type apply; the date range does not.")
SHOWN = 30  # tickets with a history expander


@st.fragment(run_every=refresh_every())
def aging() -> None:
    f = filters()
    data = load(
        "aging",
        {
            "aging": f"SELECT ticket_id, board, state, team, assignee, ticket_type, age_days, time_in_state_days, "
            f"p50_days, p85_days, p95_days, band FROM aging_wip WHERE {f.ticket_where()} "
            f"ORDER BY age_days DESC, ticket_id",
        },
        f.params,
    )
    if data is None:
        return
    aging = data["aging"]
    if aging.empty:
        st.info(
            f"No open, committed tickets. Tickets appear here once they enter a queue or active state. {EMPTY_HINT}"
        )
        return
    st.metric("Open tickets", f"{len(aging):,}")
    st.altair_chart(
        alt.Chart(aging, title="Age of open tickets by state")
        .mark_circle(size=80)
        .encode(
            x=alt.X("state:N", title="State"),
            y=alt.Y("age_days:Q", title="Age since commitment (days)"),
            color=alt.Color("band:N", title="Band"),
            tooltip=[
                "ticket_id",
                "board",
                "state",
                "band",
                alt.Tooltip("age_days:Q", format=".1f", title="age (days)"),
            ],
        ),
        width="stretch",
    )
    st.dataframe(
        aging,
        hide_index=True,
        width="stretch",
        column_config={
            name: st.column_config.NumberColumn(name.replace("_days", " (days)"), format="%.1f")
            for name in ("age_days", "time_in_state_days", "p50_days", "p85_days", "p95_days")
        },
    )

    st.subheader("History")
    shown = aging.head(SHOWN)
    try:
        history = run(
            "SELECT ticket_id, seq, state, category, entered_at, left_at, duration_days, party "
            "FROM state_visits WHERE list_contains($ids::VARCHAR[], ticket_id) ORDER BY ticket_id, seq",
            {"ids": [str(t) for t in shown["ticket_id"]]},
        )
    except FlowmeterError:  # the warning above already said why
        st.write("Histories show again once the store can be read.")
        return
    for _, ticket in shown.iterrows():
        label = f"{ticket['ticket_id']} · {ticket['state']} · {days(ticket['age_days'])} · {ticket['band']}"
        with st.expander(label):
            visits = history[history["ticket_id"] == ticket["ticket_id"]]
            st.dataframe(visits.drop(columns="ticket_id"), hide_index=True, width="stretch")


aging()

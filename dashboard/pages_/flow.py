"""Flow: the cumulative flow diagram, WIP over time, time in state (wait vs. active) and the
bottleneck in words. Selects from the documented views only."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.data import EMPTY_HINT, filters, load, refresh_every

st.title("Flow")


@st.fragment(run_every=refresh_every())
def flow() -> None:
    f = filters()
    visits = f"category = 'queue' AND {f.ticket_where(time='entered_at')}"
    data = load("flow", {
        "cfd": f"SELECT c.board, c.state, c.board || ' · ' || c.state AS band, b.position, c.day, c.tickets "
               f"FROM cfd_daily c JOIN board_states b USING (board, state) "
               f"WHERE {f.where(board='c.board', day='c.day')} ORDER BY c.day, c.board, b.position",
        "wip": f"SELECT board, state, board || ' · ' || state AS band, day, wip FROM wip_daily "
               f"WHERE {f.where(day='day')} ORDER BY day",
        "time": f"SELECT state, category, sum(duration_days) AS days FROM state_visits "
                f"WHERE category IN ('queue', 'active') AND {f.ticket_where(time='entered_at')} "
                f"GROUP BY state, category ORDER BY days DESC",
        "bottleneck": f"SELECT board, state, sum(duration_days) AS wait_days, count(*) AS visits FROM state_visits "
                      f"WHERE {visits} GROUP BY board, state ORDER BY wait_days DESC, board, state LIMIT 1",
    })
    if data is None:
        return
    if data["cfd"].empty:
        st.info(f"No ticket transitions in this range. {EMPTY_HINT}")
        return
    neck = data["bottleneck"]
    if neck.empty:
        st.markdown("**Bottleneck:** no waiting in queue states in this range.")
    else:
        row = neck.iloc[0]
        st.markdown(f"**Bottleneck:** {row['state']} on board {row['board']}: tickets waited there "
                    f"{row['wait_days']:.1f} days in total over {row['visits']} visits, the most of any queue state.")

    tooltip = ["board", "state", alt.Tooltip("day:T", title="day (UTC)")]
    st.altair_chart(alt.Chart(data["cfd"], title="Cumulative flow").mark_area().encode(
        x=alt.X("day:T", title="Day (UTC)"), y=alt.Y("tickets:Q", title="Tickets", stack=True),
        color=alt.Color("band:N", title="Board · state", sort=alt.SortField("position", order="descending")),
        order=alt.Order("position:Q", sort="descending"), tooltip=[*tooltip, "tickets:Q"]),
        width="stretch")
    st.altair_chart(alt.Chart(data["wip"], title="WIP at the end of each day").mark_line(point=True).encode(
        x=alt.X("day:T", title="Day (UTC)"), y=alt.Y("wip:Q", title="Tickets in progress"),
        color=alt.Color("band:N", title="Board · state"), tooltip=[*tooltip, "wip:Q"]), width="stretch")
    st.altair_chart(alt.Chart(data["time"], title="Time in state: wait vs. active").mark_bar().encode(
        x=alt.X("state:N", title="State", sort="-y"), y=alt.Y("days:Q", title="Total days", stack=True),
        color=alt.Color("category:N", title="Kind"),
        tooltip=["state", "category", alt.Tooltip("days:Q", format=".1f", title="days")]), width="stretch")


flow()

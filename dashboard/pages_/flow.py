"""Flow: the bottleneck in words (the queue state with the most wait in the range, and whether
that wait is growing), the cumulative flow diagram, WIP over time and time in state (wait vs.
active). Selects from the documented views only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT

st.title("Flow")
st.caption(
    "The cumulative flow and WIP charts are per board and state: the board filter and date range apply, "
    "team and ticket type do not. The bottleneck and time in state follow every filter."
)
TREND_DAYS = 7  # growing = the range's last 7 days against the 7 before


def _bottleneck(queues: pd.DataFrame, last_from: date, end: date) -> str:
    """The queue state with the most wait in the range, and whether its wait is growing, in words."""
    queues = queues[queues["wait_days"] > 0]
    if queues.empty:
        return "**Bottleneck:** no ticket waited in a queue state in this range."
    row = queues.iloc[0]
    last, prev = row["last_7_days"], row["previous_7_days"]
    trend = "growing" if last > prev else "shrinking" if last < prev else "steady"
    text = (
        f"**Bottleneck:** {row['state']} on board {row['board']}: {row['wait_days']:.1f} days of waiting in "
        f"this range, the most of any queue state; the wait is **{trend}**: {last:.1f} days in the last "
        f"{TREND_DAYS} days ({last_from} – {end}) against {prev:.1f} in the {TREND_DAYS} before."
    )
    if trend != "growing":
        growing = queues[queues["last_7_days"] > queues["previous_7_days"]]
        if not growing.empty:
            other = growing.sort_values(["last_7_days", "board", "state"], ascending=[False, True, True]).iloc[0]
            text += (
                f" Growing instead: {other['state']} on board {other['board']}, {other['last_7_days']:.1f} "
                f"days against {other['previous_7_days']:.1f}."
            )
    return text


@st.fragment(run_every=refresh_every())
def flow() -> None:
    f = filters()
    # Windows of whole days ending on the range's last complete UTC day (today is still filling up and
    # would make any queue look like it shrinks): the last 7 days, and the 7 before them.
    trend_end = min(f.end, datetime.now(UTC).date() - timedelta(days=1))
    last_from, prev_from = trend_end - timedelta(days=TREND_DAYS - 1), trend_end - timedelta(days=2 * TREND_DAYS - 1)
    in_range = "day BETWEEN $start::DATE AND $end::DATE"
    data = load(
        "flow",
        {
            "cfd": f"SELECT c.board, c.state, c.board || ' · ' || c.state AS band, b.position, c.day, c.tickets "
            f"FROM cfd_daily c JOIN board_states b USING (board, state) "
            f"WHERE {f.where(board='c.board', day='c.day')} ORDER BY c.day, c.board, b.position",
            "wip": f"SELECT board, state, board || ' · ' || state AS band, day, wip FROM wip_daily "
            f"WHERE {f.where(day='day')} ORDER BY day",
            "time": f"SELECT state, category, sum(duration_days) AS days FROM state_visits "
            f"WHERE category IN ('queue', 'active') AND {f.ticket_where(time='entered_at')} "
            f"GROUP BY state, category ORDER BY days DESC",
            # queue_wait_daily: over a period, sum(wait_days) (docs/metrics.md).
            "queues": f"SELECT board, state, coalesce(sum(wait_days) FILTER (WHERE {in_range}), 0) AS wait_days, "
            "coalesce(sum(wait_days) FILTER (WHERE day >= $last_from::DATE "
            "AND day <= $trend_end::DATE), 0) AS last_7_days, "
            "coalesce(sum(wait_days) FILTER (WHERE day >= $prev_from::DATE "
            "AND day < $last_from::DATE), 0) AS previous_7_days "
            f"FROM queue_wait_daily WHERE {f.ticket_where()} AND day <= $end::DATE "
            f"AND (day >= $prev_from::DATE OR {in_range}) "
            f"GROUP BY board, state ORDER BY wait_days DESC, board, state",
        },
        {
            **f.params,
            "last_from": last_from.isoformat(),
            "prev_from": prev_from.isoformat(),
            "trend_end": trend_end.isoformat(),
        },
    )
    if data is None:
        return
    if data["cfd"].empty:
        st.info(f"No ticket transitions in this range. {EMPTY_HINT}")
        return
    st.markdown(_bottleneck(data["queues"], last_from, trend_end))
    with st.expander("Wait per queue state"):
        st.dataframe(
            data["queues"],
            hide_index=True,
            width="stretch",
            column_config={
                name: st.column_config.NumberColumn(label, format="%.2f")
                for name, label in (
                    ("wait_days", "wait in range (days)"),
                    ("last_7_days", f"last {TREND_DAYS} days (days)"),
                    ("previous_7_days", f"{TREND_DAYS} days before (days)"),
                )
            },
        )

    tooltip = ["board", "state", alt.Tooltip("day:T", title="day (UTC)")]
    st.altair_chart(
        alt.Chart(data["cfd"], title="Cumulative flow")
        .mark_area()
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("tickets:Q", title="Tickets", stack=True),
            color=alt.Color("band:N", title="Board · state", sort=alt.SortField("position", order="descending")),
            order=alt.Order("position:Q", sort="descending"),
            tooltip=[*tooltip, "tickets:Q"],
        ),
        width="stretch",
    )
    st.altair_chart(
        alt.Chart(data["wip"], title="WIP at the end of each day")
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("wip:Q", title="Tickets in progress"),
            color=alt.Color("band:N", title="Board · state"),
            tooltip=[*tooltip, "wip:Q"],
        ),
        width="stretch",
    )
    st.altair_chart(
        alt.Chart(data["time"], title="Time in state: wait vs. active")
        .mark_bar()
        .encode(
            x=alt.X("state:N", title="State", sort="-y"),
            y=alt.Y("days:Q", title="Total days", stack=True),
            color=alt.Color("category:N", title="Kind"),
            tooltip=["state", "category", alt.Tooltip("days:Q", format=".1f", title="days")],
        ),
        width="stretch",
    )


flow()

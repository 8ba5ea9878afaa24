"""Flow: the bottleneck in words (the queue state with the most wait in the range, and whether
that wait is growing), then per board (side by side, never interleaved) one chart of the kind
chosen: its cumulative flow diagram, arrivals-based or end-of-day state, or its WIP over time,
each board's states in workflow order with colours by state category (dashboard/colours.py);
then time in state (wait vs. active). Selects from the documented views only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.colours import CATEGORY_COLOURS, state_colours
from dashboard.filters import URL, chosen, filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT

st.title("Flow")
st.caption(
    "The cumulative flow and WIP charts are per board and state: the board filter and date range apply, "
    "team and ticket type do not. The bottleneck and time in state follow every filter (team: the team "
    "that held the ticket in that state)."
)
TREND_DAYS = 7  # growing = the range's last 7 days against the 7 before
PER_ROW = 3  # boards side by side
# px of one board's chart when several are drawn side by side: three to a row fit the main area of a
# 1280-px-wide window beside the sidebar (~820 px), axes included.
BOARD_WIDTH, BOARD_HEIGHT = 160, 150
# What each board's chart shows, by the toggle's words: (view, one line on what it shows). One kind
# at a time: ten boards' CFD and WIP charts together took the browser about 0.8 s to draw on two
# cores, one kind about 0.35 s (benchmarks/RESULTS.md section 8).
CHARTS = {
    "Arrivals": (
        "cfd_arrivals_daily",
        "Cumulative flow. Each line counts the tickets that have reached that state or a later one by the end "
        "of the day; a ticket that moves back stays counted, so lines never go down (the CFD ActionableAgile and "
        "jira-agile-metrics draw). Vertical gap: work between two states; horizontal gap: about how long it takes.",
    ),
    "State at end of day": (
        "cfd_daily",
        "Cumulative flow. Each band holds the tickets in that state at the end of the day (a line: that state "
        "or a later one); a ticket that moves back leaves the later bands, so they can shrink.",
    ),
    "WIP per day": (
        "wip_daily",
        "Work in progress: the tickets in each queue and active state at the end of each day, one line per state.",
    ),
}
WIP = "WIP per day"


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


def _board_chart(board: str, states: pd.DataFrame, rows: pd.DataFrame, kind: str, side_by_side: bool) -> alt.Chart:
    """One board's chart of the chosen kind: its states in workflow order, each with its category's
    shade. Side by side with other boards: a fixed size, the legend below (three boards fit a row)."""
    legend = alt.Legend(orient="bottom", columns=2, labelLimit=90) if side_by_side else alt.Legend()
    size = {"width": BOARD_WIDTH, "height": BOARD_HEIGHT} if side_by_side else {}
    order = list(states["state"])
    colours = state_colours(list(states["category"]))
    day = alt.Tooltip("day:T", title="day (UTC)")
    mine = rows[rows["board"] == board]
    if kind == WIP:
        # WIP counts queue and active states only: the legend lists those, in the same colours as the CFD.
        working = [(s, c) for s, c in zip(order, colours, strict=True) if s in set(rows["state"])]
        return (
            alt.Chart(mine, title=f"{board}: WIP at the end of each day")
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title="Day (UTC)"),
                y=alt.Y("wip:Q", title="Tickets in progress"),
                color=alt.Color(
                    "state:N",
                    title="State",
                    scale=alt.Scale(domain=[s for s, _ in working], range=[c for _, c in working]),
                    sort=[s for s, _ in working],
                    legend=legend,
                ),
                tooltip=["state", day, "wip:Q"],
            )
            .properties(**size)
        )
    return (
        alt.Chart(mine, title=f"{board}: cumulative flow ({kind.lower()})")
        .mark_area()
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("tickets:Q", title="Tickets in this state or later"),
            y2="below:Q",
            color=alt.Color(
                "state:N", title="State", scale=alt.Scale(domain=order, range=colours), sort=order, legend=legend
            ),
            tooltip=[
                "state",
                day,
                alt.Tooltip("tickets:Q", title="this state or later"),
                alt.Tooltip("in_band:Q", title="in this band"),
            ],
        )
        .properties(**size)
    )


def _draw_boards(charts: list[alt.Chart]) -> None:
    """One board: its chart the page's width. Several: one chart holding every board's, PER_ROW a
    row, each with its own colours and legend. The browser then builds one Vega view instead of one
    per board (benchmarks/RESULTS.md section 8)."""
    if len(charts) == 1:
        st.altair_chart(charts[0], width="stretch")
        return
    st.altair_chart(
        alt.concat(*charts, columns=PER_ROW).resolve_scale(color="independent").configure_title(fontSize=12)
    )


@st.fragment(run_every=refresh_every())
def flow() -> None:
    f = filters()
    # The toggle is drawn above the charts, further down; its choice (session or URL) picks the view now.
    kind = chosen("cfd_kind", list(CHARTS))
    view, caption = CHARTS[kind]
    # Windows of whole days ending on the range's last complete UTC day (today is still filling up and
    # would make any queue look like it shrinks): the last 7 days, and the 7 before them.
    trend_end = min(f.end, datetime.now(UTC).date() - timedelta(days=1))
    last_from, prev_from = trend_end - timedelta(days=TREND_DAYS - 1), trend_end - timedelta(days=2 * TREND_DAYS - 1)
    in_range = "day BETWEEN $start::DATE AND $end::DATE"
    data = load(
        "flow",
        {
            # Every state of each board shown, in workflow order: the colours come from these, not the rows.
            "states": f"SELECT board, state, category, position FROM board_states WHERE {f.where()} "
            "ORDER BY board, position",
            "chart": (
                f"SELECT board, state, day, wip FROM {view} WHERE {f.where(day='day')} ORDER BY board, day"
                if kind == WIP
                # A band runs from the next state's line (below) up to this state's (tickets).
                else f"SELECT c.board, c.state, c.day, c.tickets, "
                f"coalesce(lead(c.tickets) OVER next_state, 0) AS below, "
                f"c.tickets - coalesce(lead(c.tickets) OVER next_state, 0) AS in_band "
                f"FROM {view} c JOIN board_states b USING (board, state) "
                f"WHERE {f.where(board='c.board', day='c.day')} "
                "WINDOW next_state AS (PARTITION BY c.board, c.day ORDER BY b.position) "
                "ORDER BY c.board, c.day, b.position"
            ),
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
    if data["chart"].empty and kind != WIP:
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

    st.radio("Per board", list(CHARTS), horizontal=True, key="cfd_kind", bind=URL)
    st.caption(f"**{kind}:** {caption}")
    if data["chart"].empty:  # WIP: every ticket of the range sat in a backlog or done state
        st.info("No ticket was in a queue or active state in this range.")
    else:
        boards = data["states"].groupby("board", sort=True)
        _draw_boards(
            [
                _board_chart(str(board), states, data["chart"], kind, side_by_side=boards.ngroups > 1)
                for board, states in boards
            ]
        )
    st.altair_chart(
        alt.Chart(data["time"], title="Time in state: wait vs. active")
        .mark_bar()
        .encode(
            x=alt.X("state:N", title="State", sort="-y"),
            y=alt.Y("days:Q", title="Total days", stack=True),
            color=alt.Color(
                "category:N",
                title="Kind",
                scale=alt.Scale(
                    domain=["queue", "active"], range=[CATEGORY_COLOURS["queue"], CATEGORY_COLOURS["active"]]
                ),
            ),
            tooltip=["state", "category", alt.Tooltip("days:Q", format=".1f", title="days")],
        ),
        width="stretch",
    )


flow()

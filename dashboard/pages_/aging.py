"""Aging WIP: open, committed tickets oldest first, each read two ways (aging_wip): age since
commitment against the board's cycle-time percentiles, and time in the current state against
that state's p85, which is what aging alerts judge; then the oldest tickets' histories. The count of
open aging alerts is the Alerts page's own query. Selects from the documented views only."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.colours import AGE_BAND_COLOURS, AGE_BANDS
from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT

st.title("Aging WIP")
st.caption(
    "Open tickets now: board, team (the team that holds the ticket now, whatever the sidebar's rule for "
    "finished tickets) and ticket type apply; the date range does not. Two readings per ticket: "
    "**age since commitment** against the board's cycle time p50/p85/p95 (how late it is as a whole), and "
    "**time in its current state** against that state's p85 (how stuck it is now: what aging alerts use)."
)
SHOWN = 10  # the oldest tickets whose histories are listed
# The oldest tickets of each board drawn and listed: at 1M transitions a board holds thousands of
# open tickets, and sending every one to the browser is what made this page slow, not the query.
# 50 a board keeps the chart's points (ten boards: 500) cheap for the browser to lay out; the figures
# above the chart count every open ticket.
PER_BOARD = 50
PER_ROW = 3  # boards side by side
# px of one board's chart when several are drawn side by side: three to a row fit the main area of a
# 1280-px-wide window beside the sidebar (~820 px), axes included.
BOARD_WIDTH, BOARD_HEIGHT = 185, 200
# Alerts page, "Open aging": open_alerts rows of level 'aging' under the board and team filters.
OPEN_AGING_ALERTS = "SELECT count(*) AS n FROM open_alerts WHERE level = 'aging' AND {scope}"
COLUMNS = {
    "age_days": st.column_config.NumberColumn("age since commitment (d)", format="%.1f"),
    "band": st.column_config.TextColumn("age vs cycle time"),
    "p50_days": st.column_config.NumberColumn("cycle p50 (d)", format="%.1f"),
    "p85_days": st.column_config.NumberColumn("cycle p85 (d)", format="%.1f"),
    "p95_days": st.column_config.NumberColumn("cycle p95 (d)", format="%.1f"),
    "time_in_state_days": st.column_config.NumberColumn("time in state (d)", format="%.1f"),
    "state_p85_days": st.column_config.NumberColumn("state p85 (d)", format="%.1f"),
    "state_band": st.column_config.TextColumn("time in state vs state p85"),
    "aging_alert": st.column_config.CheckboxColumn("aging alert open"),
}
HISTORY_COLUMNS = {
    "ticket_id": st.column_config.TextColumn("ticket"),
    "seq": st.column_config.NumberColumn("visit"),
    "entered_at": st.column_config.DatetimeColumn("entered (UTC)", format="YYYY-MM-DD HH:mm"),
    "left_at": st.column_config.DatetimeColumn("left (UTC)", format="YYYY-MM-DD HH:mm"),
    "duration_days": st.column_config.NumberColumn("days in state", format="%.1f"),
    "party": st.column_config.TextColumn("responsible party"),
}


@st.fragment(run_every=refresh_every())
def aging() -> None:
    f = filters()
    scope = f.where(board="a.board", team="a.team", ticket_type="a.ticket_type")
    data = load(
        "aging",
        {
            # The drawn rows and the counts of every open ticket from one evaluation of aging_wip
            # (its percentiles are most of its cost): the page's slowest query at 1M transitions was
            # this view, computed three times at once on two cores.
            "aging": f"WITH a AS MATERIALIZED (SELECT * FROM aging_wip a WHERE {scope}), "
            "counts AS (SELECT count(*) AS open, count(*) FILTER (WHERE band IN ('p85-p95', 'beyond p95')) AS late, "
            "count(*) FILTER (WHERE aging_alert) AS flagged FROM a) "
            "SELECT a.ticket_id, a.board, a.state, b.position, a.team, a.assignee, a.ticket_type, "
            "a.age_days, a.band, a.p50_days, a.p85_days, a.p95_days, "
            "a.time_in_state_days, a.state_p85_days, a.state_band, a.aging_alert, counts.* "
            "FROM a JOIN board_states b USING (board, state) CROSS JOIN counts "
            f"QUALIFY row_number() OVER (PARTITION BY a.board ORDER BY a.age_days DESC, a.ticket_id) <= {PER_BOARD} "
            "ORDER BY a.age_days DESC, a.ticket_id",
            "alerts": OPEN_AGING_ALERTS.format(scope=f.alert_where()),
            # The histories of the SHOWN oldest (the first rows of "aging"), oldest ticket first, in the
            # same round trip. The oldest are picked by aging_wip's own rule (open = a queue or active
            # state, committed; oldest = age since commitment, then ticket id) from ticket_current,
            # which needs none of the percentiles.
            "history": "SELECT v.ticket_id, v.seq, v.state, v.category, v.entered_at, v.left_at, v.duration_days, "
            "v.party FROM state_visits v JOIN (SELECT a.ticket_id, "
            "greatest(epoch(fm_now() - a.committed_at), 0) AS age FROM ticket_current a "
            f"WHERE a.category IN ('queue', 'active') AND a.committed_at IS NOT NULL AND {scope} "
            f"ORDER BY age DESC, a.ticket_id LIMIT {SHOWN}) o USING (ticket_id) "
            "ORDER BY o.age DESC, v.ticket_id, v.seq",
        },
        f.params,
    )
    if data is None:
        return
    aging = data["aging"]
    open_alerts = int(data["alerts"]["n"].iloc[0])
    if aging.empty:
        st.info(
            f"No open, committed tickets. Tickets appear here once they enter a queue or active state. {EMPTY_HINT}"
        )
        return
    counts = aging.iloc[0]  # open, late, flagged: the same on every row
    aging = aging.drop(columns=["open", "late", "flagged"])
    cols = st.columns(3)
    cols[0].metric("Open tickets", f"{int(counts['open']):,}")
    cols[1].metric(
        "Beyond cycle time p85",
        f"{int(counts['late']):,}",
        help="Age since commitment above the board's cycle time p85: older than 85% of finished tickets took.",
    )
    cols[2].metric(
        "Open aging alerts",
        f"{open_alerts:,}",
        help="As on the Alerts page: tickets the alert evaluator found longer in their state than that state's "
        "p85 at its last check (board and team filters; ticket type does not apply).",
    )
    flagged = int(counts["flagged"])
    if flagged != open_alerts and not f.ticket_type:
        st.caption(
            f"{open_alerts - flagged:,} open aging alert(s) are for tickets that have moved on since the evaluator's "
            "last check; they resolve at its next one."
        )

    ticket = [
        "ticket_id",
        "state",
        alt.Tooltip("age_days:Q", format=".1f", title="age since commitment (d)"),
        alt.Tooltip("band:N", title="age vs cycle time"),
        alt.Tooltip("time_in_state_days:Q", format=".1f", title="time in state (d)"),
        alt.Tooltip("state_band:N", title="time in state vs state p85"),
        alt.Tooltip("aging_alert:N", title="aging alert open"),
    ]
    if len(aging) < int(counts["open"]):
        st.caption(
            f"Drawn and listed: the {PER_BOARD:,} oldest open tickets of each board ({len(aging):,} of "
            f"{int(counts['open']):,}); the figures above count every one."
        )
    boards = list(aging.groupby("board", sort=True))
    side_by_side = len(boards) > 1
    views = []
    for board, rows in boards:
        order = list(rows.sort_values("position")["state"].drop_duplicates())
        view = (
            alt.Chart(rows, title=f"{board}: age of open tickets by state")
            .mark_point(size=70, filled=True, opacity=0.75)
            .encode(
                x=alt.X("state:N", title="State (workflow order)", sort=order, axis=alt.Axis(labelAngle=0)),
                y=alt.Y("age_days:Q", title="Age since commitment (days)"),
                color=alt.Color(
                    "band:N",
                    title="Age vs cycle time",
                    scale=alt.Scale(domain=list(AGE_BANDS), range=list(AGE_BAND_COLOURS)),
                ),
                shape=alt.Shape(
                    "aging_alert:N",
                    title="Aging alert open",
                    scale=alt.Scale(domain=[False, True], range=["circle", "diamond"]),
                ),
                tooltip=ticket,
            )
        )
        views.append(view.properties(width=BOARD_WIDTH, height=BOARD_HEIGHT) if side_by_side else view)
    if side_by_side:
        # One chart holding every board, PER_ROW a row, one legend (the scales are fixed by their
        # domains, so they are shared; above the boards, where it stays in view): the browser builds one
        # Vega view, not one per board.
        st.altair_chart(alt.concat(*views, columns=PER_ROW).configure_legend(orient="top").configure_title(fontSize=12))
    else:
        st.altair_chart(views[0], width="stretch")
    st.dataframe(
        aging.drop(columns="position"),
        hide_index=True,
        width="stretch",
        column_config=COLUMNS,
    )

    st.subheader("History")
    history = data["history"]
    # One table, not an expander with a table per ticket: ten of them, closed, still cost the browser
    # about a quarter of a second at 1M transitions (RESULTS.md section 8).
    st.caption(f"Every state visit of the {history['ticket_id'].nunique()} oldest open tickets, oldest ticket first.")
    st.dataframe(history, hide_index=True, width="stretch", column_config=HISTORY_COLUMNS)


aging()

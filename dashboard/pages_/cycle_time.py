"""Cycle time: finished tickets with their 50/85/95th percentiles, a histogram and the throughput
run chart. Selects from the documented views only."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import EMPTY_HINT, days

st.title("Cycle time")
# Finished tickets drawn as dots: the latest ones. At 1M transitions a date range holds tens of
# thousands, and sending each to the browser is what made this page slow. The percentiles and
# the histogram count every finished ticket (both are computed in SQL).
DOTS = 2000
BINS = 30


@st.fragment(run_every=refresh_every())
def cycle_time() -> None:
    f = filters()
    finished = f"is_done AND {f.ticket_where(time='done_at', ticket='ticket_id')}"
    # throughput_daily counts a ticket for the team that finished it; under "any team that worked on it"
    # the day's count comes from the same finished tickets as the rest of the page (zero days filled below).
    throughput = (
        f"SELECT done_at::DATE AS day, count(*) AS done FROM ticket_flow WHERE {finished} GROUP BY day ORDER BY day"
        if f.any_team
        else f"SELECT day, sum(done) AS done FROM throughput_daily "
        f"WHERE {f.ticket_where()} AND {f.where(board=None, day='day')} GROUP BY day ORDER BY day"
    )
    data = load(
        "cycle_time",
        {
            "done": f"SELECT ticket_id, board, team, ticket_type, done_at, cycle_time_days FROM ticket_flow "
            f"WHERE {finished} ORDER BY done_at DESC LIMIT {DOTS}",
            # BINS equal-width bins from 0 to the longest cycle time; a bin is [low, high).
            "bins": f"WITH t AS (SELECT cycle_time_days AS d FROM ticket_flow WHERE {finished}), "
            f"w AS (SELECT greatest(max(d), 1e-9) / {BINS} AS width FROM t) "
            f"SELECT least(floor(d / width), {BINS - 1}) * width AS low, "
            f"(least(floor(d / width), {BINS - 1}) + 1) * width AS high, count(*) AS tickets "
            f"FROM t, w GROUP BY ALL ORDER BY low",
            # The documented way for a date range (docs/metrics.md, cycle_time_percentiles).
            "pct": f"SELECT count(*) AS tickets, quantile_cont(cycle_time_days, 0.5) AS p50, "
            f"quantile_cont(cycle_time_days, 0.85) AS p85, quantile_cont(cycle_time_days, 0.95) AS p95 "
            f"FROM ticket_flow WHERE {finished}",
            "throughput": throughput,
        },
        f.params,
    )
    if data is None:
        return
    done, pct = data["done"], data["pct"].iloc[0]
    if done.empty:
        st.info(f"No finished tickets in this range. Send transitions that reach a done state. {EMPTY_HINT}")
        return
    st.caption(f"Tickets finished {f.start} – {f.end} (UTC). {f.team_rule()}")
    cols = st.columns(4)
    cols[0].metric("Finished", f"{int(pct['tickets']):,}")
    for col, name in zip(cols[1:], ("p50", "p85", "p95")):
        col.metric(f"Cycle time {name}", days(pct[name]))

    lines = pd.DataFrame({"percentile": ["p50", "p85", "p95"], "days": [pct["p50"], pct["p85"], pct["p95"]]})
    dots = (
        alt.Chart(done)
        .mark_circle(size=60)
        .encode(
            x=alt.X("done_at:T", title="Done (UTC)"),
            y=alt.Y("cycle_time_days:Q", title="Cycle time (days)"),
            color=alt.Color("board:N", title="Board"),
            tooltip=[
                "ticket_id",
                "board",
                "team",
                "ticket_type",
                alt.Tooltip("done_at:T", title="done (UTC)"),
                alt.Tooltip("cycle_time_days:Q", format=".2f", title="cycle time (days)"),
            ],
        )
    )
    rules = (
        alt.Chart(lines)
        .mark_rule(strokeDash=[4, 4])
        .encode(y="days:Q", color=alt.value("gray"), tooltip=["percentile", alt.Tooltip("days:Q", format=".2f")])
    )
    st.altair_chart(
        (dots + rules).properties(title="Cycle time of finished tickets, with p50/p85/p95"), width="stretch"
    )
    if len(done) < int(pct["tickets"]):
        st.caption(
            f"Dots: the latest {len(done):,} of {int(pct['tickets']):,} finished tickets; the percentiles and "
            "the distribution below count every one."
        )
    st.altair_chart(
        alt.Chart(data["bins"], title="Cycle time distribution")
        .mark_bar()
        .encode(
            x=alt.X("low:Q", bin="binned", title="Cycle time (days)"),
            x2="high:Q",
            y=alt.Y("tickets:Q", title="Tickets"),
            tooltip=[
                alt.Tooltip("low:Q", format=".2f", title="from (days)"),
                alt.Tooltip("high:Q", format=".2f", title="to (days)"),
                alt.Tooltip("tickets:Q", title="tickets"),
            ],
        ),
        width="stretch",
    )
    per_day = data["throughput"]
    if f.any_team:  # days without a finished ticket count 0, as throughput_daily has them
        span = pd.date_range(f.start, min(f.end, pd.Timestamp.now("UTC").date()), freq="D")
        per_day = per_day.set_index(pd.to_datetime(per_day["day"]))["done"].reindex(span, fill_value=0)
        per_day = per_day.rename_axis("day").reset_index()
    st.altair_chart(
        alt.Chart(per_day, title="Throughput per day")
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("done:Q", title="Tickets finished"),
            tooltip=[alt.Tooltip("day:T", title="day (UTC)"), alt.Tooltip("done:Q", title="finished")],
        ),
        width="stretch",
    )


cycle_time()

"""Overview: how much is in progress and where, how much got done, how long it takes, how often
and how safely we ship, and how fresh the data is. Selects from the documented views only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import EMPTY_HINT, days, filters, literal, load, percent, refresh_every

st.title("Overview")

DORA_LABELS = {"deployment_frequency": "Deployment frequency", "change_lead_time": "Change lead time",
               "change_failure_rate": "Change failure rate",
               "failed_deployment_recovery_time": "Recovery time"}


def _dora_value(row: pd.Series) -> str:
    if row["value"] is None or pd.isna(row["value"]):
        return "no data"
    if row["metric"] == "change_failure_rate":
        return percent(row["value"])
    if row["metric"] == "deployment_frequency":
        return f"{row['value']:.2f} /day"
    return f"{row['value']:.1f} h"


def _highlight_breaches(row: pd.Series) -> list[str]:
    return ["background-color: #f8d7da" if row["over_limit"] else ""] * len(row)


@st.fragment(run_every=refresh_every())
def overview() -> None:
    f = filters()
    week = "date_trunc('week', fm_now())::DATE"
    data = load("overview", {
        "wip": f"SELECT board, state, category, wip, wip_limit, warn_at, over_limit FROM wip_now "
               f"WHERE {f.where()} ORDER BY board, position NULLS LAST",
        "weeks": f"SELECT coalesce(sum(done) FILTER (WHERE week = {week}), 0) AS this_week, "
                 f"coalesce(sum(done) FILTER (WHERE week = {week} - 7), 0) AS last_week "
                 f"FROM throughput_weekly WHERE {f.ticket_where()}",
        "pct": f"SELECT board, tickets, p50_days, p85_days, p95_days FROM cycle_time_percentiles "
               f"WHERE {f.where()} AND team = {literal(f.team or '*')} "
               f"AND ticket_type = {literal(f.ticket_type or '*')} ORDER BY board",
        "eff": f"SELECT count(*) AS finished, avg(flow_efficiency) AS flow_efficiency FROM ticket_flow "
               f"WHERE is_done AND {f.ticket_where(time='done_at')}",
        "dora": "SELECT metric, value, unit, band, sample_size FROM dora_summary",
        "fresh": "SELECT max(last_landed_at) AS last_landed_at, "
                 "date_diff('second', max(last_landed_at), fm_now()) AS behind_s FROM ingest_status",
    })
    if data is None:
        return
    fresh = data["fresh"].iloc[0]
    if fresh["last_landed_at"] is None or pd.isna(fresh["last_landed_at"]):
        st.info(f"No events yet. {EMPTY_HINT}")
        return
    st.caption(f"Data as of {fresh['last_landed_at']:%Y-%m-%d %H:%M:%S} UTC ({fresh['behind_s']:,} s behind)")

    wip = data["wip"]
    open_wip = wip[wip["category"].isin(["queue", "active"])]
    weeks, eff = data["weeks"].iloc[0], data["eff"].iloc[0]
    cols = st.columns(5)
    cols[0].metric("WIP now", f"{int(open_wip['wip'].sum()):,}", help="Tickets in queue or active states.")
    cols[1].metric("States over limit", f"{int(wip['over_limit'].fillna(False).sum()):,}")
    cols[2].metric("Done this week", f"{int(weeks['this_week']):,}",
                   delta=f"{int(weeks['this_week'] - weeks['last_week']):+,} vs last week", delta_color="off")
    cols[3].metric("Done last week", f"{int(weeks['last_week']):,}")
    cols[4].metric("Flow efficiency", percent(eff["flow_efficiency"]),
                   help=f"Active / (active + wait), averaged over the {eff['finished']} tickets finished in the range.")

    pct = data["pct"]
    st.subheader("Cycle time")
    if pct.empty:
        st.info("No finished tickets yet: cycle time needs tickets that reached a done state.")
    else:
        if len(pct) == 1:
            c = st.columns(3)
            c[0].metric("Cycle time p50", days(pct["p50_days"].iloc[0]))
            c[1].metric("Cycle time p85", days(pct["p85_days"].iloc[0]))
            c[2].metric("Finished tickets", f"{int(pct['tickets'].iloc[0]):,}")
        st.dataframe(pct, hide_index=True, width="stretch", column_config={
            "p50_days": st.column_config.NumberColumn("p50 (days)", format="%.1f"),
            "p85_days": st.column_config.NumberColumn("p85 (days)", format="%.1f"),
            "p95_days": st.column_config.NumberColumn("p95 (days)", format="%.1f")})

    st.subheader("WIP now against limits")
    if wip.empty:
        st.info(f"No work in progress. {EMPTY_HINT}")
    else:
        st.dataframe(wip.style.apply(_highlight_breaches, axis=1), hide_index=True, width="stretch")

    st.subheader("DORA keys (production, trailing 30 days)")
    dora = data["dora"].set_index("metric")
    cols = st.columns(4)
    for col, (metric, label) in zip(cols, DORA_LABELS.items()):
        row = dora.loc[metric].copy()
        row["metric"] = metric
        col.metric(label, _dora_value(row), delta=row["band"] or "no band", delta_color="off",
                   help=f"Sample: {row['sample_size']} ({row['unit']}).")


overview()

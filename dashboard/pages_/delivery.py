"""Delivery: deployment frequency, change lead time, change failure rate and recovery time per
service and environment, over time. Selects from the documented views only. Deploys have no
board, team or ticket type: only the date range applies here."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.filters import filters, refresh_every
from dashboard.reading import load
from dashboard.text import percent

st.title("Delivery")
st.caption("Deploys carry no board, team or type: only the date range filters this page.")


@st.fragment(run_every=refresh_every())
def delivery() -> None:
    f = filters()
    data = load(
        "delivery",
        {
            "freq": f"SELECT service, environment, service || ' · ' || environment AS target, day, deploys, "
            f"successful_deploys FROM deploy_frequency WHERE {f.where(board=None, day='day')} ORDER BY day",
            # Over a period the documented rate is sum(failed) / sum(deploys), never a mean of daily rates.
            "totals": f"SELECT service, environment, sum(deploys) AS deploys, sum(failed_deploys) AS failed_deploys, "
            f"sum(failed_deploys) / sum(deploys) AS change_failure_rate FROM change_failure_rate "
            f"WHERE {f.where(board=None, day='day')} GROUP BY service, environment ORDER BY service, environment",
            "lead": "SELECT service, environment, sha, committed_at, deployed_at, lead_time_hours "
            f"FROM change_lead_time "
            f"WHERE {f.where(board=None, time='deployed_at')} ORDER BY deployed_at",
            "recovery": f"SELECT service, environment, failed_at, recovered_at, recovery_hours, failed_deploys "
            f"FROM recovery_time WHERE {f.where(board=None, time='failed_at')} ORDER BY failed_at",
        },
        f.params,
    )
    if data is None:
        return
    totals = data["totals"]
    if totals.empty:
        st.info(
            "No deploys in this range. Send v1 deploy events to the flow.deploys topic (e.g. `flowmeter "
            "produce deploys.jsonl`), or start `flowmeter up --demo` for demo traffic."
        )
        return
    deploys, failed = int(totals["deploys"].sum()), int(totals["failed_deploys"].sum())
    cols = st.columns(3)
    cols[0].metric("Deploys", f"{deploys:,}")
    cols[1].metric("Failed deploys", f"{failed:,}")
    cols[2].metric("Change failure rate", percent(failed / deploys))
    st.dataframe(
        totals,
        hide_index=True,
        width="stretch",
        column_config={"change_failure_rate": st.column_config.NumberColumn(format="percent")},
    )
    st.altair_chart(
        alt.Chart(data["freq"], title="Deploys per day")
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day (UTC)"),
            y=alt.Y("deploys:Q", title="Deploys"),
            color=alt.Color("target:N", title="Service · environment"),
            tooltip=[
                "service",
                "environment",
                alt.Tooltip("day:T", title="day (UTC)"),
                "deploys",
                "successful_deploys",
            ],
        ),
        width="stretch",
    )
    lead = data["lead"]
    if not lead.empty:
        st.altair_chart(
            alt.Chart(lead, title="Change lead time per commit")
            .mark_circle(size=60)
            .encode(
                x=alt.X("deployed_at:T", title="Deployed (UTC)"),
                y=alt.Y("lead_time_hours:Q", title="Lead time (hours)"),
                color=alt.Color("environment:N", title="Environment"),
                tooltip=[
                    "service",
                    "environment",
                    "sha",
                    alt.Tooltip("lead_time_hours:Q", format=".1f", title="hours"),
                ],
            ),
            width="stretch",
        )
    st.subheader("Failure episodes and recovery")
    recovery = data["recovery"]
    if recovery.empty:
        st.write("No failed deploys in this range.")
    else:
        st.dataframe(
            recovery,
            hide_index=True,
            width="stretch",
            column_config={"recovery_hours": st.column_config.NumberColumn("recovery (h)", format="%.1f")},
        )


delivery()

"""Delivery: the DORA keys with their bands (the same component as the Overview), then deploys,
failures, change lead time and recovery per service and environment in the date range. Selects
from the documented views only. Deploys have no board, team or ticket type: only the date range
and this page's Environments choice apply below the keys."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.dora import DORA_SQL, dora_keys
from dashboard.filters import URL, filters, refresh_every
from dashboard.reading import load
from dashboard.text import age_hours, percent, when

st.title("Delivery")
ENVIRONMENTS = {"production": "production only", "all": "all environments"}  # the choice (and URL value): words
# Colour is the service; the environment is a shade of it (production solid, the others paler),
# so no two series share a colour however many services and environments there are.
SHADE = alt.Opacity(
    "production:N", title="Environment", scale=alt.Scale(domain=["production", "other"], range=[1, 0.4])
)

SERVICE = alt.Color("service:N", title="Service", scale=alt.Scale(scheme="tableau10"))  # distinct hues


@st.fragment(run_every=refresh_every())
def delivery() -> None:
    f = filters()
    keys = st.container()  # the DORA keys go first on the page, drawn once the data is read
    st.subheader("In the date range")
    scope_choice = st.radio(
        "Environments",
        list(ENVIRONMENTS),
        key="environments",
        bind=URL,
        horizontal=True,
        help="Which deploys the figures below count. The DORA keys above are always production only.",
    )
    env = "is_production" if scope_choice == "production" else "TRUE"
    shade = "CASE WHEN is_production THEN 'production' ELSE 'other' END AS production"
    data = load(
        "delivery",
        {
            "dora": DORA_SQL,
            "freq": f"SELECT service, environment, {shade}, day, deploys, successful_deploys FROM deploy_frequency "
            f"WHERE {env} AND {f.where(board=None, day='day')} ORDER BY day",
            # Over a period the documented rate is sum(failed) / sum(deploys), never a mean of daily rates.
            "totals": f"SELECT service, environment, sum(deploys) AS deploys, sum(failed_deploys) AS failed_deploys, "
            f"sum(failed_deploys) / sum(deploys) AS deploy_failure_rate FROM change_failure_rate "
            f"WHERE {env} AND {f.where(board=None, day='day')} GROUP BY service, environment "
            f"ORDER BY service, environment",
            "lead": f"SELECT service, environment, {shade}, sha, committed_at, deployed_at, lead_time_hours "
            f"FROM change_lead_time WHERE {env} AND {f.where(board=None, time='deployed_at')} ORDER BY deployed_at",
            "recovery": "SELECT service, environment, failed_at, recovered_at, recovery_hours, failed_deploys "
            f"FROM recovery_time WHERE {env} AND {f.where(board=None, time='failed_at')} "
            "ORDER BY failed_at DESC, service, environment",
        },
        f.params,
    )
    if data is None:
        return
    with keys:
        dora_keys(data["dora"])

    scope = f"{ENVIRONMENTS[scope_choice].capitalize()}, deploys finished {f.start} – {f.end} (UTC)"
    st.caption(f"{scope}. Deploys carry no board, team or type: those filters do not apply here.")
    totals = data["totals"]
    if totals.empty:
        st.info(
            "No deploys in this range. Send v1 deploy events to the flow.deploys topic (e.g. `flowmeter "
            "produce deploys.jsonl`), or start `flowmeter up --demo` for demo traffic."
        )
        return
    deploys, failed = int(totals["deploys"].sum()), int(totals["failed_deploys"].sum())
    cols = st.columns(3)
    cols[0].metric("Deploys in range", f"{deploys:,}", help=scope + ", any status.")
    cols[1].metric("Failed in range", f"{failed:,}", help=scope + ": status failure or rolled_back.")
    cols[2].metric(
        "Deploy failure rate in range",
        percent(failed / deploys),
        help=f"Failed or rolled-back deploys / all deploys, by deploy status alone, over: {scope}. DORA's change "
        "failure rate (the keys above, and the Stability page) also counts deploys linked to an incident.",
    )
    st.dataframe(
        totals,
        hide_index=True,
        width="stretch",
        column_config={"deploy_failure_rate": st.column_config.NumberColumn(format="percent")},
    )
    days = alt.Axis(format="%b %d", labelAngle=0, tickCount="day")
    st.altair_chart(
        alt.Chart(data["freq"], title="Deploys per day")
        .mark_bar()
        .encode(
            x=alt.X("day:T", title="Day (UTC)", axis=days),
            y=alt.Y("sum(deploys):Q", title="Deploys"),
            color=SERVICE,
            opacity=SHADE,
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
            .mark_point(filled=True, size=50)
            .encode(
                x=alt.X("deployed_at:T", title="Deployed (UTC)", axis=days),
                y=alt.Y("lead_time_hours:Q", title="Lead time (hours)"),
                color=SERVICE,
                opacity=SHADE,
                tooltip=[
                    "service",
                    "environment",
                    "sha",
                    alt.Tooltip("deployed_at:T", title="deployed (UTC)", format="%Y-%m-%d %H:%M"),
                    alt.Tooltip("lead_time_hours:Q", format=".1f", title="hours"),
                ],
            ),
            width="stretch",
        )
    st.subheader("Failure episodes and recovery")
    st.caption("Newest first. An episode runs from a failed deploy to the next successful one of that service.")
    recovery = data["recovery"]
    if recovery.empty:
        st.write("No failed deploys in this range.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "service": recovery["service"],
                    "environment": recovery["environment"],
                    "failed": [when(t) for t in recovery["failed_at"]],
                    "recovered": [when(t) if not pd.isna(t) else "not yet" for t in recovery["recovered_at"]],
                    "recovery": [age_hours(h) for h in recovery["recovery_hours"]],
                    "failed_deploys": recovery["failed_deploys"],
                }
            ),
            hide_index=True,
            width="stretch",
        )


delivery()

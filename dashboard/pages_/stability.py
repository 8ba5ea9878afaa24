"""Stability: how often the system fails and how fast it is restored. The DORA keys for the chosen
service (or all of them), the incidents open now, time to restore and failure frequency over the
date range, which deploys caused incidents and how each link was made, and bug arrivals. Selects
from the documented views only (docs/metrics.md: incident_timeline, incident_summary,
failure_frequency, deploy_outcomes, bug_arrivals, dora_summary)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.colours import SEVERITY_COLOURS, SEVERITY_LEVELS
from dashboard.dora import dora_keys, dora_sql
from dashboard.filters import ALL, URL, chosen, filters, refresh_every
from dashboard.reading import load, run_all
from dashboard.text import age_hours, count, percent, when
from flowcore.errors import FlowmeterError

st.title("Stability")
st.caption(
    "Incidents come from your alerting and on-call tools (docs/sources.md); a deploy fails by its status or by an "
    "incident linked to it. Board, team and type apply to bug arrivals only; services have no board."
)

SEVERITY = alt.Color(
    "severity_level:N",
    title="Severity",
    scale=alt.Scale(domain=list(SEVERITY_LEVELS), range=list(SEVERITY_COLOURS)),
    sort=list(SEVERITY_LEVELS),
)
LEVEL_ORDER = "CASE severity_level WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"
LINKS = {
    "caused_by": "named by the incident (caused_by)",
    "window": "latest production deploy of the service within incident_link_window before it opened",
    "none": "no deploy linked",
}


def services() -> list[str]:
    """Every service that deployed or had an incident, for the page's Service choice."""
    try:
        frame = run_all(
            (("SELECT service FROM deploys UNION SELECT service FROM incidents ORDER BY service", None),),
            changes_slowly=True,
        )[0]
    except FlowmeterError:
        return []
    return [str(s) for s in frame["service"]]


@st.fragment(run_every=refresh_every())
def stability() -> None:
    f = filters()
    offered = [ALL, *services()]
    service = chosen("service", offered)
    keys = st.container()  # the DORA keys first, drawn once the data is read
    st.selectbox(
        "Service",
        offered,
        key="service",
        bind=URL,
        help="DORA advises judging one service at a time; All blends every service.",
    )
    one = service != ALL
    svc = "service = $service" if one else "TRUE"
    resolved_in_range = "resolved_at >= $start_at::TIMESTAMP AND resolved_at < $end_at::TIMESTAMP"
    opened_in_range = "opened_at >= $start_at::TIMESTAMP AND opened_at < $end_at::TIMESTAMP"
    data = load(
        "stability",
        {
            "dora": dora_sql(service if one else None),
            "open": "SELECT incident_id, service, environment, severity_level, severity, title, url, opened_at, "
            "acknowledged_at, epoch(fm_now() - opened_at) / 3600.0 AS open_hours, link, deploy_event_id "
            f"FROM incident_summary WHERE status = 'open' AND {svc} ORDER BY {LEVEL_ORDER}, opened_at",
            "restored": "SELECT count(*) AS incidents, quantile_cont(time_to_restore_hours, 0.5) AS median_hours, "
            "quantile_cont(time_to_restore_hours, 0.85) AS p85_hours, avg(time_to_restore_hours) AS mean_hours "
            f"FROM incident_timeline WHERE {resolved_in_range} AND {svc}",
            "opened": f"SELECT count(*) AS incidents FROM incident_timeline WHERE {opened_in_range} AND {svc}",
            # Over several services or weeks the percentiles are taken over the incidents again, never
            # averaged from time_to_restore's rows (docs/metrics.md, time_to_restore).
            "ttr": "SELECT date_trunc('week', resolved_at)::DATE AS week, severity_level, count(*) AS incidents, "
            "quantile_cont(time_to_restore_hours, 0.5) AS median_hours, "
            "quantile_cont(time_to_restore_hours, 0.85) AS p85_hours, avg(time_to_restore_hours) AS mean_hours "
            f"FROM incident_timeline WHERE {resolved_in_range} AND {svc} GROUP BY ALL ORDER BY week",
            "freq": "SELECT week, severity_level, sum(incidents)::BIGINT AS incidents FROM failure_frequency "
            f"WHERE week >= date_trunc('week', $start::DATE) AND week <= $end::DATE AND {svc} "
            "GROUP BY ALL ORDER BY week",
            "outcomes": "SELECT count(*) AS deploys, count(*) FILTER (WHERE change_failed) AS change_failed, "
            "count(*) FILTER (WHERE deploy_failed) AS deploy_failed, count(*) FILTER (WHERE rework) AS rework "
            f"FROM deploy_outcomes WHERE is_production AND {f.where(board=None, time='finished_at')} AND {svc}",
            "links": "SELECT incident_id, service, severity_level, title, opened_at, link, deploy_event_id, "
            "deploy_version, deployed_at FROM incident_summary "
            f"WHERE {opened_in_range} AND {svc} ORDER BY opened_at DESC LIMIT 200",
            "bugs": "SELECT week, board, sum(bugs)::BIGINT AS bugs FROM bug_arrivals "
            f"WHERE week >= date_trunc('week', $start::DATE) AND week <= $end::DATE AND "
            f"{f.where(team='team')} GROUP BY ALL ORDER BY week",
        },
        {**f.params, "service": service if one else None},
    )
    if data is None:
        return
    with keys:
        dora_keys(data["dora"], service if one else None)

    _open_now(data["open"])
    scope = f"{'Service ' + service if one else 'All services'}, {f.start} – {f.end} (UTC)"
    st.subheader("In the date range")
    restored, outcomes = data["restored"].iloc[0], data["outcomes"].iloc[0]
    deploys = int(outcomes["deploys"])
    cols = st.columns(5)
    cols[0].metric("Incidents opened", count(data["opened"]["incidents"].iloc[0]), help=scope + ".")
    cols[1].metric(
        "Time to restore, median",
        age_hours(restored["median_hours"]),
        help=f"{scope}: incidents resolved in the range, from first opened to final resolution; "
        f"{count(restored['incidents'])} incidents, p85 {age_hours(restored['p85_hours'])}.",
    )
    cols[2].metric(
        "Time to restore, mean (MTTR)",
        age_hours(restored["mean_hours"]),
        help="The arithmetic mean of the same incidents: the classic MTTR, which one long outage moves far more "
        "than the median.",
    )
    cols[3].metric(
        "Change failure rate",
        percent(outcomes["change_failed"] / deploys) if deploys else "—",
        help=f"{scope}: production deploys that failed, were rolled back or are linked to an incident / all "
        f"{deploys:,} production deploys. By status alone: "
        f"{percent(outcomes['deploy_failed'] / deploys) if deploys else '—'}.",
    )
    cols[4].metric(
        "Rework rate",
        percent(outcomes["rework"] / deploys) if deploys else "—",
        help=f"{scope}: production deploys made to fix a user-facing problem (`fixes` naming an incident, or "
        "only tickets of a rework type) / all production deploys.",
    )
    weeks = alt.Axis(format="%b %d", labelAngle=0, tickCount="week")
    left, right = st.columns(2)
    ttr = data["ttr"]
    with left:
        if ttr.empty:
            st.info("No incident was resolved in this range.")
        else:
            long = ttr.melt(
                id_vars=["week", "severity_level", "incidents"],
                value_vars=["median_hours", "p85_hours"],
                var_name="statistic",
                value_name="hours",
            )
            long["statistic"] = long["statistic"].map({"median_hours": "median", "p85_hours": "p85"})
            st.altair_chart(
                alt.Chart(long, title="Time to restore per week (hours)")
                .mark_line(point=True)
                .encode(
                    x=alt.X("week:T", title="Week resolved (Monday, UTC)", axis=weeks),
                    y=alt.Y("hours:Q", title="Hours"),
                    color=SEVERITY,
                    strokeDash=alt.StrokeDash("statistic:N", title="Statistic", sort=["median", "p85"]),
                    tooltip=[
                        alt.Tooltip("week:T", title="week"),
                        "severity_level",
                        "statistic",
                        alt.Tooltip("hours:Q", format=".1f"),
                        "incidents",
                    ],
                ),
                width="stretch",
            )
    freq = data["freq"]
    with right:
        if freq.empty:
            st.info("No incident opened in this range.")
        else:
            st.altair_chart(
                alt.Chart(freq, title="Incidents opened per week")
                .mark_bar()
                .encode(
                    x=alt.X("week:T", title="Week opened (Monday, UTC)", axis=weeks),
                    y=alt.Y("incidents:Q", title="Incidents"),
                    color=SEVERITY,
                    order=alt.Order("severity_level:N", sort="descending"),
                    tooltip=[alt.Tooltip("week:T", title="week"), "severity_level", "incidents"],
                ),
                width="stretch",
            )
    _links(data["links"])
    _bugs(data["bugs"])


def _open_now(open_: pd.DataFrame) -> None:
    st.subheader("Open now")
    if open_.empty:
        st.success("No incident is open.")
        return
    levels = open_["severity_level"].value_counts()
    st.caption(
        f"{len(open_):,} open: "
        + ", ".join(f"{levels.get(level, 0)} {level}" for level in SEVERITY_LEVELS if levels.get(level, 0))
        + ". Most severe first, then oldest."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "severity": open_["severity_level"],
                "incident": open_["incident_id"],
                "service": open_["service"],
                "title": open_["title"],
                "opened": [when(t) for t in open_["opened_at"]],
                "open for": [age_hours(h) for h in open_["open_hours"]],
                "acknowledged": [when(t) if not pd.isna(t) else "not yet" for t in open_["acknowledged_at"]],
                "linked deploy": [d if isinstance(d, str) else "none" for d in open_["deploy_event_id"]],
                "link": open_["url"],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={"link": st.column_config.LinkColumn("link", display_text="open")},
    )


def _links(links: pd.DataFrame) -> None:
    st.subheader("Which deploys caused incidents")
    st.caption(
        "Incidents opened in the range, newest first, each with the deploy it is linked to and how: "
        + "; ".join(f"**{k}**: {v}" for k, v in LINKS.items())
        + "."
    )
    if links.empty:
        st.write("No incidents opened in this range.")
        return
    made = links["link"].value_counts()
    st.caption(" · ".join(f"{made.get(k, 0):,} {k}" for k in LINKS))
    st.dataframe(
        pd.DataFrame(
            {
                "opened": [when(t) for t in links["opened_at"]],
                "incident": links["incident_id"],
                "service": links["service"],
                "severity": links["severity_level"],
                "title": links["title"],
                "link": links["link"],
                "deploy": [d if isinstance(d, str) else "—" for d in links["deploy_event_id"]],
                "version": [v if isinstance(v, str) else "—" for v in links["deploy_version"]],
                "deployed": [when(t) if not pd.isna(t) else "—" for t in links["deployed_at"]],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def _bugs(bugs: pd.DataFrame) -> None:
    st.subheader("Bug arrivals")
    st.caption(
        "Tickets of a bug type ([dora] bug_types) created per week. Board and team apply; a bug counts for the "
        "team that holds it now, whatever the sidebar's attribution."
    )
    if bugs.empty:
        st.write("No bugs created in this range.")
        return
    st.altair_chart(
        alt.Chart(bugs, title="Bugs created per week")
        .mark_bar()
        .encode(
            x=alt.X("week:T", title="Week created (Monday, UTC)", axis=alt.Axis(format="%b %d", labelAngle=0)),
            y=alt.Y("sum(bugs):Q", title="Bugs"),
            color=alt.Color("board:N", title="Board", scale=alt.Scale(scheme="tableau10")),
            tooltip=[alt.Tooltip("week:T", title="week"), "board", "bugs"],
        ),
        width="stretch",
    )


stability()

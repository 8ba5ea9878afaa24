"""DORA's five keys with their bands, drawn the same on every page that shows them (Overview,
Delivery, Stability): one query on dora_summary, one label and one definition per key, the scope
and the period next to the figures. docs/metrics.md (dora_summary) defines them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.text import age_hours, percent

_COLUMNS = "metric, value, unit, band, sample_size, window_days, days_covered"
# The blended row of each key (service '*'); dora_summary also has one per service.
DORA_SQL = f"SELECT {_COLUMNS} FROM dora_summary WHERE service = '*'"


def dora_sql(service: str | None) -> str:
    """The keys of one service (bound as $service), or the blended ones when None."""
    return DORA_SQL if service is None else f"SELECT {_COLUMNS} FROM dora_summary WHERE service = $service"


LABELS = {
    "deployment_frequency": "Deployment frequency",
    "change_lead_time": "Change lead time",
    "change_failure_rate": "Change failure rate",
    "failed_deployment_recovery_time": "Recovery time",
    "rework_rate": "Rework rate",
}
HELP = {
    "deployment_frequency": "Successful production deploys in the period, divided by the days the deploy data "
    "covers (from the first deploy to now, at most the period).",
    "change_lead_time": "Median hours from commit to its first successful production deploy, over the commits "
    "deployed in the period.",
    "change_failure_rate": "Production deploys that failed, were rolled back or are linked to an incident / all "
    "production deploys in the period.",
    "failed_deployment_recovery_time": "Median hours from a failed production deploy to the next successful one, "
    "or from a deploy that caused incidents to their resolution, over the failures restored in the period.",
    "rework_rate": "Production deploys made to fix a user-facing problem (`fixes` naming an incident, or only "
    "tickets of a rework type) / all production deploys in the period. DORA publishes no bands for it.",
}
SAMPLE = {
    "deployment_frequency": "deploys",
    "change_lead_time": "commits",
    "change_failure_rate": "deploys",
    "failed_deployment_recovery_time": "failures",
    "rework_rate": "deploys",
}


def value_text(metric: str, value: float | None) -> str:
    if value is None or pd.isna(value):
        return "no data"
    if metric in ("change_failure_rate", "rework_rate"):
        return percent(value)
    if metric == "deployment_frequency":  # short enough for five tiles in a row
        return f"{value:.1f}/day" if value >= 10 else f"{value:.2f}/day"
    return age_hours(value)


def scope(dora: pd.DataFrame, service: str | None = None) -> str:
    """The scope and period of the five figures, in one line."""
    window, covered = dora["window_days"].iloc[0], dora["days_covered"].iloc[0]
    period = f"the {window} days up to now"
    if covered < window:
        period += f"; the deploy data covers {covered:.1f} of them, so the frequency divides by {covered:.1f}"
    who = f"Service {service}" if service else "All services"
    return f"{who}, production environments only, {period}. The sidebar's filters and date range do not apply."


def dora_keys(dora: pd.DataFrame, service: str | None = None) -> None:
    """The five keys as metrics, each with its band (elite / high / medium / low) below it."""
    st.subheader("DORA keys")
    if dora.empty:  # a service with no deploys has no rows of its own
        st.caption(f"Service {service} has no deploys: the DORA keys need production deploys.")
        return
    st.caption(scope(dora, service))
    rows = dora.set_index("metric")
    for col, (metric, label) in zip(st.columns(len(LABELS)), LABELS.items()):
        row = rows.loc[metric]
        extra = ""
        if metric == "change_failure_rate" and "deploy_failure_rate" in rows.index:
            extra = f" By deploy status alone: {value_text(metric, rows.loc['deploy_failure_rate', 'value'])}."
        col.metric(
            label,
            value_text(metric, row["value"]),
            delta=row["band"] if isinstance(row["band"], str) else "no band",
            delta_color="off",
            help=f"{HELP[metric]} Over {int(row['sample_size']):,} {SAMPLE[metric]}.{extra}",
        )

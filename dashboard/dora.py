"""The four DORA keys with their bands, drawn the same on every page that shows them (Overview,
Delivery): one query on dora_summary, one label and one definition per key, the scope and the
period next to the figures. docs/metrics.md (dora_summary) defines them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.text import age_hours, percent

# The blended row of each key (service '*'); dora_summary also has one per service.
DORA_SQL = (
    "SELECT metric, value, unit, band, sample_size, window_days, days_covered FROM dora_summary WHERE service = '*'"
)
LABELS = {
    "deployment_frequency": "Deployment frequency",
    "change_lead_time": "Change lead time",
    "change_failure_rate": "Change failure rate",
    "failed_deployment_recovery_time": "Recovery time",
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
}
SAMPLE = {
    "deployment_frequency": "deploys",
    "change_lead_time": "commits",
    "change_failure_rate": "deploys",
    "failed_deployment_recovery_time": "failures",
}


def value_text(metric: str, value: float | None) -> str:
    if value is None or pd.isna(value):
        return "no data"
    if metric == "change_failure_rate":
        return percent(value)
    if metric == "deployment_frequency":
        return f"{value:.2f} /day"
    return age_hours(value)


def scope(dora: pd.DataFrame) -> str:
    """The scope and period of the four figures, in one line."""
    window, covered = dora["window_days"].iloc[0], dora["days_covered"].iloc[0]
    period = f"the {window} days up to now"
    if covered < window:
        period += f"; the deploy data covers {covered:.1f} of them, so the frequency divides by {covered:.1f}"
    return f"Production environments only, {period}. The filters and the date range do not apply."


def dora_keys(dora: pd.DataFrame) -> None:
    """The four keys as metrics, each with its band (elite / high / medium / low) below it."""
    st.subheader("DORA keys")
    st.caption(scope(dora))
    rows = dora.set_index("metric")
    for col, (metric, label) in zip(st.columns(4), LABELS.items()):
        row = rows.loc[metric]
        col.metric(
            label,
            value_text(metric, row["value"]),
            delta=row["band"] if isinstance(row["band"], str) else "no band",
            delta_color="off",
            help=f"{HELP[metric]} Over {int(row['sample_size']):,} {SAMPLE[metric]}.",
        )

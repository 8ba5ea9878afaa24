"""The alert policy of a settings object: routes from ``[alerts.*]``, knobs from the core
settings, checked against the WIP limits' route names when the worker starts."""

from __future__ import annotations

from pathlib import Path

from alerting.evaluate import AlertPolicy
from alerting.routes import check_limit_routes, parse_routes
from flowcore.settings import Settings, read_settings_file
from flowcore.workflow import Workflow


def load_policy(settings: Settings, workflow: Workflow) -> AlertPolicy:
    """Raises SettingsError (one sentence naming the key) for a bad route or an unknown route name."""
    path = Path(settings.settings) if settings.settings else None
    doc = read_settings_file(path) if path is not None and path.exists() else {}
    source = str(path) if path is not None else "settings"
    routes = parse_routes(doc, source, settings.alerts_topic)
    check_limit_routes(workflow, routes, source, tuple(settings.aging_routes))
    check_limit_routes(workflow, routes, source, tuple(settings.incident_routes), "incident_routes")
    return AlertPolicy(
        routes=routes,
        cooldown=settings.alert_cooldown,
        hysteresis=settings.alert_hysteresis,
        aging=settings.aging_alerts,
        aging_percentile=settings.aging_percentile,
        aging_history_days=settings.aging_history_days,
        aging_min_samples=settings.aging_min_samples,
        aging_routes=tuple(settings.aging_routes),
        incidents=settings.incident_alerts,
        restore_objectives=tuple(sorted(settings.restore_objectives.items())),
        incident_routes=tuple(settings.incident_routes),
        dashboard=settings.dashboard_link,
        source=f"flowmeter/{settings.group_id}",
    )

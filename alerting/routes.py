"""Alert routes: where notices go. Read from the settings file's ``[alerts.<name>]`` tables.

```toml
[alerts.payments-slack]
kind = "slack"          # slack | webhook | kafka | log
url = "https://hooks.slack.com/services/..."

[alerts.audit]
kind = "webhook"
url = "https://example.internal/flow-alerts"
secret = "..."          # optional: HMAC-SHA256 of the body in X-Flowmeter-Signature
timeout = 5             # optional: seconds one attempt may take

[alerts.stream]
kind = "kafka"
topic = "flow.alerts"   # optional: default <topic_prefix>alerts
```

The route ``log`` always exists (it writes the notice to the worker's log); limits that
name no routes use it. The first mistake raises SettingsError with one sentence naming
the file and the key, like the workflow mapping does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from flowcore.errors import SettingsError
from flowcore.workflow import Workflow

KINDS = ("slack", "webhook", "kafka", "log")
ROUTE_KEYS = ("kind", "url", "secret", "topic", "timeout")
LOG_ROUTE = "log"


@dataclass(frozen=True)
class Route:
    name: str
    kind: str  # one of KINDS
    url: str | None = None  # slack, webhook
    secret: str | None = None  # webhook: signs the body
    topic: str | None = None  # kafka
    timeout: float | None = None  # seconds per attempt; None = the alert_timeout setting

    def __repr__(self) -> str:  # never print a secret or a Slack URL (it is a credential)
        return f"Route({self.name!r}, {self.kind!r})"


def parse_routes(doc: dict[str, Any], source: str, alerts_topic: str) -> dict[str, Route]:
    """Every route of the settings document, plus the built-in ``log`` route."""
    routes = {LOG_ROUTE: Route(LOG_ROUTE, "log")}
    tables = doc.get("alerts", {})
    if not isinstance(tables, dict):
        raise SettingsError(f"{source}: alerts must be a table of routes like [alerts.team-slack].")
    for name, body in tables.items():
        where = f"alerts.{name}"
        if not isinstance(body, dict):
            raise SettingsError(
                f'{source}: {where} must be a table with a kind, like [alerts.{name}] kind = "webhook".'
            )
        unknown = [key for key in body if key not in ROUTE_KEYS]
        if unknown:
            raise SettingsError(f"{source}: {where} has unknown key '{unknown[0]}'; allowed: {', '.join(ROUTE_KEYS)}.")
        kind = body.get("kind")
        if kind not in KINDS:
            raise SettingsError(f"{source}: {where}.kind {kind!r} is not one of {', '.join(KINDS)}.")
        if name == LOG_ROUTE and kind != "log":
            raise SettingsError(f"{source}: {where} is the built-in log route; give your route another name.")
        url = _text(body, "url", where, source)
        if kind in ("slack", "webhook"):
            if url is None:
                raise SettingsError(f"{source}: {where}.url is missing; a {kind} route needs the URL to POST to.")
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise SettingsError(f"{source}: {where}.url is not an http(s) URL.")
        elif url is not None:
            raise SettingsError(f"{source}: {where}.url is not used by a {kind} route; remove it.")
        secret = _text(body, "secret", where, source)
        if secret is not None and kind != "webhook":
            raise SettingsError(f"{source}: {where}.secret is only used by webhook routes.")
        topic = _text(body, "topic", where, source)
        if topic is not None and kind != "kafka":
            raise SettingsError(f"{source}: {where}.topic is only used by kafka routes.")
        timeout = body.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 300
        ):
            raise SettingsError(f"{source}: {where}.timeout must be a number of seconds between 0 and 300.")
        routes[name] = Route(
            name,
            kind,
            url=url,
            secret=secret,
            topic=(topic or alerts_topic) if kind == "kafka" else None,
            timeout=float(timeout) if timeout is not None else None,
        )
    return routes


def check_limit_routes(
    workflow: Workflow,
    routes: dict[str, Route],
    source: str,
    extra: tuple[str, ...] = (),
    extra_where: str = "aging_routes",
) -> None:
    """Every route a WIP limit (or the aging alert) names must be defined."""
    for limit in workflow.wip_limits:
        for route in limit.routes:
            if route not in routes:
                raise SettingsError(
                    f"{source}: the WIP limit {limit.name!r} of board {limit.board} names route "
                    f"{route!r}, which is not defined; add [alerts.{route}] with a kind "
                    f"(known routes: {', '.join(sorted(routes))})."
                )
    for route in extra:
        if route not in routes:
            raise SettingsError(
                f"{source}: {extra_where} names route {route!r}, which is not defined; "
                f"add [alerts.{route}] (known routes: {', '.join(sorted(routes))})."
            )


def _text(body: dict[str, Any], key: str, where: str, source: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{source}: {where}.{key} must be a non-empty string.")
    return value

"""What an alert notice says: a CloudEvents 1.0 envelope (the Kafka topic and webhooks), a
Slack incoming-webhook message, and the one sentence the log and both of those carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

EVENT_TYPE = "dev.flowmeter.alert.{notice}"  # dev.flowmeter.alert.fired | .recovered


def event_id(alert_id: str, notice: str) -> str:
    """One id per notice, the same on every route: receivers deduplicate retries by it."""
    return f"{alert_id}-{notice}"


def cloud_event(alert: dict[str, Any], notice: str, now: datetime, source: str, dashboard: str) -> dict[str, Any]:
    """The notice as a structured-mode CloudEvent (JSON). Times are UTC, ISO-8601 with Z."""
    data = {
        "alert_id": alert["alert_id"],
        "notice": notice,
        "kind": alert["kind"],
        "level": alert["level"],
        "board": alert["board"],
        "limit_name": alert["limit_name"],
        "states": list(alert["states"]),
        "team": alert.get("team"),
        "person": alert.get("person"),
        "ticket_id": alert.get("ticket_id"),
        "value": alert["value"],
        "threshold": alert["threshold"],
        "wip_limit": alert.get("wip_limit"),
        "tickets": alert["tickets"],
        "started_at": _iso(alert["started_at"]),
        "resolved_at": _iso(alert.get("resolved_at")),
        "link": f"{dashboard}/alerts?alert={alert['alert_id']}",
    }
    if alert.get("incident") is not None:  # kind incident: what a person on call needs to find it
        incident = alert["incident"]
        data["incident"] = {
            **incident,
            "opened_at": _iso(incident.get("opened_at")),
            "resolved_at": _iso(incident.get("resolved_at")),
        }
    data["summary"] = summary(data)
    return {
        "specversion": "1.0",
        "id": event_id(alert["alert_id"], notice),
        "source": source,
        "type": EVENT_TYPE.format(notice=notice),
        "subject": f"{alert['board']}/{alert['limit_name']}",
        "time": _iso(now),
        "datacontenttype": "application/json",
        "data": data,
    }


def summary(data: dict[str, Any]) -> str:
    """One sentence a person reads in a log line or a chat message."""
    where = f"{data['limit_name']} on board {data['board']}"
    scope = " and ".join(f"{k} {data[k]}" for k in ("team", "person") if data.get(k))
    if scope:
        where += f" ({scope})"
    wip = int(data["value"]) if data["kind"] == "wip" else None
    if data["kind"] == "incident":
        incident = data.get("incident") or {}
        what = f"Incident {data['limit_name']} on {data['board']}" + (
            f" ({incident['title']})" if incident.get("title") else ""
        )
        hours, objective = data["value"] / 3600, data["threshold"] / 3600
        if data["notice"] == "recovered":
            return f"{what} is resolved, {hours:.1f} h after it opened (restore objective {objective:g} h)."
        return f"{what} has been open {hours:.1f} h, past the {data['level']} restore objective of {objective:g} h."
    if data["kind"] == "aging":
        days, limit_days = data["value"] / 86400, data["threshold"] / 86400
        if data["notice"] == "recovered":
            return f"{data['ticket_id']} is no longer aging in {data['limit_name']} on board {data['board']}."
        return (
            f"{data['ticket_id']} has been in {data['limit_name']} on board {data['board']} for {days:.1f} days, "
            f"past that state's aging percentile ({limit_days:.1f} days)."
        )
    if data["notice"] == "recovered":
        return (
            f"Back within the WIP limit: {where} holds {wip} tickets, limit {data['wip_limit']} "
            f"(since {data['started_at']})."
        )
    if data["level"] == "warning":
        return (
            f"WIP warning: {where} holds {wip} tickets, warning level {int(data['threshold'])}, "
            f"limit {data['wip_limit']}."
        )
    return f"WIP limit breached: {where} holds {wip} tickets, limit {data['wip_limit']}."


def slack_message(event: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible incoming-webhook body: the sentence, the oldest tickets, the link."""
    data = event["data"]
    lines = [f"*{data['summary']}*"]
    for ticket in data["tickets"][:10]:
        lines.append(
            f"• {ticket['ticket_id']} in {ticket['state']} for {ticket['age_hours']:.1f} h"
            + (f" ({ticket['assignee']})" if ticket.get("assignee") else "")
        )
    if len(data["tickets"]) > 10:
        lines.append(f"… and {len(data['tickets']) - 10} more")
    lines.append(f"<{data['link']}|Open in flowmeter>")
    text = "\n".join(lines)
    return {"text": data["summary"], "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"

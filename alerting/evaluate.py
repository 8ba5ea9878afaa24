"""Judge the alert rules against the store's current state and record what changed.

Runs on the store's writer connection inside one transaction (``Store.in_transaction``):
after every landed batch for the WIP limits, on a timer while a recovery's cooldown runs,
and every ``aging_interval`` for the aging rule. Judging is by state, not by event: WIP is
the count of tickets whose *current* state (by event time, so a late or out-of-order event
counts for the state it leaves the ticket in) is in the limit's states. A judgement that is
missed (a crash between the batch and this) is made by the next one, so alerting never holds
the stream up.

Each notice becomes one outbox row per route in ``alert_deliveries``, in the same transaction
as the episode change, for the dispatcher to deliver.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from alerting.episodes import Episode, resolve_gone, step
from alerting.notices import cloud_event, event_id
from alerting.routes import LOG_ROUTE, Route
from analytics.staging import staged

log = logging.getLogger(__name__)

MAX_TICKETS = 50  # tickets listed in one notice, oldest in the state first
MAX_NEW_AGING = 200  # aging episodes opened per check; the rest open on the next ones


@dataclass(frozen=True)
class AlertPolicy:
    routes: dict[str, Route]
    cooldown: float = 60.0
    hysteresis: int = 0
    aging: bool = True
    aging_percentile: float = 85.0
    aging_history_days: int = 90
    aging_min_samples: int = 10
    aging_routes: tuple[str, ...] = ()
    incidents: bool = True
    # (severity level, hours) pairs: an incident of that level open longer fires (docs/alerts.md)
    restore_objectives: tuple[tuple[str, float], ...] = (("critical", 1.0), ("high", 4.0), ("low", 24.0))
    incident_routes: tuple[str, ...] = ()
    dashboard: str = "http://127.0.0.1:8501"
    source: str = "flowmeter"


@dataclass(frozen=True)
class Rule:
    key: str  # stored as alerts.rule: the episode's identity across judgements and restarts
    scope: str  # what the rule watches (a limit, or one ticket's visit), whatever its level
    kind: str  # wip | aging | incident
    level: str  # breach | warning | aging; incident: the severity level
    board: str
    limit_name: str
    states: tuple[str, ...]
    team: str | None
    person: str | None
    ticket_id: str | None
    threshold: float
    wip_limit: int | None
    routes: tuple[str, ...]
    value: float
    broken: bool
    kept: bool
    ticket: dict[str, Any] | None = None  # aging: the ticket as a notice lists it (read with the rule)
    incident: dict[str, Any] | None = None  # incident: its title, url and times, as a notice tells them


@dataclass
class Evaluation:
    fired: int = 0
    recovered: int = 0
    deliveries: int = 0
    recovering: int = 0  # episodes whose cooldown is running: the caller should judge again soon


class AlertEvaluator:
    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy

    def evaluate(
        self, con: duckdb.DuckDBPyConnection, now: datetime, aging: bool = False, incidents: bool = False
    ) -> Evaluation:
        """Judge the WIP rules (and, when asked, the aging rule and the incidents' restore
        objectives) at `now` (naive UTC)."""
        result = Evaluation()
        writes = _Writes()
        open_episodes = _open_episodes(con)
        rules = self._wip_rules(con)
        kinds = {"wip"}
        if aging and self.policy.aging:
            rules += self._aging_rules(con, now, open_episodes)
            kinds.add("aging")
        if incidents and self.policy.incidents:
            rules += self._incident_rules(con, now, open_episodes)
            kinds.add("incident")
        breach_open = {
            r.scope for r in rules if r.level == "breach" and (r.broken or (r.key in open_episodes and not r.kept))
        }
        seen = set()
        for rule in rules:
            seen.add(rule.key)
            current = open_episodes.get(rule.key)
            alert_id = current[0] if current else None
            episode = current[1] if current else None
            # A warning says nothing while its limit is (or is about to be) in breach.
            notify = not (rule.level == "warning" and rule.scope in breach_open)
            # An aging ticket that moves on, or an incident resolved, is over at once: no flapping to damp.
            cooldown = self.policy.cooldown if rule.kind == "wip" else 0.0
            outcome = step(episode, rule.value, rule.broken, rule.kept, now, cooldown, notify)
            if outcome.episode is None:
                continue
            # The column's tickets: stored when an episode opens, listed in every notice.
            tickets = self._tickets(con, rule, now) if outcome.opened or outcome.notice else []
            if outcome.opened:
                alert_id = f"A{uuid.uuid4().hex[:15]}"
                writes.insert_alert(alert_id, rule, outcome.episode, tickets)
            else:
                # Not opened, yet an episode: it goes on from the stored one, whose id `current` holds.
                assert alert_id is not None
                if outcome.episode != episode:
                    writes.update_alert(alert_id, outcome.episode)
            if outcome.notice:
                result.fired += outcome.notice == "fired"
                result.recovered += outcome.notice == "recovered"
                alert = _alert_doc(alert_id, rule, outcome.episode, tickets)
                if rule.incident is not None:
                    alert["incident"] = rule.incident
                result.deliveries += self._enqueue(writes, alert, outcome.notice, rule.routes, now)
            result.recovering += outcome.episode.status == "recovering"
        for key, (alert_id, episode) in open_episodes.items():
            if key not in seen and key.split("|", 1)[0] in kinds:
                # The limit was removed, or the aging ticket moved on: resolved without a notice.
                writes.update_alert(alert_id, resolve_gone(episode, now))
        writes.flush(con)
        return result

    # ---- observations ----------------------------------------------------------
    def _wip_rules(self, con: duckdb.DuckDBPyConnection) -> list[Rule]:
        rows = con.execute("""
            SELECT l.board, l.name, l.states, l.wip_limit, l.warn_at, l.team, l.person, l.routes,
                   count(t.ticket_id) AS wip
            FROM wip_limits l
            LEFT JOIN tickets t ON t.board = l.board AND list_contains(l.states, t.state)
                 AND (l.team IS NULL OR t.team = l.team) AND (l.person IS NULL OR t.assignee = l.person)
            GROUP BY ALL
        """).fetchall()
        h = self.policy.hysteresis
        rules = []
        for board, name, states, limit, warn_at, team, person, routes, wip in rows:
            base = "|".join(["wip", board, name, team or "", person or ""])
            common = dict(
                kind="wip",
                board=board,
                limit_name=name,
                states=tuple(states),
                team=team,
                person=person,
                ticket_id=None,
                wip_limit=limit,
                routes=tuple(routes or ()),
                value=float(wip),
            )
            rules.append(
                Rule(
                    key=f"{base}|breach",
                    scope=base,
                    level="breach",
                    threshold=float(limit),
                    broken=wip > limit,
                    kept=wip <= limit - h,
                    **common,
                )
            )
            if warn_at is not None:
                rules.append(
                    Rule(
                        key=f"{base}|warning",
                        scope=base,
                        level="warning",
                        threshold=float(warn_at),
                        broken=wip >= warn_at,
                        kept=wip < warn_at - h,
                        **common,
                    )
                )
        return rules

    def _aging_rules(
        self, con: duckdb.DuckDBPyConnection, now: datetime, open_episodes: dict[str, tuple[str, Episode]]
    ) -> list[Rule]:
        p = self.policy
        rows = con.execute(
            """
            WITH history AS (
                SELECT board, state, quantile_cont(epoch(left_at - entered_at), $q) AS threshold
                FROM visits
                WHERE left_at IS NOT NULL AND category IN ('queue', 'active')
                  AND left_at >= $now - to_days($days)
                GROUP BY board, state HAVING count(*) >= $min
            )
            SELECT t.ticket_id, t.board, t.state, t.team, t.assignee, t.entered_state_at,
                   epoch($now - t.entered_state_at) AS seconds, h.threshold,
                   round(epoch($now - t.entered_state_at) / 3600.0, 1) AS age_hours
            FROM tickets t JOIN history h USING (board, state)
            WHERE t.category IN ('queue', 'active') AND epoch($now - t.entered_state_at) > h.threshold
            ORDER BY seconds DESC
        """,
            {"q": p.aging_percentile / 100, "now": now, "days": p.aging_history_days, "min": p.aging_min_samples},
        ).fetchall()
        rules, new = [], 0
        for ticket_id, board, state, team, assignee, entered, seconds, threshold, age_hours in rows:
            key = f"aging|{board}|{ticket_id}|{state}|{entered.isoformat()}"
            if key not in open_episodes:
                if new >= MAX_NEW_AGING:
                    continue
                new += 1
            rules.append(
                Rule(
                    key=key,
                    scope=key,
                    kind="aging",
                    level="aging",
                    board=board,
                    limit_name=state,
                    states=(state,),
                    team=team,
                    person=assignee,
                    ticket_id=ticket_id,
                    threshold=float(threshold),
                    wip_limit=None,
                    routes=p.aging_routes,
                    value=float(seconds),
                    broken=True,
                    kept=False,
                    ticket=_ticket_doc(ticket_id, state, assignee, team, entered, age_hours),
                )
            )
        return rules

    def _incident_rules(
        self, con: duckdb.DuckDBPyConnection, now: datetime, open_episodes: dict[str, tuple[str, Episode]]
    ) -> list[Rule]:
        """One rule per incident open past its severity level's restore objective, and per incident
        whose episode is still open (so its resolution, seen in incident_summary, recovers it).
        The incident's times are incident_summary's, the view the Stability page shows."""
        objectives = dict(self.policy.restore_objectives)
        watched = [key.split("|", 2)[2] for key in open_episodes if key.startswith("incident|")]
        rows = con.execute(
            """
            SELECT incident_id, service, environment, severity_level, title, url, opened_at, resolved_at,
                   epoch(coalesce(resolved_at, $now) - opened_at) AS seconds
            FROM incident_summary
            WHERE (resolved_at IS NULL AND list_contains($levels, severity_level)
                   AND epoch($now - opened_at) > $hours[list_position($levels, severity_level)] * 3600)
               OR list_contains($watched, incident_id)
            ORDER BY opened_at
        """,
            {"now": now, "levels": list(objectives), "hours": list(objectives.values()), "watched": watched},
        ).fetchall()
        rules = []
        for incident_id, service, environment, level, title, url, opened_at, resolved_at, seconds in rows:
            hours = objectives.get(level)
            threshold = (hours or 0.0) * 3600
            resolved = resolved_at is not None
            rules.append(
                Rule(
                    key=f"incident|{service}|{incident_id}",
                    scope=f"incident|{service}|{incident_id}",
                    kind="incident",
                    level=level or "unmapped",
                    board=service,
                    limit_name=incident_id,
                    states=(),
                    team=None,
                    person=None,
                    ticket_id=None,
                    threshold=threshold,
                    wip_limit=None,
                    routes=self.policy.incident_routes,
                    value=float(seconds),
                    broken=not resolved and hours is not None and seconds > threshold,
                    kept=resolved,
                    incident={
                        "incident_id": incident_id,
                        "service": service,
                        "environment": environment,
                        "title": title,
                        "url": url,
                        "opened_at": opened_at,
                        "resolved_at": resolved_at,
                    },
                )
            )
        return rules

    def _tickets(self, con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime) -> list[dict[str, Any]]:
        """The tickets a notice lists: those in the rule's column, oldest in their state first."""
        if rule.ticket is not None:  # aging: read with the rule, no query per ticket
            return [rule.ticket]
        if rule.kind == "incident":  # an incident names no tickets
            return []
        where = (
            "ticket_id = $ticket"
            if rule.ticket_id
            else (
                "board = $board AND list_contains($states, state) AND ($team IS NULL OR team = $team) "
                "AND ($person IS NULL OR assignee = $person)"
            )
        )
        params: dict[str, Any] = {"now": now, "limit": MAX_TICKETS}
        params.update(
            {"ticket": rule.ticket_id}
            if rule.ticket_id
            else {"board": rule.board, "states": list(rule.states), "team": rule.team, "person": rule.person}
        )
        rows = con.execute(
            f"""
            SELECT ticket_id, state, assignee, team, entered_state_at,
                   round(epoch($now - entered_state_at) / 3600.0, 1) AS age_hours
            FROM tickets WHERE {where} ORDER BY entered_state_at, ticket_id LIMIT $limit
        """,
            params,
        ).fetchall()
        return [_ticket_doc(*row) for row in rows]

    # ---- the outbox -----------------------------------------------------------
    def _enqueue(
        self, writes: _Writes, alert: dict[str, Any], notice: str, routes: tuple[str, ...], now: datetime
    ) -> int:
        alert_id = alert["alert_id"]
        payload = json.dumps(cloud_event(alert, notice, now, self.policy.source, self.policy.dashboard))
        names = routes or (LOG_ROUTE,)
        for name in names:
            route = self.policy.routes.get(name)
            if route is None:  # checked when the worker starts; a stale limit row falls back to the log
                log.warning("alert route %r is not defined; logging the notice instead", name)
                route = self.policy.routes[LOG_ROUTE]
            # Stored under the name asked for, even when the log route stands in for it.
            writes.enqueue(f"{event_id(alert_id, notice)}:{name}", alert_id, notice, name, route.kind, payload, now)
        return len(names)


def _alert_doc(alert_id: str, rule: Rule, episode: Episode, tickets: list[dict[str, Any]]) -> dict[str, Any]:
    """What a notice says about its alert (the fields of an `alerts` row that it carries)."""
    return {
        "alert_id": alert_id,
        "kind": rule.kind,
        "level": rule.level,
        "board": rule.board,
        "limit_name": rule.limit_name,
        "states": rule.states,
        "team": rule.team,
        "person": rule.person,
        "ticket_id": rule.ticket_id,
        "value": episode.value,
        "threshold": rule.threshold,
        "wip_limit": rule.wip_limit,
        "tickets": tickets,
        "started_at": episode.started_at,
        "resolved_at": episode.resolved_at,
    }


def _open_episodes(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, Episode]]:
    rows = con.execute("""SELECT rule, alert_id, status, started_at, value, peak_value, notified, recovering_since
                          FROM alerts WHERE status <> 'resolved'""").fetchall()
    return {
        rule: (alert_id, Episode(status, started, value, peak, notified, recovering))
        for rule, alert_id, status, started, value, peak, notified, recovering in rows
    }


def _ticket_doc(
    ticket_id: str, state: str, assignee: str | None, team: str | None, entered: datetime, age_hours: float
) -> dict[str, Any]:
    return {
        "ticket_id": ticket_id,
        "state": state,
        "assignee": assignee,
        "team": team,
        "entered_state_at": entered.isoformat(timespec="seconds") + "Z",
        "age_hours": age_hours,
    }


# Rows go in by column name (BY NAME, SET): the table's column order does not matter, and the
# types are the store's own (analytics/sql/tables.sql), taken from the table by `staged`.
_INSERT_ALERTS = "INSERT INTO alerts BY NAME SELECT * FROM new_alerts"
_UPDATE_ALERTS = """
    UPDATE alerts SET status = u.status, value = u.value, peak_value = u.peak_value,
                      recovering_since = u.recovering_since, resolved_at = u.resolved_at
    FROM changed_alerts u WHERE alerts.alert_id = u.alert_id"""
_INSERT_DELIVERIES = """
    INSERT INTO alert_deliveries BY NAME
    SELECT *, 'pending' AS status, 0 AS attempts, created_at AS next_attempt_at, 0 AS resends, false AS in_doubt
    FROM new_deliveries ON CONFLICT DO NOTHING"""


class _Writes:
    """One judgement's changes, written in three statements at its end: a statement per
    episode made a first aging check on a big board (200 new episodes, each with its outbox
    row, and an update for every open one) hold the writer, and so the landing, for seconds.
    Each row maps column names to values."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []

    def insert_alert(self, alert_id: str, rule: Rule, episode: Episode, tickets: list[dict[str, Any]]) -> None:
        self.alerts.append(
            {
                "alert_id": alert_id,
                "rule": rule.key,
                "kind": rule.kind,
                "level": rule.level,
                "board": rule.board,
                "limit_name": rule.limit_name,
                "states": list(rule.states),
                "team": rule.team,
                "person": rule.person,
                "ticket_id": rule.ticket_id,
                "threshold": rule.threshold,
                "wip_limit": rule.wip_limit,
                "value": episode.value,
                "peak_value": episode.peak_value,
                "tickets": json.dumps(tickets),
                "status": episode.status,
                "started_at": episode.started_at,
                "recovering_since": episode.recovering_since,
                "resolved_at": episode.resolved_at,
                "notified": episode.notified,
            }
        )

    def update_alert(self, alert_id: str, episode: Episode) -> None:
        self.updates.append(
            {
                "alert_id": alert_id,
                "status": episode.status,
                "value": episode.value,
                "peak_value": episode.peak_value,
                "recovering_since": episode.recovering_since,
                "resolved_at": episode.resolved_at,
            }
        )

    def enqueue(
        self, delivery_id: str, alert_id: str, notice: str, route: str, route_kind: str, payload: str, now: datetime
    ) -> None:
        """One outbox row: pending, due now, no attempt yet (the statement fills those in)."""
        self.deliveries.append(
            {
                "delivery_id": delivery_id,
                "alert_id": alert_id,
                "notice": notice,
                "route": route,
                "route_kind": route_kind,
                "payload": payload,
                "created_at": now,
            }
        )

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        for sql, name, table, rows in (
            (_INSERT_ALERTS, "new_alerts", "alerts", self.alerts),
            (_UPDATE_ALERTS, "changed_alerts", "alerts", self.updates),
            (_INSERT_DELIVERIES, "new_deliveries", "alert_deliveries", self.deliveries),
        ):
            if rows:
                with staged(con, name, table, rows):
                    con.execute(sql)

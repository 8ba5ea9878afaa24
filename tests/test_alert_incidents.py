"""Incident alerts (issue 16, item 6) on a real DuckDB store: an incident open longer than its
severity level's restore objective fires once through the incident routes, and its resolution
sends one recovery notice. Objectives here: critical 1 h, high 4 h (low left out: no alert).
Severity names map to levels by the [dora] severity_levels defaults (docs/metrics.md):
'P1' is critical, 'P2' high, 'P4' low."""

from __future__ import annotations

import json
from datetime import timedelta

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from tests.helpers.alerts import T0, make

_offset = iter(range(1_000_000))
OBJECTIVES = (("critical", 1.0), ("high", 4.0))


def incident(incident_id: str, status: str, minutes: float, severity: str = "P1", **more) -> dict:
    return {
        "event_id": f"{incident_id}-{status}-{minutes}",
        "incident_id": incident_id,
        "service": "api",
        "status": status,
        "at": (T0 + timedelta(minutes=minutes)).isoformat() + "Z",
        "severity": severity,
        "environment": "production",
        **more,
    }


def land(store: Store, *events: dict) -> None:
    envelopes = [Envelope("i", 0, next(_offset), "incident", json.dumps(e).encode()) for e in events]
    store.commit(prepare(envelopes))


def judge(store, evaluator, minutes: float):
    return store.in_transaction(evaluator.evaluate, T0 + timedelta(minutes=minutes), False, True)


def alerts(store: Store) -> list[dict]:
    cols, rows = store.read("SELECT * FROM alerts ORDER BY started_at")
    return [dict(zip(cols, r)) for r in rows]


def notices(store: Store) -> list[tuple[str, str, str]]:
    rows = store.read("SELECT notice, route, payload FROM alert_deliveries ORDER BY created_at, notice")[1]
    return [(notice, route, json.loads(payload)["data"]["summary"]) for notice, route, payload in rows]


def test_a_critical_incident_past_its_objective_fires_once_and_recovers_when_resolved(tmp_path):
    store, evaluator = make(tmp_path, restore_objectives=OBJECTIVES, incident_routes=("hook",))
    land(store, incident("PD-1", "opened", 0, title="checkout 5xx"))
    assert judge(store, evaluator, 59).fired == 0  # 59 min < 1 h
    assert judge(store, evaluator, 61).fired == 1  # 61 min > 1 h
    assert judge(store, evaluator, 90).fired == 0  # still open: the same episode, no new notice
    [alert] = alerts(store)
    # value: seconds open at the last judgement, 90 min = 5,400 s; threshold 1 h = 3,600 s.
    assert (alert["kind"], alert["level"], alert["board"], alert["limit_name"]) == (
        "incident",
        "critical",
        "api",
        "PD-1",
    )
    assert (alert["value"], alert["threshold"], alert["status"]) == (5400, 3600, "open")
    land(store, incident("PD-1", "acknowledged", 70), incident("PD-1", "resolved", 100))
    assert judge(store, evaluator, 101).recovered == 1
    [alert] = alerts(store)
    assert alert["status"] == "resolved"
    assert notices(store) == [
        (
            "fired",
            "hook",
            "Incident PD-1 on api (checkout 5xx) has been open 1.0 h, past the critical restore objective of 1 h.",
        ),
        (
            "recovered",
            "hook",
            "Incident PD-1 on api (checkout 5xx) is resolved, 1.7 h after it opened (restore objective 1 h).",
        ),
    ]


def test_each_level_has_its_own_objective_and_a_level_without_one_never_fires(tmp_path):
    store, evaluator = make(tmp_path, restore_objectives=OBJECTIVES)
    land(store, incident("H-1", "opened", 0, severity="P2"), incident("L-1", "opened", 0, severity="P4"))
    assert judge(store, evaluator, 239).fired == 0  # high: 239 min < 4 h
    assert judge(store, evaluator, 241).fired == 1  # high: 241 min > 4 h; low has no objective
    assert [a["limit_name"] for a in alerts(store)] == ["H-1"]


def test_an_incident_resolved_before_its_objective_never_fires(tmp_path):
    store, evaluator = make(tmp_path, restore_objectives=OBJECTIVES)
    land(store, incident("PD-2", "opened", 0), incident("PD-2", "resolved", 30))
    assert judge(store, evaluator, 120).fired == 0 and alerts(store) == []


def test_incident_alerts_can_be_switched_off(tmp_path):
    store, evaluator = make(tmp_path, restore_objectives=OBJECTIVES, incidents=False)
    land(store, incident("PD-3", "opened", 0))
    assert judge(store, evaluator, 600).fired == 0 and alerts(store) == []

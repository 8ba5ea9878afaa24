"""The demo's incidents: a believable pace and mix, a consistent life for each, deploys that cause
and fix them, and the Alertmanager ones delivered as notifications the receiver's adapter maps.

Fixed seed and start time, fake clock: deterministic, no sleeps (the delivery tests use a local
HTTP server on loopback in place of the receiver).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from flowcore.events import Deploy, Incident, parse_deploy, parse_incident
from sources.adapters import alertmanager
from sources.demo import HOUR, DemoFeed, run_demo
from sources.demo_delivery import ATTEMPTS, DemoDelivery
from sources.demo_incidents import ALERTMANAGER_SERVICES
from tests.helpers.hook import AlertHook

END = datetime(2025, 1, 15, 10, 0, tzinfo=UTC).timestamp()
NOW = datetime(2025, 1, 15, 10, 0)  # END as the parser's naive UTC "now"
WEEKS = 2


def incidents_of(kind: str, event: dict, now: datetime = NOW) -> list[Incident]:
    """The incident events of one demo event, as the worker reads them: a v1 incident as is, an
    Alertmanager notification as the receiver's adapter maps it."""
    if kind == "incident":
        return [parse_incident(json.dumps(event).encode(), now)]
    if kind == "alertmanager":
        mapped = alertmanager.from_webhook(event)
        assert all(result[0] == "incident" for result in mapped), mapped  # no alert is Unmappable
        return [parse_incident(json.dumps(result[1]).encode(), now) for result in mapped]
    return []


@pytest.fixture(scope="module")
def history() -> list[tuple[str, dict]]:
    return list(DemoFeed(seed=7, end=END, history_days=WEEKS * 7).history())


@pytest.fixture(scope="module")
def events(history) -> list[Incident]:
    return [incident for kind, event in history for incident in incidents_of(kind, event)]


@pytest.fixture(scope="module")
def by_incident(events) -> dict[str, list[Incident]]:
    grouped: dict[str, list[Incident]] = defaultdict(list)
    for event in events:
        grouped[event.incident_id].append(event)
    return grouped


@pytest.fixture(scope="module")
def production(history) -> list[Deploy]:
    deploys = [parse_deploy(json.dumps(e).encode(), NOW) for kind, e in history if kind == "deploy"]
    return [d for d in deploys if d.environment == "production"]


def test_incidents_come_at_a_few_a_week_per_service(by_incident):
    # Per service and week: ~17 production deploys (2.4 a day), ~12% failed, 45% of those page:
    # ~0.9; ~15 successes * 4% defects: ~0.6; 1.0 with no deploy to blame. About 2.5 in all.
    per_service: dict[str, int] = defaultdict(int)
    for events in by_incident.values():
        per_service[events[0].service] += 1
    assert len(per_service) == 6
    assert all(1 <= count <= 12 for count in per_service.values()), per_service  # 0.5..6 a week
    assert 1.5 <= sum(per_service.values()) / (6 * WEEKS) <= 4.5, per_service


def test_every_incident_lives_a_consistent_life(by_incident):
    for incident, events in by_incident.items():
        assert [e.at for e in events] == sorted(e.at for e in events), incident
        assert events[0].status == "opened", incident
        open_ = False
        for event in events:
            if event.status == "opened":
                assert not open_, incident  # opens again only after it was resolved
                open_ = True
            else:
                assert open_, incident  # acknowledged or resolved only while open
                open_ = event.status != "resolved"
        # Resolved in the end, unless opened in the last two days (P4s take ~16 h on average).
        assert not open_ or events[-1].at > NOW - timedelta(days=2), incident
        assert {e.environment for e in events} == {"production"}


def test_severities_mix_and_critical_ones_are_restored_faster(by_incident):
    assert {e.severity for events in by_incident.values() for e in events} <= {"P1", "P2", "P3", "P4"}
    restore: dict[bool, list[float]] = defaultdict(list)
    for events in by_incident.values():
        resolved = [e.at for e in events if e.status == "resolved"]
        if resolved:
            urgent = events[0].severity in ("P1", "P2")
            restore[urgent].append((resolved[0] - events[0].at).total_seconds() / HOUR)
    assert len({events[0].severity for events in by_incident.values()}) >= 3
    # Means: P1/P2 ~0.75-2 h (or the recovery deploy, 15 min-4 h); P3/P4 ~6-16 h.
    mean = {urgent: sum(hours) / len(hours) for urgent, hours in restore.items()}
    assert mean[True] < mean[False], mean


def test_acknowledged_minutes_after_opening_and_some_reopened(by_incident):
    acks = [
        (e.at - events[0].at).total_seconds() / 60
        for events in by_incident.values()
        for e in events[:2]
        if e.status == "acknowledged"
    ]
    assert len(acks) >= 5 and sorted(acks)[len(acks) // 2] < 60  # median: minutes
    reopened = [i for i, events in by_incident.items() if sum(e.status == "opened" for e in events) > 1]
    assert reopened, "no incident was resolved, then opened again"


def test_deploys_cause_some_incidents_and_others_have_no_deploy_to_blame(by_incident, production):
    deploy_ids = {d.event_id: d for d in production}
    caused = named = 0
    for incident, events in by_incident.items():
        opened = events[0]
        version = re.search(r"\d+\.\d+\.\d+", opened.title or "")
        if version is None:  # capacity or a third party: "Disk nearly full", "DNS provider outage"
            assert opened.caused_by is None, incident
            continue
        caused += 1
        # The deploy named in the title went to production (same service) before the incident.
        culprits = [d for d in production if d.service == opened.service and d.version == version.group()]
        assert any(d.at <= opened.at for d in culprits), incident
        if opened.caused_by is not None:
            named += 1
            culprit = deploy_ids[opened.caused_by]  # an event_id of a real production deploy
            assert culprit.service == opened.service and culprit.at <= opened.at, incident
            assert culprit.version == version.group(), incident
    # ~1.5 of ~2.5 a week per service are caused by a deploy; 60% of those (but no Alertmanager
    # alert, ~a third) name it in caused_by, the rest are for the link window to find.
    assert 0.35 <= caused / len(by_incident) <= 0.85, (caused, len(by_incident))
    assert 0 < named < caused


def test_fix_deploys_name_real_incidents_and_restore_them(by_incident, production):
    fixes = [d for d in production if d.fixes]
    assert len(fixes) >= 3
    for deploy in fixes:
        assert deploy.status == "success"
        for incident in deploy.fixes:
            events = by_incident[incident]  # KeyError: the deploy fixes an incident that never was
            assert events[0].service == deploy.service and events[0].at < deploy.at
            # Resolved within FIX_TAKES_EFFECT (15 min) after the fix, if history lasted that long.
            after = [e for e in events if e.status == "resolved" and e.at >= deploy.at]
            assert after or deploy.at > NOW - timedelta(minutes=15), incident
            assert not after or after[0].at - deploy.at <= timedelta(minutes=15)
    assert any(incident.startswith("alertmanager:") for d in fixes for incident in d.fixes)


def test_alertmanager_services_arrive_as_notifications_the_adapter_maps_back(history, by_incident):
    notifications = [event for kind, event in history if kind == "alertmanager"]
    assert len(notifications) >= 4
    for body in notifications:
        assert body["version"] == "4" and len(body["alerts"]) == 1
        alert = body["alerts"][0]
        assert alert["status"] == body["status"] and {"service", "env", "severity"} <= set(alert["labels"])
        assert alert["labels"]["service"] in ALERTMANAGER_SERVICES
        assert (alert["endsAt"] == "0001-01-01T00:00:00Z") == (alert["status"] == "firing")
        assert alert["startsAt"] <= "2025-01-15T10:00:00.000Z" and alert["endsAt"] <= "2025-01-15T10:00:00.000Z"
    for incident, events in by_incident.items():
        from_alertmanager = events[0].service in ALERTMANAGER_SERVICES
        assert {e.source for e in events} == {"alertmanager" if from_alertmanager else "demo"}, incident
        assert incident.startswith("alertmanager:") == from_alertmanager
        if from_alertmanager:  # what Alertmanager cannot say: who acknowledged, which deploy
            assert all(e.status != "acknowledged" and e.caused_by is None for e in events)


def test_incidents_carry_on_live_and_are_never_ahead_of_the_clock():
    clock = [END]
    sent: list[tuple[float, str, dict]] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def send(kind: str, event: dict) -> None:
        sent.append((clock[0], kind, event))

    # 1 day of history, then 6,000 live events (~13 days of the team at ~440 a day) at 3,600x.
    run_demo(send, speed=3_600, history_days=1, seed=7, clock=lambda: clock[0], sleep=sleep, max_events=6_000)
    live_from = next(i for i, (wall, _, _) in enumerate(sent) if wall > END)
    live = [
        (wall, incident)
        for wall, kind, event in sent[live_from:]
        for incident in incidents_of(kind, event, now=datetime.fromtimestamp(wall, UTC).replace(tzinfo=None))
    ]
    assert len({i.incident_id for _, i in live}) >= 10
    for wall, incident in live:
        assert incident.at <= datetime.fromtimestamp(wall, UTC).replace(tzinfo=None)


def test_same_seed_gives_the_same_incidents(history):
    again = DemoFeed(seed=7, end=END, history_days=WEEKS * 7).history()
    assert [e for e in again if e[0] in ("incident", "alertmanager")] == [
        e for e in history if e[0] in ("incident", "alertmanager")
    ]


# -- delivery: to the receiver, or as v1 without one ------------------------------------------


def notification(history) -> dict:
    return next(event for kind, event in history if kind == "alertmanager")


def test_without_a_receiver_alerts_go_out_as_the_v1_events_the_receiver_would_make(history):
    produced: list[tuple[str, dict]] = []
    delivery = DemoDelivery(lambda kind, event: produced.append((kind, event)))
    body = notification(history)
    delivery("transition", {"ticket_id": "PAY-1"})
    delivery("alertmanager", body)
    assert produced == [("transition", {"ticket_id": "PAY-1"})] + alertmanager.from_webhook(body)
    assert produced[1][1]["source"] == "alertmanager"


def test_alerts_are_posted_with_the_token_and_retried_while_the_receiver_is_unavailable(history):
    naps: list[float] = []
    body = notification(history)
    with AlertHook(statuses=[503, 503]) as receiver:
        delivery = DemoDelivery(lambda kind, event: None, receiver.url, "s3cret", sleep=naps.append)
        delivery("alertmanager", body)
    assert [r.status for r in receiver.received] == [503, 503, 200]
    assert naps == [0.5, 1.0]  # doubling pauses between attempts
    accepted = receiver.answered("/webhooks/alertmanager")[0]
    assert accepted.headers["Authorization"] == "Bearer s3cret"
    assert accepted.json == body  # the receiver maps exactly what the history test mapped
    assert (delivery.posted, delivery.failed) == (1, 0)


def test_a_receiver_that_stays_away_or_refuses_never_stops_the_demo(history):
    naps: list[float] = []
    with AlertHook(statuses=[401]) as refusing:
        delivery = DemoDelivery(lambda kind, event: None, refusing.url, None, sleep=naps.append)
        delivery("alertmanager", notification(history))
        assert len(refusing.received) == 1 and naps == []  # a 4xx is not retried
    gone = DemoDelivery(lambda kind, event: None, refusing.url, None, sleep=naps.append)  # closed now
    gone("alertmanager", notification(history))
    assert (delivery.failed, gone.failed) == (1, 1)
    assert naps == [0.5, 1.0, 2.0][: ATTEMPTS - 1]

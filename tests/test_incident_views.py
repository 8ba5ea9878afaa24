"""The stability views (incidents, their links to deploys, restore times, failure frequency, bug
arrivals, deploy outcomes, recovery, and dora_summary's five keys) on a real store: events land
through prepare + Store.commit, fm_now() is pinned, every expected value is worked out by hand.

One fixture story (api and web services, March 2025, all times UTC unless an offset is shown):

  deploys (production unless noted)      incidents (I = incident_id)
  D1  api v1 success  03-10 08:00         I1 api P1     opened 03-11 10:00, ack 10:15, resolved 12:30
  D2  api v2 success  03-10 20:00  S-1    I2 web SEV2   opened 03-12 00:00, resolved 03:00 (no environment)
  W1  web    success  03-10 23:00         I3 api high   caused_by v1, opened 03-14 08:00, resolved 09:30
  D3  api v3 success  03-11 06:00  BUG-1  I4 api (none) caused_by D2, opened 03-20 00:00, ack 01:00, open
  Dst api    success  03-11 09:00 staging I5 api Critical: reopened, out of order, offsets, duplicates
  Dfail api  failure  03-11 09:30         I6 web warning opened 03-21 10:00, resolved 10:20, ack 10:40
  D4  api v4 success  03-14 07:00         I7 api weird  staging, opened 03-11 11:00, resolved 12:00
  D5  api v5 success  03-15 06:00  H-1    I8 api p1     PRODUCTION, opened 03-12 20:00, resolved 20:30
  F1  api v6 success  03-15 12:30  fixes ["I5"]
Tickets: BUG-1 Bug, H-1 Hotfix, S-1 story (rework_types default: bug, defect, hotfix).
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime
from typing import Any

import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.stability import Stability
from flowcore.workflow import Workflow
from tests.helpers.store import pin_now, writer_rows

NOW = datetime(2025, 3, 31, 12, 0)  # dora_summary's window: (03-01 12:00, 03-31 12:00]
_offsets = itertools.count()
SOURCES = {"deploy": "flow.deploys", "transition": "flow.transitions", "incident": "flow.incidents"}


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "stability.duckdb") as s:
        pin_now(s, NOW)
        yield s


def land(store: Store, kind: str, *events: dict[str, Any], landed: int | None = None) -> None:
    batch = prepare([Envelope(SOURCES[kind], 0, next(_offsets), kind, json.dumps(e).encode()) for e in events])
    assert not batch.rejects, [r.reason for r in batch.rejects]
    assert store.commit(batch).landed == (len(events) if landed is None else landed)


def deploy(eid: str, status: str, at: str, service: str = "api", environment: str = "production", **more: Any) -> dict:
    return {"event_id": eid, "service": service, "environment": environment, "status": status, "at": at, **more}


def inc(eid: str, incident: str, status: str, at: str, service: str = "api", **more: Any) -> dict:
    return {"event_id": eid, "incident_id": incident, "service": service, "status": status, "at": at, **more}


def ticket(eid: str, ticket_id: str, ticket_type: str, at: str, board: str = "payments", team: str | None = "alpha"):
    event = {"event_id": eid, "ticket_id": ticket_id, "board": board, "to_state": "Backlog", "at": at}
    return {**event, "ticket_type": ticket_type, **({"team": team} if team else {})}


def rows(store: Store, sql: str) -> list[tuple]:
    return writer_rows(store, sql)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


DEPLOYS = [
    deploy("D1", "success", "2025-03-10T08:00:00Z", version="v1"),
    deploy("D2", "success", "2025-03-10T20:00:00Z", version="v2", tickets=["S-1"]),
    deploy("W1", "success", "2025-03-10T23:00:00Z", service="web"),
    deploy("D3", "success", "2025-03-11T08:00:00+02:00", version="v3", tickets=["BUG-1"]),  # 06:00Z
    deploy("Dst", "success", "2025-03-11T09:00:00Z", environment="staging", version="v3"),
    deploy("Dfail", "failure", "2025-03-11T09:30:00Z", version="v3b"),
    deploy("D4", "success", "2025-03-14T07:00:00Z", version="v4"),
    deploy("D5", "success", "2025-03-15T06:00:00Z", version="v5", tickets=["H-1"]),
    deploy("F1", "success", "2025-03-15T12:30:00Z", version="v6", fixes=["I5"]),
]
# I5's events: e1 08:00Z, e1b a re-sent opening with a new id (same instant), e2 ack 08:30Z,
# e3 resolved 09:00Z, e4 reopened 11:00Z, e5 resolved 13:00Z; landed out of order below.
I5 = {
    "e1": inc("e1", "I5", "opened", "2025-03-15T10:00:00+02:00", severity="Critical", environment="Production"),
    "e1b": inc("e1b", "I5", "opened", "2025-03-15T08:00:00Z"),
    "e2": inc("e2", "I5", "acknowledged", "2025-03-15T08:30:00Z"),
    "e3": inc("e3", "I5", "resolved", "2025-03-15T05:00:00-04:00"),
    "e4": inc("e4", "I5", "opened", "2025-03-15T11:00:00Z"),
    "e5": inc("e5", "I5", "resolved", "2025-03-15T14:00:00+01:00"),
}
INCIDENTS = [
    inc("i1o", "I1", "opened", "2025-03-11T10:00:00Z", severity="P1", environment="production", title="5xx"),
    inc("i1a", "I1", "acknowledged", "2025-03-11T10:15:00Z"),
    inc("i1r", "I1", "resolved", "2025-03-11T12:30:00Z", url="https://pd.example/I1"),
    inc("i2o", "I2", "opened", "2025-03-12T00:00:00Z", service="web", severity="SEV2"),
    inc("i2r", "I2", "resolved", "2025-03-12T03:00:00Z", service="web"),
    inc("i3o", "I3", "opened", "2025-03-14T08:00:00Z", severity="high", environment="production", caused_by="v1"),
    inc("i3r", "I3", "resolved", "2025-03-14T09:30:00Z"),
    inc("i4o", "I4", "opened", "2025-03-20T00:00:00Z", caused_by="D2"),
    inc("i4a", "I4", "acknowledged", "2025-03-20T01:00:00Z"),
    inc("i6o", "I6", "opened", "2025-03-21T10:00:00Z", service="web", severity="warning", environment="production"),
    inc("i6r", "I6", "resolved", "2025-03-21T10:20:00Z", service="web"),
    inc("i6a", "I6", "acknowledged", "2025-03-21T10:40:00Z", service="web"),  # after the resolution
    inc("i7o", "I7", "opened", "2025-03-11T11:00:00Z", severity="weird", environment="staging"),
    inc("i7r", "I7", "resolved", "2025-03-11T12:00:00Z"),
    inc("i8o", "I8", "opened", "2025-03-12T20:00:00Z", severity="p1", environment="PRODUCTION"),
    inc("i8r", "I8", "resolved", "2025-03-12T20:30:00Z"),
]
TICKETS = [
    ticket("t1", "BUG-1", "Bug", "2025-03-05T09:00:00Z"),  # Wednesday: week of Monday 03-03
    ticket("t2", "BUG-2", "defect", "2025-03-09T23:30:00-02:00"),  # = 03-10 01:30Z: week 03-10, not 03-03
    ticket("t3", "BUG-3", "BUG", "2025-03-07T09:00:00Z"),  # week 03-03
    ticket("t4", "BUG-4", "Defect", "2025-03-12T09:00:00Z", board="web", team=None),  # week 03-10, no team
    ticket("t5", "S-1", "story", "2025-03-06T09:00:00Z"),  # not a bug type
    ticket("t6", "H-1", "Hotfix", "2025-03-13T09:00:00Z"),  # rework, not a bug
]


def land_story(store: Store) -> None:
    land(store, "deploy", *DEPLOYS)
    land(store, "transition", *TICKETS)
    land(store, "incident", *reversed(INCIDENTS))  # arrival order must not matter
    # I5 out of order, then e3 re-sent with its own event_id: landed once.
    land(store, "incident", *(I5[k] for k in ("e5", "e3", "e1", "e4", "e2", "e1b")))
    land(store, "incident", I5["e3"], landed=0)


def test_incident_timeline_folds_each_incidents_events(store):
    land_story(store)
    got = rows(
        store,
        "SELECT incident_id, service, environment, severity, severity_level, status, opened_at, acknowledged_at, "
        "resolved_at, reopened, events, time_to_acknowledge_hours, time_to_restore_hours, is_production "
        "FROM incident_timeline ORDER BY incident_id",
    )
    assert got == [
        # 10:00 -> ack 10:15 = 0.25 h; -> resolved 12:30 = 2.5 h. P1 is critical.
        (
            "I1",
            "api",
            "production",
            "P1",
            "critical",
            "resolved",
            ts("2025-03-11 10:00"),
            ts("2025-03-11 10:15"),
            ts("2025-03-11 12:30"),
            0,
            3,
            0.25,
            2.5,
            True,
        ),
        # No environment: taken to be production. 00:00 -> 03:00 = 3 h; never acknowledged.
        (
            "I2",
            "web",
            None,
            "SEV2",
            "high",
            "resolved",
            ts("2025-03-12 00:00"),
            None,
            ts("2025-03-12 03:00"),
            0,
            2,
            None,
            3.0,
            True,
        ),
        # 08:00 -> 09:30 = 1.5 h.
        (
            "I3",
            "api",
            "production",
            "high",
            "high",
            "resolved",
            ts("2025-03-14 08:00"),
            None,
            ts("2025-03-14 09:30"),
            0,
            2,
            None,
            1.5,
            True,
        ),
        # Still open: no resolved_at, no restore time; no severity: unmapped. 00:00 -> ack 01:00 = 1 h.
        (
            "I4",
            "api",
            None,
            None,
            "unmapped",
            "open",
            ts("2025-03-20 00:00"),
            ts("2025-03-20 01:00"),
            None,
            0,
            2,
            1.0,
            None,
            True,
        ),
        # Event order 08:00 opened (e1, e1b: the same instant, not a reopen), 08:30 ack, 09:00 resolved,
        # 11:00 opened (the one reopen), 13:00 resolved (e5 = 14:00+01:00). 6 events: e3's re-send landed once.
        # TTA 08:00 -> 08:30 = 0.5 h; TTR from the first opening to the final resolution 08:00 -> 13:00 = 5 h.
        (
            "I5",
            "api",
            "Production",
            "Critical",
            "critical",
            "resolved",
            ts("2025-03-15 08:00"),
            ts("2025-03-15 08:30"),
            ts("2025-03-15 13:00"),
            1,
            6,
            0.5,
            5.0,
            True,
        ),
        # Resolved at 10:20 before the ack at 10:40: never acknowledged while open. 10:00 -> 10:20 = 1/3 h.
        (
            "I6",
            "web",
            "production",
            "warning",
            "low",
            "resolved",
            ts("2025-03-21 10:00"),
            None,
            ts("2025-03-21 10:20"),
            0,
            3,
            None,
            pytest.approx(1 / 3),
            True,
        ),
        # Staging; 'weird' is listed under no level. 11:00 -> 12:00 = 1 h.
        (
            "I7",
            "api",
            "staging",
            "weird",
            "unmapped",
            "resolved",
            ts("2025-03-11 11:00"),
            None,
            ts("2025-03-11 12:00"),
            0,
            2,
            None,
            1.0,
            False,
        ),
        # 'p1' in any case is critical. 20:00 -> 20:30 = 0.5 h.
        (
            "I8",
            "api",
            "PRODUCTION",
            "p1",
            "critical",
            "resolved",
            ts("2025-03-12 20:00"),
            None,
            ts("2025-03-12 20:30"),
            0,
            2,
            None,
            0.5,
            True,
        ),
    ]
    assert rows(store, "SELECT title, url FROM incident_timeline WHERE incident_id = 'I1'") == [
        ("5xx", "https://pd.example/I1")  # the latest non-null of each
    ]


def test_deploy_incidents_explicit_first_then_the_window_then_none(store):
    land_story(store)
    got = rows(
        store,
        "SELECT incident_id, link, deploy_event_id, deploy_version, deployed_at, hours_after_deploy "
        "FROM deploy_incidents ORDER BY incident_id",
    )
    assert got == [
        # Window [03-10 10:00, 03-11 10:00]: D2 (20:00) and D3 (06:00) are both in it: the latest, D3,
        # wins. Dst (staging, 09:00) and Dfail (failure, 09:30) are later but never window-linked.
        # 06:00 -> 10:00 = 4 h.
        ("I1", "window", "D3", "v3", ts("2025-03-11 06:00"), 4.0),
        # web's only deploy W1 finished 03-10 23:00, 25 h before 03-12 00:00: outside the 24 h window.
        ("I2", "none", None, None, None, None),
        # caused_by 'v1' is D1's version: linked although 03-10 08:00 -> 03-14 08:00 = 96 h > 24 h, and
        # although D4 (03-14 07:00) is in the window: explicit beats the window.
        ("I3", "caused_by", "D1", "v1", ts("2025-03-10 08:00"), 96.0),
        # caused_by 'D2' is an event_id: 03-10 20:00 -> 03-20 00:00 = 9 d 4 h = 220 h.
        ("I4", "caused_by", "D2", "v2", ts("2025-03-10 20:00"), 220.0),
        # Window [03-14 08:00, 03-15 08:00]: D5 at 06:00 (D4 at 03-14 07:00 is 1 h too early). 2 h.
        ("I5", "window", "D5", "v5", ts("2025-03-15 06:00"), 2.0),
        # web: W1 is 10+ days before.
        ("I6", "none", None, None, None, None),
        # A staging incident is never linked by the window, though D3 finished 5 h before.
        ("I7", "none", None, None, None, None),
        # Window [03-11 20:00, 03-12 20:00] holds no successful production api deploy (Dfail failed).
        ("I8", "none", None, None, None, None),
    ]
    # incident_summary puts the link beside the timeline.
    assert rows(
        store,
        "SELECT incident_id, link, deploy_event_id, time_to_restore_hours FROM incident_summary "
        "WHERE link <> 'none' ORDER BY incident_id",
    ) == [
        ("I1", "window", "D3", 2.5),
        ("I3", "caused_by", "D1", 1.5),
        ("I4", "caused_by", "D2", None),
        ("I5", "window", "D5", 5.0),
    ]


def test_link_window_and_severity_levels_come_from_the_settings(store):
    land_story(store)
    wider = Stability(incident_link_window_hours=30, severity_levels=(("high", ("weird",)),))
    assert store.sync_workflow(Workflow(stability=wider)) is None  # nothing re-derived
    got = rows(
        store,
        "SELECT incident_id, link, deploy_event_id FROM deploy_incidents WHERE link = 'window' ORDER BY incident_id",
    )
    # 30 h: I2 reaches W1 (25 h before); I8's window [03-11 14:00, 03-12 20:00] still has no success
    # (D3 at 03-11 06:00 is 38 h before).
    assert got == [("I1", "window", "D3"), ("I2", "window", "W1"), ("I5", "window", "D5")]
    levels = rows(store, "SELECT incident_id, severity_level FROM incident_timeline ORDER BY incident_id")
    # Only 'weird' is listed now: every other severity is unmapped.
    assert [lvl for _, lvl in levels] == ["unmapped"] * 6 + ["high", "unmapped"]
    # The window's edge is included: exactly 25 h.
    store.sync_workflow(Workflow(stability=Stability(incident_link_window_hours=25)))
    assert rows(store, "SELECT link FROM deploy_incidents WHERE incident_id = 'I2'") == [("window",)]


def test_time_to_restore_median_p85_and_the_mean(store):
    land_story(store)
    got = rows(
        store,
        "SELECT service, environment, severity_level, week, incidents, median_hours, p85_hours, mean_hours "
        "FROM time_to_restore ORDER BY service, environment NULLS LAST, severity_level, week",
    )
    assert got == [
        # I1 2.5, I5 5.0, I8 0.5 ('Production', 'PRODUCTION', 'production' are one), resolved in the week
        # of Monday 03-10. Sorted 0.5, 2.5, 5.0: median 2.5; p85 at position 0.85 * 2 = 1.7:
        # 2.5 + 0.7 * (5.0 - 2.5) = 4.25; mean (0.5 + 2.5 + 5.0) / 3 = 8 / 3.
        ("api", "production", "critical", date(2025, 3, 10), 3, 2.5, pytest.approx(4.25), pytest.approx(8 / 3)),
        ("api", "production", "high", date(2025, 3, 10), 1, 1.5, 1.5, 1.5),  # I3
        ("api", "staging", "unmapped", date(2025, 3, 10), 1, 1.0, 1.0, 1.0),  # I7; I4 is open: no row
        ("web", "production", "low", date(2025, 3, 17), 1, *[pytest.approx(1 / 3)] * 3),  # I6, 03-21
        ("web", None, "high", date(2025, 3, 10), 1, 3.0, 3.0, 3.0),  # I2, no environment
    ]


def test_failure_frequency_counts_incidents_opened_per_week(store):
    land_story(store)
    got = rows(
        store,
        "SELECT service, severity_level, week, incidents, production_incidents, deploy_linked "
        "FROM failure_frequency ORDER BY service, severity_level, week",
    )
    assert got == [
        ("api", "critical", date(2025, 3, 10), 3, 3, 2),  # I1, I5, I8 opened 03-11, 03-15, 03-12; I1, I5 linked
        ("api", "high", date(2025, 3, 10), 1, 1, 1),  # I3 (caused_by)
        ("api", "unmapped", date(2025, 3, 10), 1, 0, 0),  # I7, staging
        ("api", "unmapped", date(2025, 3, 17), 1, 1, 1),  # I4, opened 03-20
        ("web", "high", date(2025, 3, 10), 1, 1, 0),  # I2
        ("web", "low", date(2025, 3, 17), 1, 1, 0),  # I6
    ]


def test_bug_arrivals_per_week_board_and_team(store):
    land_story(store)
    assert rows(store, "SELECT board, team, week, bugs FROM bug_arrivals ORDER BY board, team, week") == [
        ("payments", "alpha", date(2025, 3, 3), 2),  # BUG-1 (Bug, 03-05), BUG-3 (BUG, 03-07)
        ("payments", "alpha", date(2025, 3, 10), 1),  # BUG-2: 03-09 23:30-02:00 is Monday 03-10 01:30Z
        ("web", None, date(2025, 3, 10), 1),  # BUG-4 (Defect), no team
    ]  # S-1 (story) and H-1 (Hotfix) are not bug types


def test_deploy_outcomes_failures_incidents_and_rework(store):
    land_story(store)
    got = rows(
        store,
        "SELECT event_id, deploy_failed, incidents, change_failed, rework, is_production "
        "FROM deploy_outcomes ORDER BY finished_at",
    )
    assert got == [
        ("D1", False, 1, True, False, True),  # caused I3
        ("D2", False, 1, True, False, True),  # caused I4; S-1 is a story
        ("W1", False, 0, False, False, True),
        ("D3", False, 1, True, True, True),  # caused I1; BUG-1 is a Bug: rework
        ("Dst", False, 0, False, False, False),
        ("Dfail", True, 0, True, False, True),
        ("D4", False, 0, False, False, True),
        ("D5", False, 1, True, True, True),  # caused I5; H-1 is a Hotfix: rework
        ("F1", False, 0, False, True, True),  # fixes I5: rework
    ]


def test_failed_deployment_recovery_from_the_failing_deploy_to_the_restore(store):
    land_story(store)
    got = rows(
        store,
        "SELECT cause, failed_event_id, failed_at, restored_at, recovery_hours, deploys, incident_ids "
        "FROM failed_deployment_recovery ORDER BY failed_at",
    )
    assert got == [
        # D1 -> I3 resolved 03-14 09:30: 03-10 08:00 -> 03-14 09:30 = 4 d 1.5 h = 97.5 h.
        ("incident", "D1", ts("2025-03-10 08:00"), ts("2025-03-14 09:30"), 97.5, 1, ["I3"]),
        # D2 -> I4, still open.
        ("incident", "D2", ts("2025-03-10 20:00"), None, None, 1, ["I4"]),
        # D3 -> I1 resolved 03-11 12:30: 06:00 -> 12:30 = 6.5 h.
        ("incident", "D3", ts("2025-03-11 06:00"), ts("2025-03-11 12:30"), 6.5, 1, ["I1"]),
        # Dfail -> the next api production success D4: 03-11 09:30 -> 03-14 07:00 = 2 d 21.5 h = 69.5 h.
        ("deploy", "Dfail", ts("2025-03-11 09:30"), ts("2025-03-14 07:00"), 69.5, 2, None),
        # D5 -> I5 resolved (finally) 03-15 13:00: 06:00 -> 13:00 = 7 h.
        ("incident", "D5", ts("2025-03-15 06:00"), ts("2025-03-15 13:00"), 7.0, 1, ["I5"]),
    ]


def test_deploy_outcomes_carry_the_incidents_and_their_restore(store):
    # failed_deployment_recovery's 'incident' rows and dora_summary's recovery key read these
    # columns (one fold of the incidents per query): they must agree with the rows above.
    land_story(store)
    got = rows(
        store,
        "SELECT event_id, incident_ids, incidents_restored_at FROM deploy_outcomes "
        "WHERE incidents > 0 ORDER BY finished_at",
    )
    assert got == [
        ("D1", ["I3"], ts("2025-03-14 09:30")),  # I3 resolved 03-14 09:30
        ("D2", ["I4"], None),  # I4 still open
        ("D3", ["I1"], ts("2025-03-11 12:30")),  # I1 resolved 03-11 12:30
        ("D5", ["I5"], ts("2025-03-15 13:00")),  # I5 resolved (finally) 03-15 13:00
    ]
    # dora_summary takes the 'incident' rows from deploy_outcomes itself: the same median and
    # counts as failed_deployment_recovery's rows restored in the window, for every scope.
    by_view = rows(
        store,
        "SELECT coalesce(service, '*'), quantile_cont(recovery_hours, 0.5), count(*), sum(deploys) "
        "FROM failed_deployment_recovery WHERE restored_at > fm_now() - INTERVAL 30 DAY "
        "AND restored_at <= fm_now() GROUP BY GROUPING SETS ((service), ()) ORDER BY 1",
    )
    by_summary = rows(
        store,
        "SELECT service, value, sample_size, deploys_considered FROM dora_summary "
        "WHERE metric = 'failed_deployment_recovery_time' AND sample_size > 0 ORDER BY service",
    )
    assert by_summary == by_view == [("*", 38.25, 4, 5), ("api", 38.25, 4, 5)]


def test_dora_summary_five_keys_blended_and_per_service(store):
    land_story(store)
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(
            store,
            "SELECT service, metric, value, band, deploys_considered, sample_size, days_covered FROM dora_summary",
        )
    }
    api_days = 21 + 4 / 24  # from D1 (03-10 08:00) to NOW (03-31 12:00)
    web_days = 20 + 13 / 24  # from W1 (03-10 23:00)
    assert got == {
        # 7 successes (D1, D2, D3, D4, D5, F1, W1) / 21.17 days = 0.331 >= 1/7: high.
        ("*", "deployment_frequency"): (pytest.approx(7 / api_days), "high", 7, 7, pytest.approx(api_days)),
        ("*", "change_lead_time"): (None, None, 0, 0, pytest.approx(api_days)),  # no commits sent
        # Production deploys D1, D2, W1, D3, Dfail, D4, D5, F1 = 8; failed or incident-linked
        # D1, D2, D3, Dfail, D5 = 5: 5 / 8 = 0.625 > 0.15: low.
        ("*", "change_failure_rate"): (0.625, "low", 8, 8, pytest.approx(api_days)),
        # Restored: 6.5, 7.0, 69.5, 97.5 (D2's I4 is open) -> median (7.0 + 69.5) / 2 = 38.25 h: medium.
        # Deploys: 1 + 1 + 2 (Dfail, D4) + 1 = 5; failures 4.
        ("*", "failed_deployment_recovery_time"): (38.25, "medium", 5, 4, pytest.approx(api_days)),
        # D3 (Bug), D5 (Hotfix), F1 (fixes I5): 3 / 8; no band.
        ("*", "rework_rate"): (0.375, None, 8, 8, pytest.approx(api_days)),
        # Status only: Dfail, 1 / 8 = 0.125: medium.
        ("*", "deploy_failure_rate"): (0.125, "medium", 8, 8, pytest.approx(api_days)),
        # api alone: 6 successes / 21.17 days; 5 of 7 failed or linked; 3 of 7 rework; 1 of 7 failed.
        ("api", "deployment_frequency"): (pytest.approx(6 / api_days), "high", 6, 6, pytest.approx(api_days)),
        ("api", "change_lead_time"): (None, None, 0, 0, pytest.approx(api_days)),
        ("api", "change_failure_rate"): (pytest.approx(5 / 7), "low", 7, 7, pytest.approx(api_days)),
        ("api", "failed_deployment_recovery_time"): (38.25, "medium", 5, 4, pytest.approx(api_days)),
        ("api", "rework_rate"): (pytest.approx(3 / 7), None, 7, 7, pytest.approx(api_days)),
        ("api", "deploy_failure_rate"): (pytest.approx(1 / 7), "medium", 7, 7, pytest.approx(api_days)),
        # web alone: W1 / 20.54 days = 0.0487 >= 1/30: medium; nothing failed; no recovery to measure.
        ("web", "deployment_frequency"): (pytest.approx(1 / web_days), "medium", 1, 1, pytest.approx(web_days)),
        ("web", "change_lead_time"): (None, None, 0, 0, pytest.approx(web_days)),
        ("web", "change_failure_rate"): (0.0, "elite", 1, 1, pytest.approx(web_days)),
        ("web", "failed_deployment_recovery_time"): (None, None, 0, 0, pytest.approx(web_days)),
        ("web", "rework_rate"): (0.0, None, 1, 1, pytest.approx(web_days)),
        ("web", "deploy_failure_rate"): (0.0, "elite", 1, 1, pytest.approx(web_days)),
    }
    # Blended rows first, then each service, keys in order.
    order = rows(store, "SELECT service, metric FROM dora_summary")
    assert [s for s, _ in order] == ["*"] * 6 + ["api"] * 6 + ["web"] * 6
    assert [m for _, m in order[:6]] == [
        "deployment_frequency",
        "change_lead_time",
        "change_failure_rate",
        "failed_deployment_recovery_time",
        "rework_rate",
        "deploy_failure_rate",
    ]


def test_a_deploy_is_rework_only_when_every_typed_ticket_it_ships_is_a_fix(store):
    # A deploy made to fix a user-facing problem (docs/metrics.md, deploy_outcomes): one that ships
    # a bug fix beside a planned story is planned work. B-1 bug, H-9 hotfix, S-9 story; U-1 never landed.
    land(
        store,
        "transition",
        ticket("b1", "B-1", "bug", "2025-03-01T09:00:00Z"),
        ticket("h9", "H-9", "hotfix", "2025-03-01T09:00:00Z"),
        ticket("s9", "S-9", "story", "2025-03-01T09:00:00Z"),
    )
    land(
        store,
        "deploy",
        deploy("X1", "success", "2025-03-02T09:00:00Z", tickets=["B-1", "S-9"]),  # a story too: not rework
        deploy("X2", "success", "2025-03-02T10:00:00Z", tickets=["B-1", "H-9"]),  # fixes only: rework
        deploy("X3", "success", "2025-03-02T11:00:00Z", tickets=["B-1", "U-1"]),  # U-1 has no type: B-1 decides
        deploy("X4", "success", "2025-03-02T12:00:00Z", tickets=["U-1"]),  # no typed ticket: not rework
        deploy("X5", "success", "2025-03-02T13:00:00Z", tickets=["S-9"], fixes=["I9"]),  # fixes an incident
    )
    got = rows(store, "SELECT event_id, rework FROM deploy_outcomes ORDER BY event_id")
    assert got == [("X1", False), ("X2", True), ("X3", True), ("X4", False), ("X5", True)]

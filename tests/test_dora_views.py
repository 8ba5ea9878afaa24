"""The delivery (DORA) views on a real store: events land through prepare + Store.commit,
fm_now() is pinned, and every expected value is worked out by hand in the comments."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from tests.helpers.store import pin_now, writer_rows

# fm_now() in every test. The dora_summary window is (NOW - 30 days, NOW]
# = (2025-03-01 12:00, 2025-03-31 12:00] UTC.
NOW = datetime(2025, 3, 31, 12, 0)
_offsets = itertools.count()


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "dora.duckdb") as s:
        # Pinned on the writer connection; rows() reads there too (tests/helpers/store.py says why).
        pin_now(s, NOW)
        yield s


def land(store: Store, *events: dict[str, Any], kind: str = "deploy") -> None:
    """Land events through the worker's path; every one of them must be valid."""
    source = "flow.deploys" if kind == "deploy" else "flow.transitions"
    batch = prepare([Envelope(source, 0, next(_offsets), kind, json.dumps(e).encode()) for e in events])
    assert not batch.rejects, [r.reason for r in batch.rejects]
    assert store.commit(batch).landed == len(events)


def deploy(
    event_id: str,
    status: str,
    at: str,
    service: str = "api",
    environment: str = "production",
    commits: tuple[tuple[str, str | None], ...] = (),
    tickets: tuple[str, ...] = (),
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "service": service,
        "environment": environment,
        "status": status,
        "at": at,
        "commits": [{"sha": sha, "committed_at": at_} if at_ else {"sha": sha} for sha, at_ in commits],
        "tickets": list(tickets),
    }


def before(hours: float) -> str:
    """The wire timestamp `hours` before NOW (UTC, 'Z')."""
    return (NOW - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rows(store: Store, sql: str, params: list[Any] | None = None) -> list[tuple]:
    return writer_rows(store, sql, params)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---- deploy_frequency and change_failure_rate: UTC days -----------------------------
# api/production, around midnight (stored UTC, bucketed by UTC day):
#   a1 success     2025-03-10T23:30-02:00 = 03-11 01:30Z -> 03-11
#   a2 failure     2025-03-11T00:30+02:00 = 03-10 22:30Z -> 03-10
#   a3 success     2025-03-10T23:59:59Z                  -> 03-10
#   a4 rolled_back 2025-03-11T00:00:00Z                  -> 03-11
#   a6 failure     2025-03-11T03:00:00Z                  -> 03-11
# api/staging: a5 success 2025-03-11T01:00+01:00 = 03-11 00:00Z -> 03-11
# web/Production (capitals: still production): w1 success 2025-03-11T12:00Z -> 03-11
DAY_DEPLOYS = [
    deploy("a1", "success", "2025-03-10T23:30:00-02:00"),
    deploy("a2", "failure", "2025-03-11T00:30:00+02:00"),
    deploy("a3", "success", "2025-03-10T23:59:59Z"),
    deploy("a4", "rolled_back", "2025-03-11T00:00:00Z"),
    deploy("a5", "success", "2025-03-11T01:00:00+01:00", environment="staging"),
    deploy("a6", "failure", "2025-03-11T03:00:00Z"),
    deploy("w1", "success", "2025-03-11T12:00:00Z", service="web", environment="Production"),
]


def test_deploy_frequency_counts_per_utc_day_and_environment(store):
    land(store, *DAY_DEPLOYS)
    got = rows(
        store,
        "SELECT service, environment, day, successful_deploys, deploys, is_production "
        "FROM deploy_frequency ORDER BY service, environment, day",
    )
    assert got == [
        ("api", "production", date(2025, 3, 10), 1, 2, True),  # a3 ok; a2 failed
        ("api", "production", date(2025, 3, 11), 1, 3, True),  # a1 ok; a4, a6 failed
        ("api", "staging", date(2025, 3, 11), 1, 1, False),  # a5
        ("web", "production", date(2025, 3, 11), 1, 1, True),  # w1, sent as 'Production': shown normalised
    ]
    # A plain WHERE filters by service, environment and date range.
    assert rows(
        store,
        "SELECT sum(successful_deploys) FROM deploy_frequency WHERE is_production "
        "AND day BETWEEN DATE '2025-03-11' AND DATE '2025-03-11'",
    ) == [(2,)]  # a1, w1


def test_change_failure_rate_per_day_and_over_a_period(store):
    land(store, *DAY_DEPLOYS)
    got = rows(
        store,
        "SELECT service, environment, day, deploys, failed_deploys, change_failure_rate "
        "FROM change_failure_rate ORDER BY service, environment, day",
    )
    assert got == [
        ("api", "production", date(2025, 3, 10), 2, 1, 0.5),  # a2 of a2, a3
        ("api", "production", date(2025, 3, 11), 3, 2, pytest.approx(2 / 3)),  # a4 (rolled_back), a6
        ("api", "staging", date(2025, 3, 11), 1, 0, 0.0),
        ("web", "production", date(2025, 3, 11), 1, 0, 0.0),  # 'Production', normalised
    ]
    # Over both days: (1 + 2) / (2 + 3) = 0.6, not the mean of the daily rates (0.5 + 0.667) / 2 = 0.583.
    ((rate,),) = rows(
        store,
        "SELECT sum(failed_deploys) / sum(deploys) FROM change_failure_rate "
        "WHERE service = 'api' AND environment = 'production' "
        "AND day >= DATE '2025-03-10' AND day < DATE '2025-03-12'",
    )
    assert rate == pytest.approx(0.6)


# ---- change_lead_time ------------------------------------------------------------
def test_change_lead_time_counts_each_commit_once_at_its_first_success(store):
    # Commits: c1 08:00Z; c2 12:30+02:00 = 10:30Z (03-01); c3 without committed_at;
    # c4 2025-03-02T06:00-05:00 = 11:00Z; c5 only ever in a failed deploy.
    c1, c2, c3 = ("c1", "2025-03-01T08:00:00Z"), ("c2", "2025-03-01T12:30:00+02:00"), ("c3", None)
    c4, c5 = ("c4", "2025-03-02T06:00:00-05:00"), ("c5", "2025-03-01T13:00:00Z")
    land(
        store,
        deploy("d1", "success", "2025-03-01T12:00:00Z", environment="staging", commits=(c1, c2)),
        deploy("d2", "failure", "2025-03-01T14:00:00Z", commits=(c1, c2, c3, c5)),
        deploy("d3", "success", "2025-03-01T18:00:00Z", commits=(c1, c2, c3)),
    )
    # Landed later and out of order: the redeploy of c1 (with the new c4) must not move c1.
    land(store, deploy("d4", "success", "2025-03-02T18:00:00Z", commits=(c1, c4)))
    got = rows(
        store,
        "SELECT service, environment, sha, committed_at, deployed_at, deploy_event_id, "
        "lead_time_hours FROM change_lead_time ORDER BY environment, sha",
    )
    assert got == [
        # production: d2 failed, so the first success is d3 (18:00); c3 has no committed_at.
        ("api", "production", "c1", ts("2025-03-01 08:00"), ts("2025-03-01 18:00"), "d3", 10.0),  # 08 -> 18
        ("api", "production", "c2", ts("2025-03-01 10:30"), ts("2025-03-01 18:00"), "d3", 7.5),  # 10:30 -> 18
        ("api", "production", "c4", ts("2025-03-02 11:00"), ts("2025-03-02 18:00"), "d4", 7.0),  # 11 -> 18
        # staging is its own environment: the same commits, reached earlier.
        ("api", "staging", "c1", ts("2025-03-01 08:00"), ts("2025-03-01 12:00"), "d1", 4.0),  # 08 -> 12
        ("api", "staging", "c2", ts("2025-03-01 10:30"), ts("2025-03-01 12:00"), "d1", 1.5),  # 10:30 -> 12
    ]
    assert rows(
        store, "SELECT count(*) FROM change_lead_time WHERE is_production AND deployed_at >= TIMESTAMP '2025-03-02'"
    ) == [(1,)]  # c4


def test_change_lead_time_takes_committed_at_from_any_deploy_of_the_sha(store):
    # A commit's time is a fact about the commit: the earliest one any deploy reports for the sha
    # counts, whatever that deploy's status, environment or service.
    land(
        store,
        # k1's time is only on a failed deploy: 03-12 06:00 -> its first success f2 12:00 = 6 h.
        deploy("f1", "failure", "2025-03-12T10:00:00Z", commits=(("k1", "2025-03-12T06:00:00Z"),)),
        deploy("f2", "success", "2025-03-12T12:00:00Z", commits=(("k1", None),)),
        # k2's time is only on a staging deploy: staging 07:00 -> 08:00 = 1 h; production -> f3 13:00 = 6 h.
        deploy(
            "s1", "success", "2025-03-12T08:00:00Z", environment="staging", commits=(("k2", "2025-03-12T07:00:00Z"),)
        ),
        # k4's time is only on another service's deploy: web 05:00 -> 09:00 = 4 h; api 05:00 -> 13:00 = 8 h.
        deploy("w1", "success", "2025-03-12T09:00:00Z", service="web", commits=(("k4", "2025-03-12T05:00:00Z"),)),
        # k3: f3 says 12:30, the later f4 says 11:30: the earliest, 11:30 -> 13:00 = 1.5 h.
        deploy(
            "f3",
            "success",
            "2025-03-12T13:00:00Z",
            commits=(("k2", None), ("k3", "2025-03-12T12:30:00Z"), ("k4", None)),
        ),
        deploy("f4", "success", "2025-03-13T09:00:00Z", commits=(("k3", "2025-03-12T11:30:00Z"),)),
    )
    got = rows(
        store,
        "SELECT service, environment, sha, committed_at, deploy_event_id, lead_time_hours "
        "FROM change_lead_time ORDER BY service, environment, sha",
    )
    assert got == [
        ("api", "production", "k1", ts("2025-03-12 06:00"), "f2", 6.0),
        ("api", "production", "k2", ts("2025-03-12 07:00"), "f3", 6.0),
        ("api", "production", "k3", ts("2025-03-12 11:30"), "f3", 1.5),
        ("api", "production", "k4", ts("2025-03-12 05:00"), "f3", 8.0),
        ("api", "staging", "k2", ts("2025-03-12 07:00"), "s1", 1.0),
        ("web", "production", "k4", ts("2025-03-12 05:00"), "w1", 4.0),
    ]


# ---- one environment however it is spelled -----------------------------------------
# api, 2025-03-10 and 03-11 UTC. Production is spelled three ways, staging two: each is ONE
# environment, shown lower-cased.
SPELLED = [
    deploy(
        "e1", "failure", "2025-03-10T10:00:00Z", environment="production", commits=(("c1", "2025-03-10T08:00:00Z"),)
    ),
    deploy(
        "e2", "success", "2025-03-10T11:00:00Z", environment="Production", commits=(("c1", "2025-03-10T08:00:00Z"),)
    ),
    deploy(
        "e3",
        "success",
        "2025-03-11T09:00:00Z",
        environment="PRODUCTION",
        commits=(("c1", "2025-03-10T08:00:00Z"), ("c2", "2025-03-11T07:00:00Z")),
    ),
    deploy("e4", "success", "2025-03-10T09:00:00Z", environment="Staging", commits=(("c1", "2025-03-10T08:00:00Z"),)),
    deploy("e5", "failure", "2025-03-10T12:00:00Z", environment="staging"),
    deploy("e6", "success", "2025-03-10T14:00:00Z", environment="STAGING"),
]


def test_environment_spellings_are_one_environment_in_every_delivery_view(store):
    land(store, *SPELLED)
    assert rows(
        store,
        "SELECT environment, day, successful_deploys, deploys, is_production FROM deploy_frequency ORDER BY ALL",
    ) == [
        ("production", date(2025, 3, 10), 1, 2, True),  # e2 ok; e1 failed
        ("production", date(2025, 3, 11), 1, 1, True),  # e3
        ("staging", date(2025, 3, 10), 2, 3, False),  # e4, e6 ok; e5 failed
    ]
    assert rows(
        store,
        "SELECT environment, day, deploys, failed_deploys, change_failure_rate FROM change_failure_rate ORDER BY ALL",
    ) == [
        ("production", date(2025, 3, 10), 2, 1, 0.5),  # e1 of e1, e2
        ("production", date(2025, 3, 11), 1, 0, 0.0),
        ("staging", date(2025, 3, 10), 3, 1, pytest.approx(1 / 3)),  # e5 of e4, e5, e6
    ]
    # c1 reaches production once, at e2 (08:00 -> 11:00 = 3 h); e3 does not add a second row.
    assert rows(
        store, "SELECT environment, sha, deploy_event_id, lead_time_hours FROM change_lead_time ORDER BY ALL"
    ) == [
        ("production", "c1", "e2", 3.0),
        ("production", "c2", "e3", 2.0),  # 07:00 -> 09:00
        ("staging", "c1", "e4", 1.0),  # 08:00 -> 09:00
    ]
    # The 'production' failure is fixed by the 'Production' success an hour later.
    assert rows(
        store, "SELECT environment, failed_event_id, recovered_event_id, recovery_hours FROM recovery_time ORDER BY ALL"
    ) == [
        ("production", "e1", "e2", 1.0),  # 10:00 -> 11:00
        ("staging", "e5", "e6", 2.0),  # 12:00 -> 14:00
    ]
    got = summary(store)
    # Lead time: c1 3 h, c2 2 h -> median 2.5 h, 2 commits over 2 deploys (e2, e3): elite.
    assert got["change_lead_time"] == (pytest.approx(2.5), "hours", "elite", 30, 2, 2)
    # Recovery: the one production episode, 1 h (not < 1: high); e1 failed + e2 recovering = 2 deploys.
    assert got["failed_deployment_recovery_time"] == (pytest.approx(1.0), "hours", "high", 30, 2, 1)


# ---- recovery_time -----------------------------------------------------------------
def test_recovery_time_episodes_from_first_failure_to_next_success(store):
    events = [
        deploy("r1", "success", "2025-03-01T10:00:00Z"),
        deploy("r2", "failure", "2025-03-02T10:00:00Z"),  # episode 1 starts
        deploy("r3", "success", "2025-03-02T13:30:00Z"),  # ... ends: 3.5 h
        deploy("r4", "failure", "2025-03-03T00:30:00+02:00"),  # = 03-02 22:30Z, episode 2 starts
        deploy("r5", "rolled_back", "2025-03-03T01:00:00Z"),  # same episode
        deploy("r6", "success", "2025-03-03T04:00:00Z"),  # ends: 22:30 -> 04:00 = 5.5 h
        deploy("r7", "success", "2025-03-04T09:00:00Z"),  # nothing to recover
        deploy("r8", "failure", "2025-03-05T10:00:00Z"),  # episode 3, still open
        # staging is separate: r3 (production) does not recover it; s2 does, 11:00 -> 15:00 = 4 h.
        deploy("s1", "failure", "2025-03-02T11:00:00Z", environment="staging"),
        deploy("s2", "success", "2025-03-02T15:00:00Z", environment="staging"),
        # web's very first deploy failed: an episode too, 00:00 -> 00:45 = 0.75 h.
        deploy("w1", "rolled_back", "2025-03-01T00:00:00Z", service="web"),
        deploy("w2", "success", "2025-03-01T00:45:00Z", service="web"),
    ]
    land(store, *reversed(events[6:]))  # arrival order must not matter: event time does
    land(store, *events[:6])
    got = rows(
        store,
        "SELECT service, environment, failed_at, recovered_at, recovery_hours, failed_event_id, "
        "recovered_event_id, failed_deploys FROM recovery_time ORDER BY service, environment, failed_at",
    )
    assert got == [
        ("api", "production", ts("2025-03-02 10:00"), ts("2025-03-02 13:30"), 3.5, "r2", "r3", 1),
        ("api", "production", ts("2025-03-02 22:30"), ts("2025-03-03 04:00"), 5.5, "r4", "r6", 2),
        ("api", "production", ts("2025-03-05 10:00"), None, None, "r8", None, 1),
        ("api", "staging", ts("2025-03-02 11:00"), ts("2025-03-02 15:00"), 4.0, "s1", "s2", 1),
        ("web", "production", ts("2025-03-01 00:00"), ts("2025-03-01 00:45"), 0.75, "w1", "w2", 1),
    ]
    assert rows(store, "SELECT count(*) FROM recovery_time WHERE recovered_at IS NULL") == [(1,)]


# ---- ticket_to_production -----------------------------------------------------------
def test_ticket_to_production_from_commitment_to_first_production_success(store):
    def tr(eid: str, ticket: str, from_state: str | None, to_state: str, at: str) -> dict[str, Any]:
        return {
            "event_id": eid,
            "ticket_id": ticket,
            "board": "payments",
            "from_state": from_state,
            "to_state": to_state,
            "at": at,
        }

    # Deploys land first: the view joins at query time, so order does not matter.
    land(
        store,
        deploy("d1", "success", "2025-03-02T12:00:00Z", environment="staging", tickets=("T-1", "T-5")),
        deploy("d2", "failure", "2025-03-02T15:00:00Z", tickets=("T-1",)),
        deploy("d3", "success", "2025-03-03T09:00:00Z", tickets=("T-1", "T-2", "T-3")),
        deploy("d4", "success", "2025-03-04T09:00:00Z", tickets=("T-1",)),
        deploy("d5", "success", "2025-03-03T06:30:00Z", service="web", environment="PROD", tickets=("T-4",)),
    )
    land(
        store,
        # T-1 committed when it entered In Progress: 10:00+01:00 = 09:00Z on 03-02.
        tr("t1", "T-1", None, "Backlog", "2025-03-01T09:00:00Z"),
        tr("t2", "T-1", "Backlog", "In Progress", "2025-03-02T10:00:00+01:00"),
        # T-2 never left the backlog: not committed, no row.
        tr("t3", "T-2", None, "Backlog", "2025-03-01T09:00:00Z"),
        # T-4 was created straight into In Progress: committed 03-03 00:00Z.
        tr("t4", "T-4", None, "In Progress", "2025-03-03T00:00:00Z"),
        # T-5 reached staging only: no row.  T-3 has no transitions at all: no row.
        tr("t5", "T-5", None, "In Progress", "2025-03-01T00:00:00Z"),
        kind="transition",
    )
    got = rows(
        store,
        "SELECT ticket_id, board, committed_at, deployed_at, service, environment, deploy_event_id, "
        "to_production_hours FROM ticket_to_production ORDER BY ticket_id",
    )
    assert got == [
        # staging d1 and failed d2 do not count; d3 is first; d4 does not move it. 03-02 09:00 -> 03-03 09:00.
        ("T-1", "payments", ts("2025-03-02 09:00"), ts("2025-03-03 09:00"), "api", "production", "d3", 24.0),
        # 'PROD' is production (normalised: shown 'prod'): 00:00 -> 06:30.
        ("T-4", "payments", ts("2025-03-03 00:00"), ts("2025-03-03 06:30"), "web", "prod", "d5", 6.5),
    ]


# ---- dora_summary -------------------------------------------------------------------
def summary(store: Store) -> dict[str, tuple]:
    columns = "metric, value, unit, band, window_days, deploys_considered, sample_size"
    return {r[0]: r[1:] for r in rows(store, f"SELECT {columns} FROM dora_summary WHERE service = '*'")}


def test_dora_summary_all_four_keys_production_only(store):
    land(
        store,
        # Before the window: neither its deploy nor its commit counts.
        deploy("p0", "success", "2025-02-20T10:00:00Z", commits=(("x0", "2025-02-01T00:00:00Z"),)),
        deploy("p1", "success", "2025-03-10T09:00:00Z", commits=(("x1", "2025-03-09T09:00:00Z"),)),  # 24 h
        deploy("p2", "failure", "2025-03-12T10:00:00Z", commits=(("x2", "2025-03-12T08:00:00Z"),)),
        deploy("p3", "success", "2025-03-12T12:00:00Z", commits=(("x2", "2025-03-12T08:00:00Z"),)),  # 4 h
        deploy("p4", "rolled_back", "2025-03-20T23:00:00-01:00"),  # = 03-21 00:00Z
        deploy("p5", "success", "2025-03-21T00:30:00Z", commits=(("x3", "2025-03-20T10:30:00Z"),)),  # 14 h
        deploy(
            "w1",
            "success",
            "2025-03-25T10:00:00Z",
            service="web",
            environment="Prod",
            commits=(("y1", "2025-03-23T10:00:00Z"),),
        ),  # 48 h
        deploy("w2", "failure", "2025-03-30T10:00:00Z", service="web", environment="Prod"),  # open
        # Staging: many deploys, failures and a fast commit; none of it may count.
        *[deploy(f"s{i}", "failure", before(10 + i), environment="staging") for i in range(4)],
        deploy("s9", "success", before(5), environment="staging", commits=(("z1", before(5.5)),)),
    )
    assert summary(store) == {
        # 4 successful production deploys (p1, p3, p5, w1) / 30 days = 0.1333 < 1/7 = 0.1429: medium.
        "deployment_frequency": (pytest.approx(4 / 30), "deploys per day", "medium", 30, 4, 4),
        # x1 24, x2 4, x3 14, y1 48 -> sorted 4, 14, 24, 48 -> median (14 + 24) / 2 = 19 h < 24: elite.
        "change_lead_time": (pytest.approx(19.0), "hours", "elite", 30, 4, 4),
        # p2, p4, w2 failed of p1..p5, w1, w2 = 3 / 7 = 0.43 > 0.15: low.
        "change_failure_rate": (pytest.approx(3 / 7), "ratio", "low", 30, 7, 7),
        # p2 -> p3 = 2 h, p4 -> p5 = 0.5 h (w2 is open) -> median 1.25 h, in [1, 24): high.
        # Deploys: 2 failed + 2 recovering = 4; episodes 2.
        "failed_deployment_recovery_time": (pytest.approx(1.25), "hours", "high", 30, 4, 2),
        # No ticket of a rework type and no `fixes`: 0 / 7; the rate has no band.
        "rework_rate": (0.0, "ratio", None, 30, 7, 7),
        # No incidents: the deploy-status-only rate equals change_failure_rate, 3 / 7.
        "deploy_failure_rate": (pytest.approx(3 / 7), "ratio", "low", 30, 7, 7),
    }


@pytest.mark.parametrize(
    "in_window, history, value, band",
    [
        (30, True, 30 / 30, "elite"),  # 1 per day: the elite boundary (>= 1)
        (29, True, 29 / 30, "high"),  # 0.967 per day
        (5, True, 5 / 30, "high"),  # 0.167 >= 1/7 = 0.143 (30/7 deploys cannot be hit exactly)
        (4, True, 4 / 30, "medium"),  # 0.133 < 1/7
        (1, True, 1 / 30, "medium"),  # once a month: the medium boundary (>= 1/30)
        (0, True, 0.0, "low"),  # none in the window, but production has deployed before
        (0, False, None, None),  # no production deploys at all: no data
    ],
)
def test_dora_summary_deployment_frequency_bands(store, in_window, history, value, band):
    # Successful production deploys at NOW, NOW - 20 h, ... NOW - 580 h: all in (NOW - 720 h, NOW].
    events = [deploy(f"ok{k}", "success", before(20 * k)) for k in range(in_window)]
    # Never counted: staging successes, and a production success exactly at the window's start.
    events += [deploy(f"st{k}", "success", before(k + 1), environment="staging") for k in range(40)]
    if history:
        events += [deploy("edge", "success", before(720)), deploy("bad", "failure", before(3))]
    land(store, *events)
    got = summary(store)["deployment_frequency"]
    assert got == (
        (pytest.approx(value) if value is not None else None),
        "deploys per day",
        band,
        30,
        in_window,
        in_window,
    )


@pytest.mark.parametrize(
    "deploys, failed, band",
    [
        (20, 1, "elite"),  # 1/20 = 0.05: the elite boundary (<= 5%)
        (21, 1, "elite"),  # 0.048
        (16, 1, "high"),  # 0.0625
        (20, 2, "high"),  # 0.10: the high boundary
        (20, 3, "medium"),  # 0.15: the medium boundary
        (20, 4, "low"),  # 0.20
    ],
)
def test_dora_summary_change_failure_rate_bands(store, deploys, failed, band):
    # Production deploys at NOW - 5 h, NOW - 15 h, ...; the first `failed` fail (failure / rolled_back).
    events = [
        deploy(f"p{k}", ("failure", "rolled_back")[k % 2] if k < failed else "success", before(10 * k + 5))
        for k in range(deploys)
    ]
    # Never counted: staging failures, a failure exactly at the window's start, one after NOW.
    events += [deploy(f"s{k}", "failure", before(k + 1), environment="staging") for k in range(5)]
    events += [deploy("edge", "failure", before(720)), deploy("later", "failure", before(-1))]
    land(store, *events)
    assert summary(store)["change_failure_rate"] == (
        pytest.approx(failed / deploys),
        "ratio",
        band,
        30,
        deploys,
        deploys,
    )


@pytest.mark.parametrize(
    "shipments, median, band, n_deploys",
    [
        # Each inner list is one production deploy; its numbers are its commits' lead times (hours).
        ([[2], [23.5], [100]], 23.5, "elite", 3),  # median of 2, 23.5, 100
        ([[24]], 24.0, "high", 1),  # the elite boundary: under 24 h only
        ([[100]], 100.0, "high", 1),
        ([[167, 169], [168]], 168.0, "medium", 2),  # median 168: the high boundary; 3 commits, 2 deploys
        ([[719.5]], 719.5, "medium", 1),
        ([[700], [740]], 720.0, "low", 2),  # (700 + 740) / 2 = 720: the medium boundary
    ],
)
def test_dora_summary_change_lead_time_bands(store, shipments, median, band, n_deploys):
    events, n_commits = [], 0
    for i, leads in enumerate(shipments):  # deploy i at NOW - (24 i + 1) h
        deployed = 24 * i + 1
        commits = tuple((f"c{i}-{j}", before(deployed + lead)) for j, lead in enumerate(leads))
        events.append(deploy(f"d{i}", "success", before(deployed), commits=commits))
        n_commits += len(leads)
    events += [
        # Never counted: a staging commit; a failed production deploy's commit; a commit first
        # shipped before the window and shipped again inside it.
        deploy("st", "success", before(2), environment="staging", commits=(("fast", before(3)),)),
        deploy("bad", "failure", before(2), commits=(("failed", before(2.1)),)),
        deploy("old", "success", before(800), commits=(("early", before(801)),)),
        deploy("again", "success", before(3), commits=(("early", before(801)),)),
    ]
    land(store, *events)
    assert summary(store)["change_lead_time"] == (pytest.approx(median), "hours", band, 30, n_deploys, n_commits)


@pytest.mark.parametrize(
    "episodes, median, band, n_deploys",
    [
        # Each episode: (hours between first failure and recovery, failed deploys in a row, start before NOW).
        ([(0.5, 1, 10)], 0.5, "elite", 2),
        ([(1.0, 1, 10)], 1.0, "high", 2),  # the elite boundary: under 1 h
        ([(0.25, 1, 10), (0.5, 1, 10), (2, 1, 10), (30, 1, 40)], 1.25, "high", 8),  # (0.5 + 2) / 2
        ([(24, 2, 100)], 24.0, "medium", 3),  # 2 failures, 1 episode, 24 h
        ([(168, 1, 800)], 168.0, "low", 2),  # failed before the window, recovered in it (632 h ago): counts
    ],
)
def test_dora_summary_recovery_time_bands(store, episodes, median, band, n_deploys):
    events = []
    for i, (hours, failures, start) in enumerate(episodes):  # one service per episode
        events += [
            deploy(f"e{i}f{j}", "failure" if j % 2 == 0 else "rolled_back", before(start - 0.1 * j), service=f"svc{i}")
            for j in range(failures)
        ]
        events.append(deploy(f"e{i}ok", "success", before(start - hours), service=f"svc{i}"))
    events += [
        # Never counted: an open episode, a staging episode, one recovered before the window.
        deploy("open", "failure", before(2), service="open"),
        deploy("stf", "failure", before(5), environment="staging"),
        deploy("sto", "success", before(4.9), environment="staging"),
        deploy("oldf", "failure", before(900), service="old"),
        deploy("oldo", "success", before(899), service="old"),
    ]
    land(store, *events)
    assert summary(store)["failed_deployment_recovery_time"] == (
        pytest.approx(median),
        "hours",
        band,
        30,
        n_deploys,
        len(episodes),
    )


@pytest.mark.parametrize(
    "first_hours_ago, successes, covered",
    [
        # 14 days of data: 28 successes / 14 d = 2.0 a day (not 28 / 30 = 0.93).
        (14 * 24, 28, 14.0),
        # A first deploy 6 h ago: at least 1 day, so 3 successes read 3.0 a day, not 12.
        (6, 3, 1.0),
        # 40 days of data: the window's 30 days.
        (40 * 24, 3, 30.0),
    ],
)
def test_dora_summary_frequency_divides_by_the_days_the_data_covers(store, first_hours_ago, successes, covered):
    # The first deploy is a staging failure: the data covers from it, whatever its environment or status.
    events = [deploy("first", "failure", before(first_hours_ago), environment="staging")]
    events += [deploy(f"ok{k}", "success", before(k + 0.5)) for k in range(successes)]
    land(store, *events)
    [(value, days_covered)] = rows(
        store, "SELECT value, days_covered FROM dora_summary WHERE metric = 'deployment_frequency' AND service = '*'"
    )
    assert (value, days_covered) == (pytest.approx(successes / covered), pytest.approx(covered))


def test_dora_summary_without_any_deploys_has_no_bands(store):
    assert [r[:4] for r in rows(store, "SELECT * FROM dora_summary")] == [
        ("deployment_frequency", None, "deploys per day", None),
        ("change_lead_time", None, "hours", None),
        ("change_failure_rate", None, "ratio", None),
        ("failed_deployment_recovery_time", None, "hours", None),
        ("rework_rate", None, "ratio", None),
        ("deploy_failure_rate", None, "ratio", None),
    ]

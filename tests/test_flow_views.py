"""Flow views on a hand-computed fixture. Board 'pay': Backlog(backlog) -> In Progress(active,
alias 'Doing') -> Review(queue) -> QA(queue) -> Done(done); positions 0..4. Now is pinned
at 2025-03-10 12:00 UTC. Every expected value is worked out in the comments."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest

from analytics.store import Store
from flowcore.batch import Envelope, prepare
from flowcore.workflow import StateDef, WipLimit, Workflow
from tests.helpers.store import pin_now, writer_rows

NOW = "2025-03-10 12:00:00"
PAY = (
    StateDef("Backlog", "backlog"),
    StateDef("In Progress", "active", ("Doing",)),
    StateDef("Review", "queue"),
    StateDef("QA", "queue"),
    StateDef("Done", "done"),
)
WORKFLOW = Workflow(boards={"pay": PAY}, wip_limits=(WipLimit("pay", ("Review",), 0, name="Review"),))


def ev(eid, ticket, frm, to, at, team=None, assignee=None):
    doc = {
        "event_id": eid,
        "ticket_id": ticket,
        "board": "pay",
        "from_state": frm,
        "to_state": to,
        "at": at,
        "ticket_type": "story",
    }
    if team:
        doc["team"] = team
    if assignee:
        doc["assignee"] = assignee
    return doc


EVENTS = [
    # A: forward flow, team core. committed 03-02 09:00, done 03-04 09:00 -> cycle 2 d, lead 3 d;
    #    active: In Progress 03-02 09 -> 03-03 09 = 1 d; wait: Review 12 h + QA 12 h = 1 d; efficiency 0.5.
    ev("a1", "A", None, "Backlog", "2025-03-01T09:00:00Z", "core"),
    ev("a2", "A", "Backlog", "In Progress", "2025-03-02T09:00:00Z", "core"),
    ev("a3", "A", "In Progress", "Review", "2025-03-03T09:00:00Z", "core"),
    ev("a4", "A", "Review", "QA", "2025-03-03T21:00:00Z", "core"),
    ev("a5", "A", "QA", "Done", "2025-03-04T09:00:00Z", "core"),
    # B: created directly in progress through the alias 'doing' (any case), skips Review and QA,
    #    no team. Done at 01:00+02:00 = 03-04 23:00 UTC: it counts on 03-04, not 03-05.
    #    cycle = lead = 03-02 10:00 -> 03-04 23:00 = 2 d 13 h = 2.5416667 d, all active.
    ev("b1", "B", None, "doing", "2025-03-02T10:00:00Z"),
    ev("b2", "B", "Doing", "Done", "2025-03-05T01:00:00+02:00"),
    # C: backward move and re-entry, then a handoff core -> qa.
    #    committed 03-02 12:00, done 03-06 12:00: cycle 4 d, lead 5 d.
    #    active: 1 d (03-02 12 -> 03-03 12) + 1 d (03-04 00 -> 03-05 00) = 2 d;
    #    wait: Review 0.5 d + Review 0.5 d + QA 1 d = 2 d; efficiency 0.5.
    ev("c1", "C", None, "Backlog", "2025-03-01T12:00:00Z", "core"),
    ev("c2", "C", "Backlog", "In Progress", "2025-03-02T12:00:00Z", "core"),
    ev("c3", "C", "In Progress", "Review", "2025-03-03T12:00:00Z", "core"),
    ev("c4", "C", "Review", "In Progress", "2025-03-04T00:00:00Z", "core"),
    ev("c5", "C", "In Progress", "Review", "2025-03-05T00:00:00Z", "core"),
    ev("c6", "C", "Review", "QA", "2025-03-05T12:00:00Z", "qa"),
    ev("c7", "C", "QA", "Done", "2025-03-06T12:00:00Z", "qa"),
    # D: reopened after done. committed 03-01 10:00; final done 03-04 10:00 -> cycle 3 d;
    #    active 1 d + 1 d = 2 d, wait 0, efficiency 1.0; reopened once; counts on 03-04 only.
    ev("d1", "D", None, "Backlog", "2025-03-01T08:00:00Z", "web"),
    ev("d2", "D", "Backlog", "In Progress", "2025-03-01T10:00:00Z", "web"),
    ev("d3", "D", "In Progress", "Done", "2025-03-02T10:00:00Z", "web"),
    ev("d4", "D", "Done", "In Progress", "2025-03-03T10:00:00Z", "web"),
    ev("d5", "D", "In Progress", "Done", "2025-03-04T10:00:00Z", "web"),
    # E: open; offsets around midnight; creation and commitment at the same instant
    #    (23:30-01:00 = 01:30+01:00 = 03-07 00:30 UTC). In Review since 00:30+02:00 on
    #    03-08 = 03-07 22:30 UTC. Age since commitment 3 d 11.5 h; in state 2 d 13.5 h = 2.5625 d.
    ev("e1", "E", None, "Backlog", "2025-03-06T23:30:00-01:00", "web"),
    ev("e2", "E", "Backlog", "In Progress", "2025-03-07T01:30:00+01:00", "web"),
    ev("e3", "E", "In Progress", "Review", "2025-03-08T00:30:00+02:00", "web"),
    # G: open, handoff by assignee (no team): ana -> bob, straight into active work (0 h wait).
    #    committed 03-08 10:00 -> age 2 d 2 h = 2.0833 d.
    ev("g1", "G", None, "Backlog", "2025-03-08T09:00:00Z", assignee="ana"),
    ev("g2", "G", "Backlog", "In Progress", "2025-03-08T10:00:00Z", assignee="bob"),
    # H: a state the mapping does not know: unmapped, counted, never dropped.
    ev("h1", "H", None, "Blocked", "2025-03-09T09:00:00Z", "web"),
]


def land(store: Store, events: list[dict], batches: int = 1) -> None:
    envs = [Envelope("t", 0, i, "transition", json.dumps(e).encode()) for i, e in enumerate(events)]
    size = max(1, len(envs) // batches + 1)
    for start in range(0, len(envs), size):
        store.commit(prepare(envs[start : start + size]))


def open_store(tmp_path, name="s.duckdb") -> Store:
    store = Store.open(tmp_path / name, workflow=WORKFLOW)
    pin_now(store, NOW)
    return store


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path) as s:
        land(s, EVENTS + EVENTS[:5] + EVENTS[-4:-3])  # plus re-sent duplicates of A and E
        yield s


def q(store: Store, sql: str) -> list[tuple]:
    return writer_rows(store, sql)


def approx_rows(rows):
    return [tuple(pytest.approx(v, abs=1e-6) if isinstance(v, float) else v for v in row) for row in rows]


def test_duplicates_do_not_count(store):
    assert q(store, "SELECT count(*) FROM transitions") == [(len(EVENTS),)]
    assert q(store, "SELECT count(*) FROM ticket_flow") == [(7,)]  # A B C D E G H


def test_ticket_flow(store):
    rows = q(
        store,
        """SELECT ticket_id, committed_at::VARCHAR, done_at::VARCHAR, cycle_time_days, lead_time_days,
                              wait_days, active_days, flow_efficiency, handoffs, reopened
                       FROM ticket_flow WHERE is_done ORDER BY ticket_id""",
    )
    b_cycle = 2 + 13 / 24
    assert rows == approx_rows(
        [
            ("A", "2025-03-02 09:00:00", "2025-03-04 09:00:00", 2.0, 3.0, 1.0, 1.0, 0.5, 0, 0),
            ("B", "2025-03-02 10:00:00", "2025-03-04 23:00:00", b_cycle, b_cycle, 0.0, b_cycle, 1.0, 0, 0),
            ("C", "2025-03-02 12:00:00", "2025-03-06 12:00:00", 4.0, 5.0, 2.0, 2.0, 0.5, 1, 0),
            ("D", "2025-03-01 10:00:00", "2025-03-04 10:00:00", 3.0, 3.0 + 2 / 24, 0.0, 2.0, 1.0, 0, 1),
        ]
    )


def test_open_tickets_and_current_state(store):
    rows = q(
        store,
        """SELECT ticket_id, state, category, committed_at::VARCHAR, time_in_state_days
                       FROM ticket_current WHERE category <> 'done' ORDER BY ticket_id""",
    )
    assert rows == approx_rows(
        [
            ("E", "Review", "queue", "2025-03-07 00:30:00", 2 + 13.5 / 24),
            ("G", "In Progress", "active", "2025-03-08 10:00:00", 2 + 2 / 24),
            ("H", "Blocked", "unmapped", None, 1 + 3 / 24),
        ]
    )
    # E so far: In Progress 03-07 00:30 -> 22:30 = 22 h active; Review 22:30 -> now = 2.5625 d waiting.
    assert approx_rows(q(store, "SELECT wait_days, active_days FROM ticket_flow WHERE ticket_id = 'E'")) == approx_rows(
        [(2 + 13.5 / 24, 22 / 24)]
    )


def test_same_instant_events_are_ordered_creation_first(store):
    rows = q(store, "SELECT seq, state, duration_days FROM state_visits WHERE ticket_id = 'E' ORDER BY seq")
    assert rows == approx_rows([(1, "Backlog", 0.0), (2, "In Progress", 22 / 24), (3, "Review", 2 + 13.5 / 24)])


def test_wip_now_with_limits_and_unmapped(store):
    rows = q(
        store,
        "SELECT state, category, wip, wip_limit, over_limit FROM wip_now WHERE board = 'pay' "
        "ORDER BY position NULLS LAST",
    )
    # Open: E in Review, G in In Progress, H in the unmapped 'Blocked'. Review's limit is 0.
    assert rows == [
        ("In Progress", "active", 1, None, False),
        ("Review", "queue", 1, 0, True),
        ("QA", "queue", 0, None, False),
        ("Blocked", "unmapped", 1, None, False),
    ]


def test_wip_daily_counts_the_state_at_the_end_of_each_day(store):
    rows = q(
        store,
        "SELECT day::VARCHAR, state, wip FROM wip_daily WHERE day IN ('2025-03-03', '2025-03-04') ORDER BY day, state",
    )
    # End of 03-03: B, D in progress (D reopened at 10:00); C in Review (it leaves at exactly
    #   03-04 00:00, so it was still there at the end of 03-03); A in QA since 21:00.
    # End of 03-04: A, B (23:00 UTC), D done; C back in progress since 03-04 00:00.
    assert rows == [
        ("2025-03-03", "In Progress", 2),
        ("2025-03-03", "QA", 1),
        ("2025-03-03", "Review", 1),
        ("2025-03-04", "In Progress", 1),
        ("2025-03-04", "QA", 0),
        ("2025-03-04", "Review", 0),
    ]


def test_cfd_daily_counts_tickets_at_or_past_each_state(store):
    rows = q(store, "SELECT state, tickets FROM cfd_daily WHERE day = '2025-03-03' ORDER BY tickets DESC, state")
    # End of 03-03: A in QA(3), B in In Progress(1), C in Review(2), D in In Progress(1).
    # >= Backlog: 4; >= In Progress: 4; >= Review: A, C = 2; >= QA: A = 1; Done: 0.
    assert rows == [("Backlog", 4), ("In Progress", 4), ("Review", 2), ("QA", 1), ("Done", 0)]
    last = q(store, "SELECT state, tickets FROM cfd_daily WHERE day = '2025-03-10' ORDER BY tickets DESC, state")
    # Now: A B C D done; E Review; G In Progress; H unmapped (not counted).
    assert last == [("Backlog", 6), ("In Progress", 6), ("Review", 5), ("Done", 4), ("QA", 4)]


def test_cfd_arrivals_daily_counts_first_arrivals_and_never_goes_down(store):
    day = "SELECT state, tickets FROM cfd_arrivals_daily WHERE day = ? ORDER BY tickets DESC, state"
    # End of 03-03. Furthest state reached so far: A QA (21:00), B In Progress, C Review, D Done (03-02 10:00;
    # back in In Progress since 03-03, but its arrival stays). >= Backlog / In Progress: A B C D = 4;
    # >= Review: A C D = 3; >= QA: A D = 2; Done: D = 1. (cfd_daily that day: 4 4 2 1 0, D counted where it is.)
    assert writer_rows(store, day, ["2025-03-03"]) == [
        ("Backlog", 4),
        ("In Progress", 4),
        ("Review", 3),
        ("QA", 2),
        ("Done", 1),
    ]
    # End of 03-04: C went back to In Progress, but reached Review on 03-03: >= Review A B C D = 4 (B skipped
    # Review and QA: passing them counts); >= QA: A B D = 3; Done: A B D = 3. cfd_daily: Review 3, C not counted.
    assert writer_rows(store, day, ["2025-03-04"]) == [
        ("Backlog", 4),
        ("In Progress", 4),
        ("Review", 4),
        ("Done", 3),
        ("QA", 3),
    ]
    # Today: E (Review) and G (In Progress) join; H is unmapped: Backlog 6, In Progress 6, Review A B C D E = 5,
    # QA and Done A B C D = 4.
    assert writer_rows(store, day, ["2025-03-10"]) == [
        ("Backlog", 6),
        ("In Progress", 6),
        ("Review", 5),
        ("Done", 4),
        ("QA", 4),
    ]
    drops = q(
        store,
        "SELECT count(*) FROM (SELECT tickets < lag(tickets) OVER (PARTITION BY board, state ORDER BY day) AS down "
        "FROM cfd_arrivals_daily) WHERE down",
    )
    assert drops == [(0,)]


def test_throughput_daily_and_weekly(store):
    rows = q(store, "SELECT day::VARCHAR, team, done FROM throughput_daily WHERE done > 0 ORDER BY day, team")
    # 03-04: A (core), B (no team; 23:00 UTC), D (web, final done only); 03-06: C (qa, its last team).
    assert rows == [
        ("2025-03-04", "core", 1),
        ("2025-03-04", "web", 1),
        ("2025-03-04", None, 1),
        ("2025-03-06", "qa", 1),
    ]
    zero_days = q(store, "SELECT count(*) FROM throughput_daily WHERE team = 'core' AND done = 0")
    assert zero_days == [(9,)]  # 03-01 .. 03-10 is 10 days, one with a finish
    weekly = q(store, "SELECT week::VARCHAR, sum(done) FROM throughput_weekly GROUP BY week ORDER BY week")
    assert weekly == [("2025-02-24", 0), ("2025-03-03", 4), ("2025-03-10", 0)]


def test_cycle_time_percentiles_interpolate_linearly(store):
    rows = q(
        store,
        "SELECT tickets, p50_days, p85_days, p95_days FROM cycle_time_percentiles "
        "WHERE board = 'pay' AND team = '*' AND ticket_type = '*'",
    )
    # Sorted cycle times: 2, 2.5416667 (B), 3, 4. Positions (n-1)p: 1.5, 2.55, 2.85.
    # p50 = 2.5416667 + 0.5 * (3 - 2.5416667); p85 = 3 + 0.55 * 1; p95 = 3 + 0.85 * 1.
    b = 2 + 13 / 24
    assert approx_rows(rows) == approx_rows([(4, b + 0.5 * (3 - b), 3.55, 3.85)])
    per_team = q(
        store, "SELECT team, tickets, p50_days FROM cycle_time_percentiles WHERE team = 'core' AND ticket_type = '*'"
    )
    assert per_team == [("core", 1, 2.0)]


def test_aging_wip_bands(store):
    rows = q(store, "SELECT ticket_id, age_days, band FROM aging_wip ORDER BY ticket_id")
    # E: 03-07 00:30 -> 03-10 12:00 = 3 d 11.5 h = 3.479 d: above p50 (2.77), not above p85 (3.55).
    # G: 03-08 10:00 -> 03-10 12:00 = 2 d 2 h = 2.083 d: within p50.
    assert approx_rows(rows) == approx_rows([("E", 3 + 11.5 / 24, "p50-p85"), ("G", 2 + 2 / 24, "within p50")])


def test_handoff_matrix(store):
    rows = q(store, "SELECT from_team, to_team, handoffs, median_wait_after_hours FROM handoff_matrix ORDER BY 1")
    # C: core -> qa at 03-05 12:00 into QA (a queue); next active or done entry: Done 03-06 12:00 = 24 h.
    # G: ana -> bob straight into In Progress = 0 h.
    assert rows == [("ana", "bob", 1, 0.0), ("core", "qa", 1, 24.0)]


def test_handoff_events_keep_teams_and_people_apart(store):
    rows = q(
        store,
        "SELECT level, from_party, to_party, team, previous_team, handoff_at::VARCHAR, wait_after_hours "
        "FROM handoff_events ORDER BY level",
    )
    # C: team core -> qa at 03-05 12:00 into QA (a queue), next active or done entry Done 03-06 12:00: 24 h.
    # G: no team, assignee ana -> bob straight into In Progress: 0 h. No other ticket changes team or assignee.
    assert rows == [
        ("person", "ana", "bob", None, None, "2025-03-08 10:00:00", 0.0),
        ("team", "core", "qa", "qa", "core", "2025-03-05 12:00:00", 24.0),
    ]


def test_state_time_percentiles_and_aging_wip_read_both_ways(tmp_path):
    # Ten tickets T0..T9 each wait 1..10 h in Review (entered 03-09 00:00, In Progress at 1..10 h): p85 over
    # 1..10 h at rank 0.85 * 9 = 7.65: 8 + 0.65 * (9 - 8) = 8.65 h. p50 at rank 4.5: 5.5 h. An eleventh visit
    # that ended 91 days before now is outside the 90-day history. In Progress has only open visits: no row.
    events = []
    for n in range(10):
        events += [
            ev(f"t{n}a", f"T{n}", None, "Review", "2025-03-09T00:00:00Z"),
            ev(f"t{n}b", f"T{n}", "Review", "In Progress", f"2025-03-09T{n + 1:02d}:00:00Z"),
        ]
    events += [
        ev("oa", "OLD", None, "Review", "2024-12-08T00:00:00Z"),
        ev("ob", "OLD", "Review", "Done", "2024-12-09T11:00:00Z"),  # left 91 d 1 h before 03-10 12:00
        # U: in Review since 03-10 03:00 = 9 h > 8.65 h; V since 03-10 04:00 = 8 h. Committed 03-10 00:00.
        ev("u1", "U", None, "In Progress", "2025-03-10T00:00:00Z", team="a", assignee="x"),
        ev("u2", "U", "In Progress", "Review", "2025-03-10T03:00:00Z", team="b", assignee="y"),
        ev("v1", "V", None, "Review", "2025-03-10T04:00:00Z"),
    ]
    with open_store(tmp_path) as store:
        land(store, events)
        store.in_transaction(
            lambda con: con.executemany(
                "INSERT INTO alerts (alert_id, rule, kind, level, board, limit_name, states, ticket_id, threshold, "
                "value, peak_value, tickets, status, started_at, notified) "
                "VALUES (?, 'r', 'aging', 'aging', 'pay', ?, ['s'], ?, 31140, 32400, 32400, '[]', ?, "
                "TIMESTAMP '2025-03-10 12:00', false)",
                # Open for U in Review; for V resolved, and open for V in a state it is no longer in.
                [("u", "Review", "U", "open"), ("v1", "Review", "V", "resolved"), ("v2", "QA", "V", "open")],
            )
        )
        assert approx_rows(q(store, "SELECT state, visits, p50_days, p85_days FROM state_time_percentiles")) == (
            approx_rows([("Review", 10, 5.5 / 24, 8.65 / 24)])
        )
        rows = q(
            store,
            "SELECT ticket_id, time_in_state_days, state_p85_days, state_band, aging_alert, band "
            "FROM aging_wip WHERE ticket_id IN ('U', 'V') ORDER BY ticket_id",
        )
        # Age since commitment reads differently: OLD, the one finished ticket, took 35 h (cycle p50 1.46 d);
        # U (12 h) and V (8 h) are within p50, though U has been in Review longer than Review's p85.
        assert approx_rows(rows) == approx_rows(
            [
                ("U", 9 / 24, 8.65 / 24, "beyond state p85", True, "within p50"),
                ("V", 8 / 24, 8.65 / 24, "within state p85", False, "within p50"),
            ]
        )
        # U changed team and assignee in one transition: one handoff of each level, never a mixed pair.
        handoffs = q(store, "SELECT level, from_party, to_party FROM handoff_events ORDER BY level")
        assert handoffs == [("person", "x", "y"), ("team", "a", "b")]


def test_arrival_order_and_batching_do_not_change_any_view(store, tmp_path):
    shuffled = EVENTS[::-1] + EVENTS[3:9]  # reverse order, plus re-sent events in between
    random.Random(4).shuffle(shuffled)
    views = [
        "state_visits",
        "ticket_current",
        "ticket_flow",
        "wip_now",
        "wip_daily",
        "cfd_daily",
        "cfd_arrivals_daily",
        "throughput_daily",
        "throughput_weekly",
        "cycle_time_percentiles",
        "aging_wip",
        "handoff_matrix",
        "handoff_events",
    ]
    with open_store(tmp_path, "other.duckdb") as other:
        land(other, shuffled, batches=7)
        for view in views:
            sql = f"SELECT * FROM {view} ORDER BY ALL"
            assert q(other, sql) == q(store, sql), view


def test_changing_the_mapping_rederives_without_reingesting(tmp_path):
    with open_store(tmp_path) as store:
        land(store, EVENTS)
    # QA becomes active work; 'Blocked' gets mapped as a queue state.
    remapped = Workflow(boards={"pay": PAY[:3] + (StateDef("QA", "active"), StateDef("Blocked", "queue"), PAY[4])})
    with Store.open(tmp_path / "s.duckdb", workflow=remapped) as store:
        pin_now(store, NOW)
        assert q(store, "SELECT count(*) FROM transitions") == [(len(EVENTS),)]
        # A: QA's 12 h move from wait to active: wait 0.5 d, active 1.5 d, efficiency 0.75.
        assert q(store, "SELECT wait_days, active_days, flow_efficiency FROM ticket_flow WHERE ticket_id = 'A'") == [
            (0.5, 1.5, 0.75)
        ]
        assert q(store, "SELECT state, category FROM ticket_current WHERE ticket_id = 'H'") == [("Blocked", "queue")]


def test_same_instant_moves_are_ordered_by_mapped_states_not_raw_names(tmp_path):
    # 'Doing' is an alias of In Progress. Two moves of one ticket at one instant connect through
    # In Progress, once spelled 'doing' and once 'In Progress': the move into it comes first, so
    # the ticket ends the instant in Review. (Ordered by event_id, x1/y1 would come first.)
    events = [
        # X: Backlog -> In Progress -> Review at 03-09 09:00, Done at 11:00: 2 h waiting in
        #    Review, 0 h active (In Progress lasts no time). committed 09:00, done 11:00.
        ev("x0", "X", None, "Backlog", "2025-03-09T08:00:00Z"),
        ev("x1", "X", "In Progress", "Review", "2025-03-09T09:00:00Z"),
        ev("x2", "X", "Backlog", "doing", "2025-03-09T09:00:00Z"),
        ev("x3", "X", "Review", "Done", "2025-03-09T11:00:00Z"),
        # Y: the alias on the other side; still in Review since 03-10 09:00 = 3 h before now.
        ev("y0", "Y", None, "Backlog", "2025-03-09T08:00:00Z"),
        ev("y1", "Y", "Doing", "Review", "2025-03-10T09:00:00Z"),
        ev("y2", "Y", "Backlog", "In Progress", "2025-03-10T09:00:00Z"),
    ]
    with open_store(tmp_path) as store:
        land(store, events)
        visits = q(store, "SELECT seq, state, duration_days FROM state_visits WHERE ticket_id = 'X' ORDER BY seq")
        assert approx_rows(visits) == approx_rows(
            [(1, "Backlog", 1 / 24), (2, "In Progress", 0.0), (3, "Review", 2 / 24), (4, "Done", 1 + 1 / 24)]
        )  # Done: 03-09 11:00 -> now 03-10 12:00 = 25 h
        flow = q(store, "SELECT wait_days, active_days, flow_efficiency FROM ticket_flow WHERE ticket_id = 'X'")
        assert approx_rows(flow) == approx_rows([(2 / 24, 0.0, 0.0)])  # 0 active / (0 + 2 h)
        current = q(store, "SELECT state, category, time_in_state_days FROM ticket_current WHERE ticket_id = 'Y'")
        assert approx_rows(current) == approx_rows([("Review", "queue", 3 / 24)])


def test_an_event_without_a_team_keeps_the_tickets_team_as_responsible_party(tmp_path):
    events = [
        # K: team alpha (ana); k2 names only the assignee bob; k3 names alpha again; k4 hands to beta.
        ev("k1", "K", None, "Backlog", "2025-03-09T08:00:00Z", team="alpha", assignee="ana"),
        ev("k2", "K", "Backlog", "In Progress", "2025-03-09T09:00:00Z", assignee="bob"),
        ev("k3", "K", "In Progress", "Review", "2025-03-09T10:00:00Z", team="alpha"),
        ev("k4", "K", "Review", "QA", "2025-03-09T12:00:00Z", team="beta"),
        ev("k5", "K", "QA", "Done", "2025-03-09T15:00:00Z"),
    ]
    with open_store(tmp_path) as store:
        land(store, events)
        # The party is the team carried forward: alpha, alpha, alpha, beta, beta. One handoff, not
        # three (alpha -> bob -> alpha -> beta).
        visits = q(store, "SELECT seq, party, handoff, from_party FROM state_visits ORDER BY seq")
        assert visits == [
            (1, "alpha", False, None),
            (2, "alpha", False, None),
            (3, "alpha", False, None),
            (4, "beta", True, "alpha"),
            (5, "beta", False, None),
        ]
        assert q(store, "SELECT handoffs FROM ticket_flow") == [(1,)]
        # alpha -> beta at 12:00 into QA (a queue); next active or done entry: Done at 15:00 = 3 h.
        assert q(store, "SELECT from_team, to_team, handoffs, median_wait_after_hours FROM handoff_matrix") == [
            ("alpha", "beta", 1, 3.0)
        ]
        # handoff_events already kept levels apart: ana -> bob between people (into In Progress: 0 h).
        assert q(store, "SELECT level, from_party, to_party, wait_after_hours FROM handoff_events ORDER BY level") == [
            ("person", "ana", "bob", 0.0),
            ("team", "alpha", "beta", 3.0),
        ]


@pytest.mark.parametrize("workflow", [WORKFLOW, None], ids=["with-settings", "stored-mapping"])
def test_a_store_derived_by_older_sql_is_rederived_when_opened_for_writing(tmp_path, workflow):
    # K as above: one handoff (alpha -> beta). An older flowmeter derived 3 (alpha -> bob -> alpha
    # -> beta) and kept no record of its derive SQL: stand in for it by writing its figure and
    # removing the record.
    events = [
        ev("k1", "K", None, "Backlog", "2025-03-09T08:00:00Z", team="alpha"),
        ev("k2", "K", "Backlog", "In Progress", "2025-03-09T09:00:00Z", assignee="bob"),
        ev("k3", "K", "In Progress", "Review", "2025-03-09T10:00:00Z", team="alpha"),
        ev("k4", "K", "Review", "QA", "2025-03-09T12:00:00Z", team="beta"),
    ]
    path = tmp_path / "s.duckdb"

    def make_old(con):
        con.execute("UPDATE tickets SET handoffs = 3")
        con.execute("DELETE FROM flowmeter_meta WHERE key = 'derivation'")

    with open_store(tmp_path) as store:
        land(store, events)
        store.in_transaction(make_old)
    with Store.open(path, workflow=workflow) as store:
        assert q(store, "SELECT handoffs FROM ticket_flow") == [(1,)]
        # Derived by this SQL now: opening again does not re-derive (a figure written by hand stays).
        store.in_transaction(lambda con: con.execute("UPDATE tickets SET handoffs = 7"))
    with Store.open(path, workflow=workflow) as store:
        assert q(store, "SELECT handoffs FROM ticket_flow") == [(7,)]


def test_a_store_from_before_the_derived_handoff_columns_gains_them_when_opened_for_writing(tmp_path):
    # K: Backlog (alpha) 08:00 -> In Progress (bob) 09:00 -> Review (alpha) 10:00 -> QA (beta)
    # 12:00 -> In Progress (beta) 15:30. One team handoff, alpha -> beta at 12:00 into QA (a
    # queue); the next active entry is 15:30, so it waited 3.5 h. Person handoffs: none (bob is
    # the only assignee ever named, carried forward).
    events = [
        ev("k1", "K", None, "Backlog", "2025-03-09T08:00:00Z", team="alpha"),
        ev("k2", "K", "Backlog", "In Progress", "2025-03-09T09:00:00Z", assignee="bob"),
        ev("k3", "K", "In Progress", "Review", "2025-03-09T10:00:00Z", team="alpha"),
        ev("k4", "K", "Review", "QA", "2025-03-09T12:00:00Z", team="beta"),
        ev("k5", "K", "QA", "In Progress", "2025-03-09T15:30:00Z", team="beta"),
    ]
    path = tmp_path / "s.duckdb"

    def make_old(con):
        for column in ("previous_team", "previous_assignee", "worked_at"):
            con.execute(f"ALTER TABLE visits DROP COLUMN {column}")
        con.execute("DELETE FROM flowmeter_meta WHERE key = 'derivation'")

    with open_store(tmp_path) as store:
        land(store, events)
        store.in_transaction(make_old)
    with Store.open(path, workflow=WORKFLOW) as store:
        # The handoff at 12:00 waits until the In Progress entry at 15:30: 3.5 h.
        assert q(store, "SELECT level, from_party, to_party, handoff_at, wait_after_hours FROM handoff_events") == [
            ("team", "alpha", "beta", datetime(2025, 3, 9, 12), 3.5)
        ]

"""The alert evaluator on a real DuckDB store: WIP is judged from each ticket's current state
(by event time), breaches and warnings open episodes with their tickets, notices land in the
outbox once per route, group/team/person limits count only their tickets, aging compares
with the state's p85. Board 'pay': Backlog -> In Progress (active) -> Review (queue) ->
QA (queue) -> Done."""

from __future__ import annotations

import json
from datetime import timedelta

from analytics.store import Store
from flowcore.workflow import WipLimit, Workflow
from tests.helpers.alerts import PAY, T0, judge, land, make, move


def alerts(store: Store) -> list[dict]:
    cols, rows = store.read("SELECT * FROM alerts ORDER BY started_at, level")
    return [dict(zip(cols, r)) for r in rows]


def deliveries(store: Store) -> list[tuple]:
    return store.read("SELECT notice, route, route_kind, status FROM alert_deliveries ORDER BY created_at, route")[1]


def test_a_breach_opens_one_episode_with_its_tickets_and_one_notice_per_route(tmp_path):
    review = WipLimit("pay", ("Review",), 2, routes=("hook", "chat"), name="Review")
    store, evaluator = make(tmp_path, review)
    # R1 and R2 enter Review at 0 and 10 min: WIP 2 = the limit, no breach.
    land(store, move("R1", "In Progress", "Review", 0), move("R2", "In Progress", "Review", 10))
    assert judge(store, evaluator, 11).fired == 0 and alerts(store) == []
    # R3 at 20 min: WIP 3 > 2 -> one breach, one notice per route (hook, chat).
    land(store, move("R3", "In Progress", "Review", 20))
    result = judge(store, evaluator, 30)
    assert (result.fired, result.deliveries) == (1, 2)
    [alert] = alerts(store)
    assert (
        alert["level"],
        alert["board"],
        alert["limit_name"],
        alert["value"],
        alert["threshold"],
        alert["status"],
    ) == ("breach", "pay", "Review", 3, 2, "open")
    tickets = json.loads(alert["tickets"])
    # Oldest in the state first; ages at 30 min: R1 0.5 h, R2 20 min = 0.3 h, R3 10 min = 0.2 h.
    assert [(t["ticket_id"], t["age_hours"]) for t in tickets] == [("R1", 0.5), ("R2", 0.3), ("R3", 0.2)]
    assert deliveries(store) == [("fired", "chat", "slack", "pending"), ("fired", "hook", "webhook", "pending")]
    payload = json.loads(store.read("SELECT payload FROM alert_deliveries LIMIT 1")[1][0][0])
    assert payload["specversion"] == "1.0" and payload["type"] == "dev.flowmeter.alert.fired"
    assert payload["data"]["link"].endswith(f"/alerts?alert={alert['alert_id']}")
    assert payload["data"]["summary"] == "WIP limit breached: Review on board pay holds 3 tickets, limit 2."
    # Still in breach, even higher: nothing new is sent; the peak is kept.
    land(store, move("R4", "In Progress", "Review", 31))
    assert judge(store, evaluator, 32).fired == 0
    [alert] = alerts(store)
    assert (alert["value"], alert["peak_value"]) == (4, 4) and len(deliveries(store)) == 2


def test_recovery_after_the_cooldown_sends_one_notice(tmp_path):
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 1, name="Review"), cooldown=60)
    land(store, move("R1", "In Progress", "Review", 0), move("R2", "In Progress", "Review", 1))
    assert judge(store, evaluator, 2).fired == 1
    land(store, move("R2", "Review", "QA", 3))  # WIP 1: kept from minute 4
    assert judge(store, evaluator, 4).recovering == 1
    assert judge(store, evaluator, 4.5).recovered == 0  # 30 s < 60 s cooldown
    assert judge(store, evaluator, 5).recovered == 1  # 60 s after minute 4
    [alert] = alerts(store)
    assert alert["status"] == "resolved" and alert["resolved_at"] == T0 + timedelta(minutes=5)
    assert deliveries(store) == [("fired", "log", "log", "pending"), ("recovered", "log", "log", "pending")]


def test_a_late_event_counts_for_the_state_it_leaves_the_ticket_in(tmp_path):
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 1, name="Review"))
    land(store, move("R1", "In Progress", "Review", 0))
    # R2 went Review at 10 and Done at 20; the Done event arrives first, the Review one late.
    land(store, move("R2", "Review", "Done", 20))
    judge(store, evaluator, 21)
    land(store, move("R2", "In Progress", "Review", 10))
    # By arrival order Review would hold R1 and R2 (2 > 1); by event time R2 is Done: WIP 1.
    assert judge(store, evaluator, 22).fired == 0 and alerts(store) == []


def test_group_team_and_person_limits_count_only_their_tickets(tmp_path):
    group = WipLimit("pay", ("Review", "QA"), 2, name="Review + QA")
    team = WipLimit("pay", ("In Progress",), 1, team="web", name="web dev")
    person = WipLimit("pay", ("In Progress", "Review", "QA"), 1, person="bo", name="bo")
    store, evaluator = make(tmp_path, group, team, person)
    land(
        store,
        move("A", "In Progress", "Review", 0),  # group 1
        move("B", "Review", "QA", 1),  # group 2 (= limit)
        move("C", "Backlog", "In Progress", 2, team="core"),  # web dev 0 (core)
        move("D", "Backlog", "In Progress", 3, team="web"),  # web dev 1 (= limit)
        move("E", "Backlog", "In Progress", 4, assignee="bo"),
    )  # bo 1 (= limit)
    assert judge(store, evaluator, 5).fired == 0
    land(
        store,
        move("F", "In Progress", "QA", 6),  # group 3 > 2: breach
        move("G", "Backlog", "In Progress", 7, team="core"),  # web dev still 1
        move("H", "Backlog", "In Progress", 8, team="web", assignee="bo"),
    )  # web dev 2 > 1, bo 2 > 1
    assert judge(store, evaluator, 9).fired == 3
    fired = {(a["limit_name"], a["team"], a["person"], int(a["value"])) for a in alerts(store)}
    assert fired == {("Review + QA", None, None, 3), ("web dev", "web", None, 2), ("bo", None, "bo", 2)}


def test_a_warning_fires_below_the_limit_and_is_quiet_while_the_limit_is_breached(tmp_path):
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 3, warn_at=2, name="Review"), cooldown=0)
    land(store, move("R1", "In Progress", "Review", 0), move("R2", "In Progress", "Review", 1))
    judge(store, evaluator, 2)  # WIP 2 >= warn_at 2: warning, notified
    land(store, move("R3", "In Progress", "Review", 3), move("R4", "In Progress", "Review", 4))
    judge(store, evaluator, 5)  # WIP 4 > 3: breach
    notices = store.read(
        "SELECT a.level, d.notice FROM alert_deliveries d JOIN alerts a USING (alert_id) ORDER BY d.created_at"
    )[1]
    assert notices == [("warning", "fired"), ("breach", "fired")]
    # A jump straight into breach opens the warning episode too, but it says nothing.
    store2, evaluator2 = make(tmp_path, WipLimit("pay", ("Review",), 1, warn_at=1, name="Review"), name="b.duckdb")
    land(store2, move("S1", "In Progress", "Review", 0), move("S2", "In Progress", "Review", 1))
    assert judge(store2, evaluator2, 2).fired == 1
    assert sorted(store2.read("SELECT level, notified FROM alerts")[1]) == [("breach", True), ("warning", False)]


def test_a_removed_limit_resolves_its_open_episode_quietly(tmp_path):
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 0, name="Review"))
    land(store, move("R1", "In Progress", "Review", 0))
    assert judge(store, evaluator, 1).fired == 1
    store.sync_workflow(Workflow(boards={"pay": PAY}))
    judge(store, evaluator, 2)
    assert [(a["status"], a["resolved_at"]) for a in alerts(store)] == [("resolved", T0 + timedelta(minutes=2))]
    assert [d[0] for d in deliveries(store)] == ["fired"]  # no recovery notice for a removed limit


def test_aging_fires_past_the_states_p85_once_and_resolves_when_the_ticket_moves(tmp_path):
    store, evaluator = make(tmp_path, aging_min_samples=4, aging_routes=("hook",))
    # History: four finished Review visits of 10, 20, 30 and 40 minutes.
    # p85 (linear) = 30 + 0.55 * (40 - 30) = 35.5 min: at position 0.85 * 3 = 2.55.
    events = []
    for i, minutes in enumerate((10, 20, 30, 40)):
        events += [move(f"H{i}", "In Progress", "Review", 0), move(f"H{i}", "Review", "QA", minutes)]
    # O has been in Review since minute 0; Y since minute 30.
    events += [move("O", "In Progress", "Review", 0), move("Y", "In Progress", "Review", 30)]
    land(store, *events)
    assert judge(store, evaluator, 35, aging=True).fired == 0  # O at 35 min < 35.5
    result = judge(store, evaluator, 36, aging=True)  # O at 36 min > 35.5; Y at 6 min
    assert (result.fired, result.deliveries) == (1, 1)
    [alert] = alerts(store)
    assert (alert["kind"], alert["ticket_id"], alert["limit_name"], alert["value"]) == ("aging", "O", "Review", 36 * 60)
    assert abs(alert["threshold"] - 35.5 * 60) < 1e-6
    assert judge(store, evaluator, 37, aging=True).fired == 0  # the same visit: no second alert
    assert judge(store, evaluator, 38, aging=False).fired == 0  # batch judgements leave aging alone
    land(store, move("O", "Review", "QA", 39))
    judge(store, evaluator, 40, aging=True)
    assert alerts(store)[0]["status"] == "resolved"
    assert deliveries(store) == [("fired", "hook", "webhook", "pending")]


def test_flowmeter_alerts_lists_open_breaches_from_the_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from flowmeter.cli import cli

    monkeypatch.chdir(tmp_path)
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 1, name="Review"), cooldown=0)
    land(store, move("R1", "In Progress", "Review", 0), move("R2", "In Progress", "Review", 1))
    judge(store, evaluator, 2)
    store.close()
    result = CliRunner().invoke(cli, ["alerts", "--db", str(tmp_path / "a.duckdb"), "--format", "json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.output)
    assert (
        row["level"],
        row["board"],
        row["limit"],
        row["value"],
        row["threshold"],
        row["status"],
        row["notices"],
    ) == ("breach", "pay", "Review", 2.0, 1.0, "open", "1 pending")
    # --kind is a bound parameter of the alert_list query: the one WIP alert, no aging ones.
    by_kind = {
        kind: CliRunner().invoke(cli, ["alerts", "--kind", kind, "--db", str(tmp_path / "a.duckdb")]).output
        for kind in ("wip", "aging")
    }
    assert "breach" in by_kind["wip"] and by_kind["aging"].startswith("No open alerts")
    # The table says whole tickets: 2 in Review against a limit of 1, never "2.0 / 1.0".
    header, row = by_kind["wip"].splitlines()[0], by_kind["wip"].splitlines()[2]
    assert header.split()[:6] == ["level", "board", "limit", "ticket", "seen", "against"]
    assert "2 tickets  1 ticket " in row and ".0" not in row
    # Resolved: not open any more, but --all still lists it.
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 1, name="Review"), cooldown=0)
    land(store, move("R2", "Review", "QA", 3))
    judge(store, evaluator, 4)
    store.close()
    assert CliRunner().invoke(cli, ["alerts", "--db", str(tmp_path / "a.duckdb")]).output.startswith("No open alerts")
    listed = CliRunner().invoke(cli, ["alerts", "--all", "--db", str(tmp_path / "a.duckdb"), "--format", "csv"])
    assert listed.output.count("\n") == 2 and ",resolved," in listed.output  # header + the one episode


def test_the_outbox_backs_off_1_2_4_seconds_then_keeps_the_notice_visible_as_undelivered(tmp_path):
    from alerting import outbox

    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 0, routes=("hook",), name="Review"))
    land(store, move("R1", "In Progress", "Review", 0))
    judge(store, evaluator, 1)
    now = T0 + timedelta(minutes=2)
    [due] = store.in_transaction(outbox.due, now, frozenset())
    assert store.in_transaction(outbox.due, now, frozenset({due.delivery_id})) == []  # in flight: not again
    # Retry budget 3: attempts 1, 2, 3 fail and wait 1, 2, 4 s (capped by backoff_max 3 -> 1, 2, 3); 4 fails for good.
    waits = []
    for attempt in range(1, 5):
        if attempt > 1:  # each retry is claimed once due, which counts its attempt
            assert store.in_transaction(outbox.due, now - timedelta(seconds=0.5), frozenset()) == []  # not yet
            [due] = store.in_transaction(outbox.due, now, frozenset())
        assert due.attempts == attempt
        status = store.in_transaction(outbox.failed, due.delivery_id, now, f"failure {attempt}", 3, 3.0)
        row = store.read("SELECT status, attempts, next_attempt_at, last_error FROM alert_deliveries")[1][0]
        assert row[:2] == (status, attempt) and row[3] == f"failure {attempt}"
        waits.append((row[2] - now).total_seconds() if row[2] else None)
        now = row[2] or now
    assert waits == [1.0, 2.0, 3.0, None] and status == "undelivered"
    assert store.in_transaction(outbox.due, now + timedelta(hours=1), frozenset()) == []  # never tried again
    assert store.read("SELECT undelivered, last_error FROM alert_log")[1] == [(1, "failure 4")]

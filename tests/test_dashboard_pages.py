"""Every dashboard page (AppTest on the real script) against a real store file holding a known
fixture, read the way the dashboard reads with no worker running: the file, read-only.

Event times are relative to BASE = today 00:00 UTC - 10 days, so everything sits in the
default date range (the last 30 days) and in dora_summary's trailing 30 days. Expected
values are clock-independent (counts, states, cycle times of finished tickets, handoffs,
orders), each worked out in a comment."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.store import Store
from dashboard.data import Filters, literal
from flowmeter.workflow import StateDef, WipLimit, Workflow
from streams.batch import Envelope, prepare

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
STATES = (StateDef("Backlog", "backlog"), StateDef("In Progress", "active"), StateDef("Review", "queue"),
          StateDef("QA", "queue"), StateDef("Done", "done"))
WORKFLOW = Workflow(boards={"pay": STATES, "ops": STATES},
                    wip_limits=(WipLimit("pay", ("Review",), 0, name="Review"),))
BASE = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(days=10)


def at(day: int, hour: float = 0) -> str:
    return (BASE + timedelta(days=day, hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ev(eid, ticket, frm, to, when, board="pay", team=None, assignee=None, ticket_type="story"):
    doc = {"event_id": eid, "ticket_id": ticket, "board": board, "from_state": frm, "to_state": to, "at": when,
           "ticket_type": ticket_type}
    doc.update({k: v for k, v in (("team", team), ("assignee", assignee)) if v})
    return doc


TRANSITIONS = [
    # pay/A, core: committed d1 09:00, done d3 09:00 -> cycle 2 d. Active In Progress 1 d;
    #   wait Review 12 h + QA 12 h = 1 d; efficiency 0.5. No handoff.
    ev("a1", "A", None, "Backlog", at(0, 9), team="core"),
    ev("a2", "A", "Backlog", "In Progress", at(1, 9), team="core"),
    ev("a3", "A", "In Progress", "Review", at(2, 9), team="core"),
    ev("a4", "A", "Review", "QA", at(2, 21), team="core"),
    ev("a5", "A", "QA", "Done", at(3, 9), team="core"),
    # pay/C: committed d1 12:00, back from Review once, done d5 12:00 -> cycle 4 d.
    #   active 1 d + 1 d = 2 d; wait Review 0.5 d + 0.5 d, QA 1 d = 2 d; efficiency 0.5.
    #   One handoff core -> qa (c6).
    ev("c1", "C", None, "Backlog", at(0, 12), team="core"),
    ev("c2", "C", "Backlog", "In Progress", at(1, 12), team="core"),
    ev("c3", "C", "In Progress", "Review", at(2, 12), team="core"),
    ev("c4", "C", "Review", "In Progress", at(3), team="core"),
    ev("c5", "C", "In Progress", "Review", at(4), team="core"),
    ev("c6", "C", "Review", "QA", at(4, 12), team="qa"),
    ev("c7", "C", "QA", "Done", at(5, 12), team="qa"),
    # pay/E, open in Review since d6 22:30 (over Review's limit of 0). Committed d6 00:30.
    ev("e1", "E", None, "Backlog", at(6, 0.5), team="web"),
    ev("e2", "E", "Backlog", "In Progress", at(6, 0.5), team="web"),
    ev("e3", "E", "In Progress", "Review", at(6, 22.5), team="web"),
    # pay/G, open in In Progress, handoff by assignee ana -> bob. Committed d7 10:00.
    ev("g1", "G", None, "Backlog", at(7, 9), assignee="ana"),
    ev("g2", "G", "Backlog", "In Progress", at(7, 10), assignee="bob"),
    # ops/X, a bug, team web: committed d2 09:00, done d3 09:00 -> cycle 1 d, all active: efficiency 1.0.
    ev("x1", "X", None, "Backlog", at(1, 9), board="ops", team="web", ticket_type="bug"),
    ev("x2", "X", "Backlog", "In Progress", at(2, 9), board="ops", team="web", ticket_type="bug"),
    ev("x3", "X", "In Progress", "Done", at(3, 9), board="ops", team="web", ticket_type="bug"),
    # ops/Y, open in In Progress, committed d8 09:00 (the youngest open ticket).
    ev("y1", "Y", None, "In Progress", at(8, 9), board="ops", team="web", ticket_type="bug"),
]
DEPLOYS = [
    # api/production: success d3 10:00 carrying commit s1 (committed d2 10:00 -> lead time 24 h),
    # failure d4 10:00, success d4 12:00 -> one failure episode recovered in 2 h.
    {"event_id": "p1", "service": "api", "environment": "production", "status": "success", "at": at(3, 10),
     "commits": [{"sha": "s1", "committed_at": at(2, 10)}], "tickets": ["A"]},
    {"event_id": "p2", "service": "api", "environment": "production", "status": "failure", "at": at(4, 10)},
    {"event_id": "p3", "service": "api", "environment": "production", "status": "success", "at": at(4, 12)},
]


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "flow.duckdb"
    envelopes = [Envelope("flow.transitions", 0, n, "transition", json.dumps(e).encode())
                 for n, e in enumerate(TRANSITIONS)]
    envelopes += [Envelope("flow.deploys", 0, n, "deploy", json.dumps(d).encode()) for n, d in enumerate(DEPLOYS)]
    envelopes.append(Envelope("flow.transitions", 0, 99, "transition", b"{broken"))  # one dead letter
    with Store.open(path, workflow=WORKFLOW) as store:
        store.commit(prepare(envelopes))
    for name in list(__import__("os").environ):
        if name.startswith("FLOWMETER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWMETER_DB", str(path))  # no worker: the dashboard reads the file read-only
    return path


def open_page(page: str | None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception, app.exception
    if page:
        app.switch_page(f"pages_/{page}.py").run()
        assert not app.exception, app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def pick_board(app: AppTest, board: str) -> AppTest:
    app.selectbox(key="board").select(board).run()
    assert not app.exception, app.exception
    return app


def test_literal_doubles_quotes_so_a_value_cannot_end_the_string():
    assert literal("o'brien") == "'o''brien'"
    assert literal("x' OR TRUE --") == "'x'' OR TRUE --'"
    f = Filters("pay's", None, None, BASE.date(), BASE.date())
    day = BASE.date()
    assert f.where(day="day") == f"TRUE AND board = 'pay''s' AND day BETWEEN DATE '{day}' AND DATE '{day}'"


def test_ingest_is_the_default_page_and_reads_the_file(db):
    app = open_page(None)
    assert app.title[0].value == "Ingest"
    # 5 (A) + 7 (C) + 3 (E) + 2 (G) + 3 (X) + 1 (Y) = 21 transitions, 3 deploys, 1 malformed message.
    assert metrics(app) == {"Transitions landed": "21", "Deploys landed": "3", "Dead letters": "1",
                            "Duplicates dropped": "0"}
    assert {o for o in app.selectbox(key="board").options} == {"All", "ops", "pay"}


def test_overview(db):
    app = open_page("overview")
    shown = metrics(app)
    # WIP: pay E (Review) + G (In Progress), ops Y (In Progress) = 3; Review on pay is over its limit of 0.
    assert shown["WIP now"] == "3" and shown["States over limit"] == "1"
    # Flow efficiency of A, C, X = (0.5 + 0.5 + 1.0) / 3 = 0.667.
    assert shown["Flow efficiency"] == "67%"
    # DORA, production over 30 days: 2 successes / 30 = 0.07/day (>= 1/30: medium); lead time 24 h (not < 24:
    # high); failure rate 1/3 = 33% (> 15%: low); recovery 2 h (< 24 h: high).
    assert (shown["Deployment frequency"], shown["Change lead time"], shown["Change failure rate"],
            shown["Recovery time"]) == ("0.07 /day", "24.0 h", "33%", "2.0 h")
    assert {m.label: m.delta for m in app.metric if m.label in ("Deployment frequency", "Change lead time",
            "Change failure rate", "Recovery time")} == {"Deployment frequency": "medium", "Change lead time": "high",
                                                         "Change failure rate": "low", "Recovery time": "high"}
    wip = app.dataframe[1].value
    over = wip[wip["over_limit"]]
    assert list(zip(over["board"], over["state"], over["wip"])) == [("pay", "Review", 1)]
    assert "s behind" in app.caption[0].value

    pick_board(app, "pay")
    shown = metrics(app)
    # pay only: WIP E + G = 2; efficiency (0.5 + 0.5) / 2 = 50%;
    # cycle times 2 d and 4 d: p50 = 3.0, p85 = 2 + 0.85 * 2 = 3.7.
    assert (shown["WIP now"], shown["Flow efficiency"]) == ("2", "50%")
    assert (shown["Cycle time p50"], shown["Cycle time p85"], shown["Finished tickets"]) == ("3.0 d", "3.7 d", "2")


def test_filters_survive_page_changes(db):
    app = pick_board(open_page("overview"), "ops")
    app.switch_page("pages_/cycle_time.py").run()
    assert app.selectbox(key="board").value == "ops"
    assert metrics(app)["Finished"] == "1"  # X only


def test_flow(db):
    app = open_page("flow")
    # Queue wait by state: Review = A 0.5 + C 0.5 + C 0.5 + E (open since d6 22:30, > 3 d) > QA = A 0.5 + C 1.
    assert "**Bottleneck:** Review on board pay" in app.markdown[0].value
    assert len(app.get("vega_lite_chart")) == 3


def test_cycle_time(db):
    app = open_page("cycle_time")
    shown = metrics(app)
    # Finished: X 1 d, A 2 d, C 4 d. p50 = 2; p85 at rank 0.85 * 2 = 1.7: 2 + 0.7 * (4 - 2) = 3.4;
    # p95 at rank 1.9: 2 + 0.9 * 2 = 3.8.
    assert shown == {"Finished": "3", "Cycle time p50": "2.0 d", "Cycle time p85": "3.4 d", "Cycle time p95": "3.8 d"}
    pick_board(app, "ops")
    assert metrics(app)["Cycle time p50"] == "1.0 d"  # X alone


def test_aging_wip(db):
    app = open_page("aging")
    # Committed: E d6 00:30, G d7 10:00, Y d8 09:00: oldest first.
    assert list(app.dataframe[0].value["ticket_id"]) == ["E", "G", "Y"]
    assert [e.label.split(" · ")[0] for e in app.expander] == ["E", "G", "Y"]
    # E's history: Backlog, In Progress, Review.
    assert list(app.expander[0].dataframe[0].value["state"]) == ["Backlog", "In Progress", "Review"]
    assert metrics(pick_board(app, "ops")) == {"Open tickets": "1"}


def test_handoffs(db):
    app = open_page("handoffs")
    matrix = app.dataframe[0].value
    # C: core -> qa; G: ana -> bob (no team: the assignee is the party).
    assert sorted(zip(matrix["from_team"], matrix["to_team"], matrix["handoffs"])) == [("ana", "bob", 1),
                                                                                         ("core", "qa", 1)]
    assert list(app.dataframe[1].value["ticket_id"]) == ["C", "G"]
    assert "No handoffs yet" in pick_board(app, "ops").info[0].value


def test_delivery(db):
    app = open_page("delivery")
    # 3 deploys, 1 failure: 1/3 = 33%.
    assert metrics(app) == {"Deploys": "3", "Failed deploys": "1", "Change failure rate": "33%"}
    assert list(app.dataframe[1].value["recovery_hours"]) == [pytest.approx(2.0)]


def test_dead_letters(db):
    app = open_page("dead_letters")
    dead = app.dataframe[0].value
    assert list(dead["kind"]) == ["transition"] and dead["reason"][0].startswith("the message is not JSON")


def test_sql(db):
    app = open_page("sql")
    app.text_area(key="sql_text").input("SELECT ticket_id FROM ticket_flow WHERE is_done ORDER BY ticket_id").run()
    app.button[0].click().run()
    assert not app.exception
    assert list(app.dataframe[0].value["ticket_id"]) == ["A", "C", "X"]
    assert "ticket_flow (view)" in [e.label for e in app.expander]
    app.text_area(key="sql_text").input("DELETE FROM transitions").run()
    app.button[0].click().run()
    assert len(app.error) == 1 and not app.exception


def test_empty_store_pages_say_what_to_send(tmp_path, monkeypatch):
    with Store.open(tmp_path / "empty.duckdb", workflow=WORKFLOW):
        pass
    for name in list(__import__("os").environ):
        if name.startswith("FLOWMETER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLOWMETER_DB", str(tmp_path / "empty.duckdb"))
    for page in ("overview", "flow", "cycle_time", "aging", "delivery"):
        app = open_page(page)
        assert "flowmeter" in app.info[0].value, page


def test_unreachable_worker_is_one_sentence_and_the_last_data_stays(db, monkeypatch):
    from flowmeter.broker import free_port
    app = open_page("overview")
    assert metrics(app)["WIP now"] == "3"
    monkeypatch.setenv("FLOWMETER_WORKER_URL", f"http://127.0.0.1:{free_port()}")
    app.run()
    assert not app.exception
    assert len(app.warning) == 1 and "did not answer" in app.warning[0].value
    assert "Showing the last data received." in app.warning[0].value
    assert metrics(app)["WIP now"] == "3"

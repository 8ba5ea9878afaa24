"""Alert delivery is at least once, with one window for a duplicate the receiver cannot be
told about: an attempt that may have reached it whose outcome was not stored (no answer in
time, a dropped connection, the worker killed between sending and recording). Each such
re-send carries the same notice id and is counted in alert_deliveries.resends; an HTTP answer,
even an error, is taken at its word; a success clears last_error; a clean stop records what is
in flight, so a restart sends nothing twice.

First the outbox's bookkeeping on a real DuckDB store (fast), then the faults end to end with a
real worker and a real local receiver (tests.helpers.hook.AlertHook) on 127.0.0.1."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta

import aiohttp
import duckdb
import pytest
from click.testing import CliRunner

from alerting import outbox
from alerting.dispatcher import DeliveryFailed, may_have_arrived
from analytics.store import Store
from flowcore.workflow import WipLimit
from flowmeter.cli import cli
from tests.helpers.alerts import T0, breach, judge, land, make, move, query, settings_file
from tests.helpers.hook import AlertHook
from tests.helpers.waiting import wait_until

# ---- the outbox's bookkeeping ---------------------------------------------------------------

# One fault scenario per line: the outcome of each attempt in turn, then what the row must say.
#   "timeout"  no answer within the deadline: the receiver may have it  -> in doubt
#   "reset"    the connection dropped mid-request                       -> in doubt
#   "crash"    the worker died after sending, before recording           -> in doubt (nothing stored)
#   "500"      the receiver answered an error: it did not take it        -> not in doubt
#   "refused"  nothing listens: nothing was sent                          -> not in doubt
#   "ok"       delivered
# (outcomes, attempts, resends): attempts = one per outcome; resends = attempts that follow an
# in-doubt one.
SCENARIOS = [
    (["timeout", "ok"], 2, 1),  # the receiver timed out once, then answered
    (["crash", "ok"], 2, 1),  # killed between sending and recording, sent again after the restart
    (["500", "ok"], 2, 0),  # a 5xx is the receiver's word: the retry is no duplicate
    (["refused", "refused", "ok"], 3, 0),  # a receiver down across a restart
    (["timeout", "crash", "reset", "ok"], 4, 3),  # every retry follows an unknown outcome
    (["500", "timeout", "refused", "ok"], 4, 1),  # only the attempt after the timeout is a resend
    (["ok"], 1, 0),
]
IN_DOUBT = {"timeout": True, "reset": True, "500": False, "refused": False}


def outbox_row(store: Store) -> dict:
    cols, rows = store.read("SELECT status, attempts, resends, in_doubt, last_error FROM alert_deliveries")
    [row] = rows
    return dict(zip(cols, row))


def one_notice(tmp_path) -> Store:
    """A store with one pending notice to route `hook` (R1 in Review breaks the limit 0)."""
    store, evaluator = make(tmp_path, WipLimit("pay", ("Review",), 0, routes=("hook",), name="Review"))
    land(store, move("R1", "In Progress", "Review", 0))
    judge(store, evaluator, 1)
    return store


@pytest.mark.parametrize(("outcomes", "attempts", "resends"), SCENARIOS, ids=["-".join(s[0]) for s in SCENARIOS])
def test_each_fault_counts_its_attempts_and_only_in_doubt_ones_make_resends(tmp_path, outcomes, attempts, resends):
    store = one_notice(tmp_path)
    now = T0 + timedelta(minutes=2)
    flagged = []
    for outcome in outcomes:
        now += timedelta(hours=1)  # past any backoff
        [claim] = store.in_transaction(outbox.due, now, frozenset())  # busy is empty: a fresh process
        flagged.append(claim.resend)
        if outcome == "ok":
            store.in_transaction(outbox.delivered, [claim.delivery_id], now)
        elif outcome != "crash":  # a crash stores nothing
            store.in_transaction(
                outbox.failed, claim.delivery_id, now, f"{outcome} happened", 10, 1.0, IN_DOUBT[outcome]
            )
    row = outbox_row(store)
    assert (row["status"], row["attempts"], row["resends"]) == ("delivered", attempts, resends)
    assert row["last_error"] is None and row["in_doubt"] is False  # a success clears both
    assert sum(flagged) == resends  # the dispatcher was told which attempts were resends
    assert store.read("SELECT resends, last_error FROM alert_log")[1] == [(resends, None)]


def test_a_failure_keeps_its_error_until_a_success(tmp_path):
    store = one_notice(tmp_path)
    now = T0 + timedelta(minutes=2)
    [claim] = store.in_transaction(outbox.due, now, frozenset())
    store.in_transaction(outbox.failed, claim.delivery_id, now, "no answer from http://x within 1 s", 10, 1.0, True)
    assert outbox_row(store)["last_error"] == "no answer from http://x within 1 s"
    assert store.read("SELECT pending, resends, last_error FROM alert_log")[1] == [
        (1, 0, "no answer from http://x within 1 s")
    ]  # the resend is counted when it is made


def test_a_route_gets_no_more_claims_than_it_has_room_for(tmp_path):
    # Two limits of 0 broken (R1 in Review, Q1 in QA), both on route hook: two due rows, one route.
    limits = [WipLimit("pay", (state,), 0, routes=("hook",), name=state) for state in ("Review", "QA")]
    store, evaluator = make(tmp_path, *limits)
    land(store, move("R1", "In Progress", "Review", 0), move("Q1", "Review", "QA", 0))
    judge(store, evaluator, 1)
    now = T0 + timedelta(minutes=2)
    # PER_ROUTE_IN_FLIGHT 4, 3 running: room for 1 of the 2 due; nothing claimed waits for a slot.
    assert len(store.in_transaction(outbox.due, now, frozenset(), {"hook": 3})) == 1
    assert len(store.in_transaction(outbox.due, now, frozenset(), {"hook": 4})) == 0


def test_the_log_route_takes_every_due_notice_at_once(tmp_path):
    # The same two breaches on the built-in log route (limits naming no routes): a log line needs no slot.
    limits = [WipLimit("pay", (state,), 0, name=state) for state in ("Review", "QA")]
    store, evaluator = make(tmp_path, *limits)
    land(store, move("R1", "In Progress", "Review", 0), move("Q1", "Review", "QA", 0))
    judge(store, evaluator, 1)
    claimed = store.in_transaction(outbox.due, T0 + timedelta(minutes=2), frozenset(), {"log": 10})
    assert [d.route for d in claimed] == ["log", "log"]


def test_failures_are_classified_by_whether_the_notice_may_have_arrived():
    refused = aiohttp.ClientConnectorError(None, OSError(111, "Connection refused"))
    assert [may_have_arrived(e) for e in (DeliveryFailed("HTTP 500"), refused)] == [False, False]
    dropped = aiohttp.ServerDisconnectedError()
    assert [may_have_arrived(e) for e in (TimeoutError(), dropped)] == [True, True]


def test_a_store_made_before_resends_gets_the_columns_and_the_cli_shows_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "a.duckdb"
    store = one_notice(tmp_path)
    store.close()
    con = duckdb.connect(str(path))  # take the store back to the schema before resends/in_doubt
    con.execute("ALTER TABLE alert_deliveries DROP COLUMN resends")
    con.execute("ALTER TABLE alert_deliveries DROP COLUMN in_doubt")
    con.close()
    store = Store.open(path)
    assert outbox_row(store)["resends"] == 0 and outbox_row(store)["in_doubt"] is False
    now = T0 + timedelta(minutes=2)
    for _ in range(2):  # a crash after the first attempt: the second is a resend
        [claim] = store.in_transaction(outbox.due, now, frozenset())
    store.in_transaction(outbox.delivered, [claim.delivery_id], now)
    store.close()
    result = CliRunner().invoke(cli, ["alerts", "--db", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["notices"] == "1 delivered (1 re-sent)"


# ---- end to end: a real worker and a real receiver -----------------------------------------


def delivery(worker) -> list:
    return query(worker, "SELECT status, attempts, resends, last_error FROM alert_deliveries")


def notice_ids(hook: AlertHook) -> Counter[str]:
    """What a receiver deduplicating on the id sees: arrivals per notice id."""
    ids: Counter[str] = Counter()
    for request in hook.received:
        assert request.headers["Idempotency-Key"] == request.headers["X-Flowmeter-Notice-Id"] == request.json["id"]
        ids[request.json["id"]] += 1
    return ids


@pytest.mark.broker
@pytest.mark.slow
def test_a_receiver_timing_out_once_gets_one_notice_id_twice_counted_as_one_resend(
    worker_factory, names, producer, tmp_path
):
    # It takes the first request and answers after 3 s, past the 1 s deadline; the retry (1 s later) gets 200.
    with AlertHook(answer_after=[3.0]) as hook:
        w = worker_factory(settings=settings_file(tmp_path, hook.url), alert_timeout=1, alert_backoff_max=1).start()
        breach(producer, names)
        wait_until(lambda: delivery(w) and delivery(w)[0][0] == "delivered", 30, "the notice delivered on the retry")
        assert list(notice_ids(hook).values()) == [2]  # one notice id, arrived twice
        assert [r.headers["X-Flowmeter-Attempt"] for r in hook.received] == ["1", "2"]
        # attempts 2, resends 1 (the retry followed an attempt with no answer), last_error cleared.
        assert delivery(w) == [["delivered", 2, 1, None]]
        assert "is sent again (attempt 2)" in w.log_path.read_text()


@pytest.mark.broker
@pytest.mark.slow
def test_a_worker_killed_between_sending_and_recording_sends_once_more_and_counts_it(
    worker_factory, names, producer, tmp_path
):
    with AlertHook(statuses=[0]) as hook:  # takes the first request and never answers it
        w = worker_factory(settings=settings_file(tmp_path, hook.url), alert_timeout=60).start()
        breach(producer, names)
        wait_until(lambda: hook.received, 30, "the first attempt to arrive")
        assert w.stop(signal.SIGKILL) == -signal.SIGKILL  # sent, not recorded
        w.start()
        wait_until(lambda: hook.answered(), 30, "the notice sent again after the restart")
        assert list(notice_ids(hook).values()) == [2]
        wait_until(lambda: delivery(w) == [["delivered", 2, 1, None]], 15, "the resend counted")


@pytest.mark.broker
@pytest.mark.slow
def test_a_clean_stop_records_the_attempt_in_flight_so_a_restart_sends_nothing_twice(
    worker_factory, names, producer, tmp_path
):
    with AlertHook(answer_after=[2.0]) as hook:  # a slow receiver: answers 200 after 2 s
        w = worker_factory(settings=settings_file(tmp_path, hook.url), alert_timeout=10).start()
        breach(producer, names)
        wait_until(lambda: hook.received, 30, "the attempt to arrive")
        assert w.stop() == 0  # SIGTERM while the receiver is still answering
        con = duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True)
        try:  # delivered and recorded before the store closed: nothing left for a restart to send
            assert con.execute("SELECT status, attempts, resends, in_doubt FROM alert_deliveries").fetchall() == [
                ("delivered", 1, 0, False)
            ]
        finally:
            con.close()
        assert len(hook.received) == 1

"""The demo generator: its events satisfy the v1 contract and tell the flow story it promises.

Everything runs on a fixed start time and a fake clock, so the tests are deterministic and
never sleep.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from flowcore.events import PARSERS, Deploy, Event, Transition
from sources.demo import BOTTLENECK, DAY, HOUR, MINUTE, RECOVERY_AFTER, STATES, DemoFeed, iso, run_demo

END = datetime(2025, 1, 15, 10, 0, tzinfo=UTC).timestamp()
START = END - 14 * DAY
NOW = datetime(2025, 1, 15, 10, 0)  # END as the parser's naive UTC "now"


class FakeClock:
    """A wall clock that only moves when the code under test sleeps (or a send costs time)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.naps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


def parse(kind: str, event: dict, now: datetime = NOW) -> Event:
    """A v1 event as the worker reads it (Alertmanager notifications: tests/test_demo_incidents.py)."""
    raw = json.dumps(event).encode()  # exactly what the producer puts on the wire
    return PARSERS[kind](raw, now)


def v1(sent):
    """The v1 events among (kind, event) or (wall, kind, event): all but Alertmanager notifications."""
    return [item for item in sent if item[-2] != "alertmanager"]


@pytest.fixture(scope="module")
def history() -> list[tuple[str, dict]]:
    return list(DemoFeed(seed=7, end=END, history_days=14).history())


@pytest.fixture(scope="module")
def parsed(history) -> list[Event]:
    return [parse(kind, event) for kind, event in v1(history)]


@pytest.fixture(scope="module")
def transitions(parsed) -> list[Transition]:
    return [e for e in parsed if isinstance(e, Transition)]


@pytest.fixture(scope="module")
def deploys(parsed) -> list[Deploy]:
    return [e for e in parsed if isinstance(e, Deploy)]


@pytest.fixture(scope="module")
def by_ticket(transitions) -> dict[str, list[Transition]]:
    tickets: dict[str, list[Transition]] = defaultdict(list)
    for event in transitions:  # history order; the ordering test checks it is time order too
        tickets[event.ticket_id].append(event)
    return tickets


def naive(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC).replace(tzinfo=None)


# -- the contract ----------------------------------------------------------------------------


def test_every_event_is_valid_v1_with_its_own_id_and_source(history, parsed):
    # parse() raising InvalidEvent would fail the fixture; here: the parser kept the sender's
    # id (no derived "t-"/"d-" ids) and the ids are unique, so dedup drops nothing.
    assert [e.event_id for e in parsed] == [event["event_id"] for _, event in v1(history)]
    assert len({e.event_id for e in parsed}) == len(parsed)
    assert {e.source for e in parsed} == {"demo"}
    assert all(event["at"].endswith("Z") for _, event in v1(history))


def test_history_size_is_on_the_order_the_dashboard_needs(transitions, deploys):
    # ~76 tickets/day * ~5.3 transitions + ~40 deploys/day over 14 days is ~6k events:
    # days of data for every metric, little enough for the in-memory broker.
    assert 5_000 <= len(transitions) + len(deploys) <= 30_000
    assert len(deploys) >= 14 * 10


def test_history_covers_the_requested_days_and_ends_now(parsed):
    # Boards get a ticket every hour or so, so the first event is within hours of the start;
    # nothing is after "now", and events keep coming right up to it.
    times = sorted(e.at for e in parsed)
    assert naive(START) <= times[0] <= naive(START + 6 * HOUR)
    assert naive(END - HOUR) <= times[-1] <= naive(END)


# -- tickets ---------------------------------------------------------------------------------


def test_each_ticket_is_a_consistent_chain_in_time_order(by_ticket):
    for ticket, events in by_ticket.items():
        assert events[0].from_state is None, ticket  # creation
        assert all(e.from_state is not None for e in events[1:]), ticket
        for before, after in zip(events, events[1:]):
            assert before.at <= after.at, ticket
            assert after.from_state == before.to_state, ticket  # no gaps in the chain


def test_all_five_states_appear(transitions):
    assert {e.to_state for e in transitions} == set(STATES)


def test_boards_and_types_are_mixed(transitions):
    assert {e.board for e in transitions} == {"payments", "checkout", "platform"}
    assert {e.ticket_type for e in transitions} == {"story", "bug", "task"}
    assert len({e.team for e in transitions}) == 4


def test_handoffs_between_teams_happen(by_ticket):
    # DESIGN: a handoff is a change of responsible team between consecutive transitions.
    # Every ticket that reaches QA changes to the quality team; some go to another dev team.
    handoffs = [
        (a.team, b.team) for events in by_ticket.values() for a, b in zip(events, events[1:]) if a.team != b.team
    ]
    assert len(handoffs) > 100
    dev_to_dev = [h for h in handoffs if "quality" not in h]
    assert dev_to_dev, "no ticket was ever picked up by another dev team"


def test_tickets_sometimes_move_backwards_and_skip_states(transitions):
    rank = {state: i for i, state in enumerate(STATES)}
    moves = [(rank[e.from_state], rank[e.to_state]) for e in transitions if e.from_state]
    assert any(b < a for a, b in moves), "no backward move (e.g. QA -> In Progress)"
    assert any(b > a + 1 for a, b in moves), "no skipped state (e.g. Review -> Done)"


def average_wait(by_ticket, board: str, state: str, lo: datetime, hi: datetime) -> float:
    """Mean hours per visit to `state` for visits entered in [lo, hi); an open visit counts up
    to END, as the time-in-state definition does for "now"."""
    spans = []
    for events in by_ticket.values():
        if events[0].board != board:
            continue
        for i, event in enumerate(events):
            if event.to_state == state and lo <= event.at < hi:
                left = events[i + 1].at if i + 1 < len(events) else naive(END)
                spans.append((left - event.at).total_seconds() / HOUR)
    assert spans, f"no visits to {board}/{state} between {lo} and {hi}"
    return sum(spans) / len(spans)


def test_the_bottleneck_wait_grows_and_is_specific_to_it(by_ticket):
    # checkout's Review serves ~19 tickets/day while ~23 arrive, so its queue and the wait of
    # each newcomer grow for the first week (until swarming caps the queue at SWARM_AT); payments'
    # Review (48/day for ~31) does not.
    board, state = BOTTLENECK
    mid = naive(START + 7 * DAY)
    first = average_wait(by_ticket, board, state, naive(START), naive(START + 3 * DAY))
    second = average_wait(by_ticket, board, state, mid, naive(END))
    assert second > 2 * first
    healthy = average_wait(by_ticket, "payments", "Review", mid, naive(END))
    assert healthy < second / 3


# -- deploys ---------------------------------------------------------------------------------


def test_deploys_reach_both_environments_with_every_status(deploys):
    assert {d.environment for d in deploys} == {"staging", "production"}
    assert {d.status for d in deploys} == {"success", "failure", "rolled_back"}
    assert len({d.service for d in deploys}) == 6
    # Most deploys succeed; the change failure rate stays plausible (DORA's "elite" to "low").
    failed = sum(d.status != "success" for d in deploys)
    assert 0.03 < failed / len(deploys) < 0.3


def test_every_failure_is_followed_by_a_success_of_the_same_service_and_environment(deploys):
    # The fix comes at most RECOVERY_AFTER[1] later, so only failures that long before the end
    # of the history must already show their recovery.
    horizon = naive(END - RECOVERY_AFTER[1])
    failures = [d for d in deploys if d.status != "success" and d.at <= horizon]
    assert failures
    for failure in failures:
        assert any(
            d.service == failure.service
            and d.environment == failure.environment
            and d.status == "success"
            and d.at > failure.at
            for d in deploys
        ), failure


def test_deploys_carry_earlier_commits_and_done_tickets(deploys, by_ticket):
    for deploy in deploys:
        assert deploy.started_at is not None and deploy.started_at <= deploy.at
        assert deploy.commits, deploy.event_id
        assert all(c.committed_at is not None and c.committed_at < deploy.at for c in deploy.commits)
    # Tickets on a deploy were done on the board before it went out.
    done_at = {t: events[-1].at for t, events in by_ticket.items() if events[-1].to_state == "Done"}
    shipped = [(t, d.at) for d in deploys for t in d.tickets]
    assert shipped
    assert all(t in done_at and done_at[t] <= at for t, at in shipped)


# -- determinism -----------------------------------------------------------------------------


def test_same_seed_and_start_give_the_same_events(history):
    assert list(DemoFeed(seed=7, end=END, history_days=14).history()) == history


def test_another_seed_gives_other_events(history):
    other = list(DemoFeed(seed=8, end=END, history_days=14).history())
    assert [e for _, e in other[:50]] != [e for _, e in history[:50]]


# -- run_demo: history, then live ------------------------------------------------------------


def run(max_events: int | None = None, should_stop=lambda: False, history_days: int = 2, speed: float = 1.0):
    clock = FakeClock(END)
    sent: list[tuple[float, str, dict]] = []

    def send(kind: str, event: dict) -> None:
        sent.append((clock.now, kind, event))

    count = run_demo(
        send,
        speed=speed,
        history_days=history_days,
        seed=7,
        should_stop=should_stop,
        clock=clock,
        sleep=clock.sleep,
        max_events=max_events,
    )
    return count, sent, clock


def test_max_events_stops_inside_the_history():
    count, sent, clock = run(max_events=100)
    assert count == len(sent) == 100
    assert clock.naps == []  # the history goes out as fast as send allows


def test_live_events_follow_the_history_in_real_time():
    history = list(DemoFeed(seed=7, end=END, history_days=2).history())
    count, sent, clock = run(max_events=len(history) + 880)
    assert count == len(sent) == len(history) + 880
    assert [e for _, _, e in sent[: len(history)]] == [e for _, e in history]
    live = [(wall, kind, parse(kind, event, now=naive(wall))) for wall, kind, event in v1(sent[len(history) :])]
    for wall, _, event in live:
        assert naive(END) <= event.at <= naive(wall)  # never ahead of the clock that sent it
        if isinstance(event, Deploy):
            assert event.started_at <= event.at and all(c.committed_at < event.at for c in event.commits)
    # The team's own pace: 76 tickets a day * ~5.3 transitions is ~400 transitions, plus ~24
    # staging and ~15 production deploys (24 * 0.88 success * 0.7 promoted) and their fixes:
    # ~440 events a day, so 880 live events take about 2 days of wall time.
    days = (clock.now - END) / DAY
    assert 1.3 < days < 3.0
    transitions = [e.at for _, kind, e in live if kind == "transition"]
    gaps = sorted((b - a).total_seconds() for a, b in zip(transitions, transitions[1:]))
    assert 60 < gaps[len(gaps) // 2] < 10 * 60  # median gap: a transition every few minutes (mean ~3.6)
    production = sum(isinstance(e, Deploy) and e.environment == "production" for _, _, e in live)
    assert 5 < production / days < 30  # a handful a day per service pair; not 127 "today"
    assert max(clock.naps) <= 0.5  # short naps, so a stop request is seen promptly


def visits(sent) -> dict[str, list[float]]:
    """Hours of every finished visit, by state: from entering a state to leaving it."""
    tickets: dict[str, list[Transition]] = defaultdict(list)
    for wall, kind, event in sent:
        if kind == "transition":
            transition = parse(kind, event, now=naive(wall))
            assert isinstance(transition, Transition)
            tickets[transition.ticket_id].append(transition)
    spans: dict[str, list[float]] = defaultdict(list)
    for events in tickets.values():
        for a, b in zip(events, events[1:]):
            spans[a.to_state].append((b.at - a.at).total_seconds() / HOUR)
    return spans


def test_live_visits_last_minutes_to_days_not_fractions_of_a_second():
    _, sent, _ = run(max_events=2_000, speed=60)  # speed compresses stamps: judge at speed 1 below
    _, real, _ = run(max_events=1_300)
    spans = visits(real)
    # Every stay is at least MIN_STEP (1 min), less the millisecond the stamps truncate.
    assert min(min(hours) for hours in spans.values()) >= (MINUTE - 0.001) / HOUR
    # QA: one test pass of ~1.2 h mean (+ a short wait for one of 2 testers); In Progress: the
    # work, ~11 h mean (16 h stories, 6 h bugs, 8 h tasks). Means, so a few outliers do not matter.
    qa = sum(spans["QA"]) / len(spans["QA"])
    work = sum(spans["In Progress"]) / len(spans["In Progress"])
    assert 0.5 < qa < 6 and 4 < work < 24
    # At speed 60 the stamps are 60 times closer: the same stays, seen in wall time.
    assert min(min(hours) for hours in visits(sent).values()) >= (MINUTE / 60 - 0.001) / HOUR


def test_live_wip_stays_in_a_band():
    # 14 days of history, then ~30 days live (13,000 events at ~440 a day) at 3,600 times real
    # time. WIP = tickets past Backlog and not Done. By Little's law: payments 30 arrive/day *
    # ~0.66 day in flight (11.4 h work + 2 h review + 1.2 h QA + ~1 h rework) ~ 20; platform 24 *
    # 0.66 ~ 16; checkout ~13 outside Review plus a Review queue that swarming keeps between
    # SWARM_UNTIL (30) and SWARM_AT (45), with up to 5 in review: ~45-65.
    history = len(list(DemoFeed(seed=7, end=END, history_days=14).history()))
    _, sent, _ = run(max_events=history + 13_000, history_days=14, speed=3_600)
    state: dict[str, str] = {}
    board_of: dict[str, str] = {}
    samples: dict[str, list[int]] = defaultdict(list)
    for i, (_, kind, event) in enumerate(sent):
        if kind != "transition":
            continue
        state[event["ticket_id"]], board_of[event["ticket_id"]] = event["to_state"], event["board"]
        if i >= history and i % 50 == 0:
            wip: dict[str, int] = defaultdict(int)
            for ticket, now_in in state.items():
                wip[board_of[ticket]] += now_in not in ("Backlog", "Done")
            for board in ("payments", "checkout", "platform"):
                samples[board].append(wip[board])
    bands = {"payments": (3, 45), "platform": (3, 40), "checkout": (25, 85)}
    for board, (low, high) in bands.items():
        assert low <= min(samples[board]) and max(samples[board]) <= high, (board, min(samples[board]))
        # Arrivals balanced by departures: the last third is no fuller than the first.
        third = len(samples[board]) // 3
        first, last = samples[board][:third], samples[board][-third:]
        assert sum(last) / third < 1.3 * sum(first) / third, board


def test_live_tickets_stay_consistent_across_the_switch():
    count, sent, _ = run(max_events=3000, speed=60)
    tickets: dict[str, list[Transition]] = defaultdict(list)
    for _, kind, event in sent:
        if kind == "transition":
            tickets[event["ticket_id"]].append(parse(kind, event, now=naive(END + DAY)))
    assert any(events[0].at < naive(END) < events[-1].at for events in tickets.values())
    for events in tickets.values():
        assert all(a.at <= b.at and b.from_state == a.to_state for a, b in zip(events, events[1:]))


def test_should_stop_ends_the_live_loop():
    clock_checks = {"live": 0}
    history = len(list(DemoFeed(seed=7, end=END, history_days=2).history()))

    def should_stop() -> bool:
        clock_checks["live"] += 1
        return clock_checks["live"] > history + 50  # checked once per event, then per nap

    count, sent, _ = run(should_stop=should_stop, speed=3_600)  # live events come between the naps
    assert history < count == len(sent) <= history + 50


def test_zero_history_goes_straight_to_live():
    count, sent, _ = run(max_events=20, history_days=0)
    assert count == 20
    assert all(event["at"] >= iso(END) for _, _, event in v1(sent))

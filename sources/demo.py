"""Demo traffic: a small simulated organisation whose tickets and deploys flow like real ones.

``run_demo(send)`` is what ``flowmeter up --demo`` runs. It first sends a history of
``history_days`` ending now, so every metric has days of data at once, then goes live: the
same simulation carries on in real time, each event sent when its time arrives. Live traffic
is therefore as slow as the team it simulates (about 17 transitions and under one production
deploy an hour), so the pages still look like this team after an hour, or a week. ``speed``
runs live time faster (60: an hour a minute) for previews and tests. Nothing is ever stamped
in the future.

The organisation: three boards worked by three dev teams and a shared QA team. Tickets flow
Backlog -> In Progress -> Review -> QA -> Done. Review and QA are staffed queues: a ticket sits
there until a reviewer or tester is free. Review on ``checkout`` is understaffed (work arrives
faster than it is reviewed), so its queue and its wait grow for the first week: the bottleneck
the dashboard should reveal. Then developers help review whenever the queue passes SWARM_AT,
so from then on it stays in a band, as every board's WIP does. Six services deploy to staging
and then production; every failed deploy is followed by a fix. Incidents come from
sources/demo_incidents.py: some caused by production deploys (and fixed by the deploy that
follows), some not; those of one service arrive as Alertmanager webhook notifications
(``kind`` "alertmanager", the notification body as the event), which ``flowmeter demo`` posts to
the receiver.

Everything comes from one ``random.Random(seed)`` and the simulation runs in event-time order,
so one seed and one start time give the same events every run.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Any

from sources.demo_incidents import IncidentDesk

log = logging.getLogger(__name__)

MINUTE = 60.0
HOUR = 3_600.0
DAY = 86_400.0

# ---------------------------------------------------------------------------------------------
# The organisation
# ---------------------------------------------------------------------------------------------

STATES = ("Backlog", "In Progress", "Review", "QA", "Done")
TICKET_TYPES = ("story", "bug", "task")
TYPE_WEIGHTS = (0.5, 0.3, 0.2)
WORK_HOURS = {"story": 16.0, "bug": 6.0, "task": 8.0}  # mean hands-on time in In Progress
QA_TEAM = "quality"


@dataclass(frozen=True)
class Board:
    name: str
    prefix: str  # ticket ids read like PAY-42
    team: str  # the dev team that owns the board
    services: tuple[str, ...]  # where the board's tickets ship
    arrivals_per_day: float
    reviewers: int
    review_hours: float  # mean time one review takes, once a reviewer picks it up


# Review capacity is reviewers * 24 / review_hours tickets a day. About 1.05 reviews arrive per
# ticket (a few skip review, a few come back after changes are requested), so payments
# (4 * 24 / 2.0 = 48/day for ~31) and platform (3 * 24 / 2.0 = 36/day for ~25) keep up, while
# checkout (2 * 24 / 2.5 = 19/day for ~23) falls behind by several tickets a day: the bottleneck.
BOARDS = (
    Board("payments", "PAY", "payments-core", ("payments-api", "ledger"), 30.0, 4, 2.0),
    Board("checkout", "CHK", "storefront", ("checkout-web", "cart"), 22.0, 2, 2.5),
    Board("platform", "PLT", "platform-sre", ("auth", "gateway"), 24.0, 3, 2.0),
)
BOTTLENECK = ("checkout", "Review")  # (board, state) whose queue grows

PEOPLE = {
    "payments-core": ("amara", "bo", "chen", "dario", "elif"),
    "storefront": ("farah", "gus", "hana", "ivo", "jun"),
    "platform-sre": ("kofi", "lena", "mateo", "nia"),
    QA_TEAM: ("oskar", "priya", "quinn"),
}
TESTERS_PER_BOARD = 2
QA_HOURS = 1.2  # mean time one test pass takes: 2 * 24 / 1.2 = 40 a day per board, above demand

# How tickets stray from the happy path (probabilities per decision).
SKIP_REVIEW = 0.05  # In Progress -> QA: a trivial change merged without review
CHANGES_REQUESTED = 0.10  # Review -> In Progress
SKIP_QA = 0.12  # Review -> Done: nothing to test (docs, config)
QA_REJECTS = 0.15  # QA -> In Progress
MAX_REWORK = 2  # after two trips back a ticket only moves forward, so every ticket finishes
CROSS_TEAM = 0.12  # another dev team picks the ticket up: a handoff between teams
REWORK_SHARE = 0.4  # fixing review or QA findings takes this share of the original work

BACKLOG_HOURS = 20.0  # mean wait before someone starts a ticket
MIN_STEP = MINUTE  # shortest stay in any state: a ticket's events are strictly ordered in time

# A swamped queue is swarmed: extra people review until it is back at SWARM_UNTIL. Checkout's
# queue grows by ~4 tickets a day, reaches SWARM_AT after about a week and then saws between
# the two (5 reviewers clear 48 a day for ~23 arriving), so a demo left running for days keeps
# the WIP of a team that copes, not one that grows without bound.
SWARM_AT = 45
SWARM_UNTIL = 30
SWARM_EXTRA = 3

# Deploys: staging a few times a day per service, most successful builds promoted to
# production a few hours later; production fails a little more often.
STAGING_EVERY_HOURS = 6.0
PROMOTE_SHARE = 0.7
PROMOTE_AFTER_HOURS = (1.0, 6.0)
DEPLOY_MINUTES = (3.0, 15.0)
STATUS_WEIGHTS = {
    "staging": {"success": 0.88, "failure": 0.09, "rolled_back": 0.03},
    "production": {"success": 0.86, "failure": 0.07, "rolled_back": 0.07},
}
RECOVERY_AFTER = (15 * MINUTE, 4 * HOUR)  # a failure is fixed by a success within this window
COMMIT_LOOKBACK = 2 * DAY  # oldest commit a deploy carries


# ---------------------------------------------------------------------------------------------
# Draft events, sim time -> wall time, rendering to v1
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """One event as the simulation made it: timestamps are sim epoch seconds (floats)."""

    at: float
    kind: str  # "transition" | "deploy" | "incident" | "alertmanager"
    body: dict[str, Any]
    ref: str | None = None  # a name other events use for it (a deploy an incident blames)


@dataclass(frozen=True)
class TimeMap:
    """Sim time -> wall time: the identity up to ``end`` (history, which ends "now"); after it
    live time runs ``speed`` times faster than the wall clock (1: it stays the identity)."""

    end: float
    speed: float = 1.0

    def wall(self, t: float) -> float:
        return t if t <= self.end else self.end + (t - self.end) / self.speed


def iso(t: float) -> str:
    """Epoch seconds as ISO-8601 UTC with 'Z' and milliseconds (truncation keeps order)."""
    stamp = datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: what Alertmanager sends as a firing alert's endsAt


def to_event(
    draft: Draft, event_id: str, wall: Callable[[float], float], id_of: Callable[[str], str] = str
) -> dict[str, Any]:
    """The v1 wire dict of a draft, every timestamp mapped through the same ``wall``; ``id_of``
    turns a ref into the event_id it was given. An "alertmanager" draft becomes the body of an
    Alertmanager notification instead (which has no event_id: the adapter derives its ids)."""
    if draft.kind == "alertmanager":
        return alertmanager_notification(draft.body, wall)
    event = dict(draft.body, event_id=event_id, at=iso(wall(draft.at)), source="demo")
    if draft.kind == "deploy":
        event["started_at"] = iso(wall(draft.body["started_at"]))
        event["commits"] = [{"sha": sha, "committed_at": iso(wall(t))} for sha, t in draft.body["commits"]]
    if "caused_by" in event:
        event["caused_by"] = id_of(event["caused_by"])
    return event


def alertmanager_notification(alert: dict[str, Any], wall: Callable[[float], float]) -> dict[str, Any]:
    """A webhook_config notification (payload version 4) carrying one alert, shaped as
    https://prometheus.io/docs/alerting/latest/configuration/#webhook_config documents it."""
    labels = alert["labels"]
    body = {
        "status": alert["status"],
        "labels": labels,
        "annotations": alert["annotations"],
        "startsAt": iso(wall(alert["starts"])),
        "endsAt": ZERO_TIME if alert["ends"] is None else iso(wall(alert["ends"])),
        "generatorURL": f"http://prometheus.demo.invalid:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{labels['alertname']}%22%7D",
        "fingerprint": alert["fingerprint"],
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", service="{labels["service"]}"}}',
        "truncatedAlerts": 0,
        "status": alert["status"],
        "receiver": "flowmeter",
        "groupLabels": {"alertname": labels["alertname"], "service": labels["service"]},
        "commonLabels": labels,
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.demo.invalid:9093",
        "alerts": [body],
    }


# ---------------------------------------------------------------------------------------------
# The simulation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Ticket:
    id: str
    board: Board
    type: str
    service: str
    state: str | None = None
    team: str | None = None
    assignee: str | None = None
    dev_team: str = ""
    developer: str = ""
    work: float = 0.0  # sim seconds of the first pass through In Progress
    reworks: int = 0


class _Pool:
    """A staffed queue state: FIFO, each of ``staff`` people serves one ticket at a time."""

    def __init__(self, staff: int, mean: float) -> None:
        self.staff = staff
        self.mean = mean
        self.waiting: deque[_Ticket] = deque()
        self.busy = 0
        self.swarming = False

    def free(self) -> bool:
        # Hysteresis: swarm from SWARM_AT down to SWARM_UNTIL, so the queue saws, not jitters.
        if len(self.waiting) >= SWARM_AT:
            self.swarming = True
        elif len(self.waiting) <= SWARM_UNTIL:
            self.swarming = False
        return self.busy < self.staff + (SWARM_EXTRA if self.swarming else 0)


@dataclass
class _Env:
    """Deploy state of one service in one environment."""

    name: str
    broken: bool = False  # the last deploy failed; a fix deploy is scheduled
    commits: list[tuple[str, float]] = field(default_factory=list)  # waiting to reach this env
    tickets: list[str] = field(default_factory=list)


@dataclass
class _Service:
    name: str
    staging: _Env = field(default_factory=lambda: _Env("staging"))
    production: _Env = field(default_factory=lambda: _Env("production"))
    done_tickets: list[str] = field(default_factory=list)  # done, not yet in any deploy
    last_commit_at: float = 0.0
    build: int = 0


class DemoTraffic:
    """The simulated organisation, starting empty at sim time ``start``.

    ``next()`` returns draft events in sim-time order, forever: handlers run from a heap of
    scheduled actions, each at its own time, and each appends the events it causes.
    """

    def __init__(self, seed: int = 7, start: float = 0.0) -> None:
        self.seed = seed
        self.rng = Random(seed)
        self.now = start
        self._agenda: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()  # tie-break for equal times: keeps the heap deterministic
        self._out: deque[Draft] = deque()
        self._numbers = {board.name: itertools.count(1) for board in BOARDS}
        self._commits = itertools.count(1)
        self._deploys = itertools.count(1)
        self._pools = {
            (board.name, state): _Pool(staff, hours * HOUR)
            for board in BOARDS
            for state, staff, hours in (
                ("Review", board.reviewers, board.review_hours),
                ("QA", TESTERS_PER_BOARD, QA_HOURS),
            )
        }
        self.services = {
            name: _Service(name, last_commit_at=start - COMMIT_LOOKBACK) for board in BOARDS for name in board.services
        }
        for board in BOARDS:
            self._at(start + self._exp(DAY / board.arrivals_per_day), self._arrive, board)
        for service in self.services.values():
            self._at(start + self._exp(STAGING_EVERY_HOURS * HOUR), self._stage, service)
        self.incidents = IncidentDesk(
            seed, start, list(self.services), lambda: self.now, self._at, self._incident_event, self._hotfix
        )

    # -- driving ------------------------------------------------------------------------------

    def peek(self) -> Draft:
        while not self._out:
            self.now, _, action, args = heapq.heappop(self._agenda)
            action(*args)
        return self._out[0]

    def next(self) -> Draft:
        self.peek()
        return self._out.popleft()

    def pool(self, board: str, state: str) -> _Pool:
        return self._pools[(board, state)]

    def _at(self, t: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._agenda, (t, next(self._order), action, args))

    def _exp(self, mean: float) -> float:
        return max(MIN_STEP, self.rng.expovariate(1.0 / mean))

    def _lognormal(self, mean: float, sigma: float = 0.8) -> float:
        # Work times are right-skewed: most tickets are quick, a few drag on (realistic p85/p95).
        return max(MIN_STEP, self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))

    def _person(self, team: str, besides: str | None = None) -> str:
        return self.rng.choice([p for p in PEOPLE[team] if p != besides])

    # -- tickets ------------------------------------------------------------------------------

    def _move(self, ticket: _Ticket, to_state: str, team: str | None, assignee: str | None, actor: str) -> None:
        """Emit one transition; team/assignee name who is responsible in the new state."""
        self._out.append(
            Draft(
                self.now,
                "transition",
                {
                    "ticket_id": ticket.id,
                    "board": ticket.board.name,
                    "from_state": ticket.state,
                    "to_state": to_state,
                    "assignee": assignee,
                    "team": team,
                    "ticket_type": ticket.type,
                    "actor": actor,
                },
            )
        )
        ticket.state, ticket.team, ticket.assignee = to_state, team, assignee

    def _arrive(self, board: Board) -> None:
        kind = self.rng.choices(TICKET_TYPES, TYPE_WEIGHTS)[0]
        ticket = _Ticket(
            f"{board.prefix}-{next(self._numbers[board.name])}", board, kind, self.rng.choice(board.services)
        )
        self._move(ticket, "Backlog", board.team, None, self._person(board.team))
        self._at(self.now + self._exp(BACKLOG_HOURS * HOUR), self._start, ticket)
        self._at(self.now + self._exp(DAY / board.arrivals_per_day), self._arrive, board)

    def _start(self, ticket: _Ticket) -> None:
        home = ticket.board.team
        others = [b.team for b in BOARDS if b.team != home]
        ticket.dev_team = self.rng.choice(others) if self.rng.random() < CROSS_TEAM else home
        ticket.developer = self._person(ticket.dev_team)
        ticket.work = self._lognormal(WORK_HOURS[ticket.type] * HOUR)
        self._move(ticket, "In Progress", ticket.dev_team, ticket.developer, ticket.developer)
        self._at(self.now + ticket.work, self._finish_work, ticket)

    def _finish_work(self, ticket: _Ticket) -> None:
        if self.rng.random() < SKIP_REVIEW:
            self._enqueue(ticket, "QA")
        else:
            self._enqueue(ticket, "Review")

    def _enqueue(self, ticket: _Ticket, state: str) -> None:
        # The reviewer (a teammate) or tester is named on entry, like a PR's requested reviewer;
        # the ticket still waits for that person's queue to reach it.
        if state == "Review":
            self._move(
                ticket, state, ticket.dev_team, self._person(ticket.dev_team, ticket.developer), ticket.developer
            )
        else:
            self._move(ticket, state, QA_TEAM, self._person(QA_TEAM), ticket.assignee or ticket.developer)
        self.pool(ticket.board.name, state).waiting.append(ticket)
        self._serve(ticket.board.name, state)

    def _serve(self, board: str, state: str) -> None:
        pool = self.pool(board, state)
        while pool.waiting and pool.free():
            pool.busy += 1
            self._at(self.now + self._exp(pool.mean), self._served, pool.waiting.popleft(), state)

    def _served(self, ticket: _Ticket, state: str) -> None:
        self.pool(ticket.board.name, state).busy -= 1
        draw = self.rng.random()
        can_rework = ticket.reworks < MAX_REWORK
        if state == "Review" and can_rework and draw < CHANGES_REQUESTED:
            self._rework(ticket)
        elif state == "Review" and draw > 1 - SKIP_QA:
            self._done(ticket)
        elif state == "Review":
            self._enqueue(ticket, "QA")
        elif can_rework and draw < QA_REJECTS:
            self._rework(ticket)
        else:
            self._done(ticket)
        self._serve(ticket.board.name, state)

    def _rework(self, ticket: _Ticket) -> None:
        ticket.reworks += 1
        actor = ticket.assignee or ticket.developer
        self._move(ticket, "In Progress", ticket.dev_team, ticket.developer, actor)
        self._at(self.now + self._lognormal(ticket.work * REWORK_SHARE), self._finish_work, ticket)

    def _done(self, ticket: _Ticket) -> None:
        self._move(ticket, "Done", ticket.team, ticket.assignee, ticket.assignee or ticket.developer)
        self.services[ticket.service].done_tickets.append(ticket.id)

    # -- deploys ------------------------------------------------------------------------------

    def _new_commits(self, service: _Service, count: int, rng: Random | None = None) -> list[tuple[str, float]]:
        """``count`` commits made since the service's last one, all at least 2 minutes old."""
        rng = rng or self.rng
        hi = self.now - 2 * MINUTE
        lo = min(max(service.last_commit_at, self.now - COMMIT_LOOKBACK), hi - 1.0)
        times = sorted(rng.uniform(lo, hi) for _ in range(count))
        service.last_commit_at = times[-1]
        shas = [hashlib.sha1(f"{self.seed}/{service.name}/{next(self._commits)}".encode()).hexdigest() for _ in times]
        return list(zip(shas, times))

    def _stage(self, service: _Service) -> None:
        self._at(self.now + self._exp(STAGING_EVERY_HOURS * HOUR), self._stage, service)
        if service.staging.broken:
            return  # the fix deploy already scheduled carries this work
        service.staging.commits += self._new_commits(service, self.rng.randint(1, 4))
        service.staging.tickets += service.done_tickets
        service.done_tickets = []
        service.build += 1
        self._deploy(service, service.staging, self._status("staging"))

    def _promote(self, service: _Service) -> None:
        if service.production.broken or not service.production.commits:
            return  # a fix is on its way, or an earlier promotion already shipped this build
        self._deploy(service, service.production, self._status("production"))

    def _recover(self, service: _Service, env: _Env) -> None:
        env.broken = False
        env.commits += self._new_commits(service, 1)  # the fix, written after the failure
        service.build += 1
        fixes = self.incidents.recovered(service.name) if env is service.production else []
        self._deploy(service, env, "success", fixes=fixes)

    def _hotfix(self, service_name: str, incident_id: str) -> None:
        """A fix for a defect production shipped, straight to production: one new commit, a
        patch version, ``fixes`` naming the incident. What waits for promotion keeps waiting."""
        service = self.services[service_name]
        rng = self.incidents.rng  # the deploy stream's own draws stay as they were
        hotfix = _Env("production", commits=self._new_commits(service, 1, rng))
        self._deploy(service, hotfix, "success", fixes=[incident_id], version=f"1.{service.build}.1", rng=rng)

    def _incident_event(self, kind: str, body: dict[str, Any]) -> None:
        self._out.append(Draft(self.now, kind, body))

    def _status(self, environment: str) -> str:
        weights = STATUS_WEIGHTS[environment]
        return self.rng.choices(list(weights), list(weights.values()))[0]

    def _deploy(
        self,
        service: _Service,
        env: _Env,
        status: str,
        *,
        fixes: list[str] | None = None,
        version: str | None = None,
        rng: Random | None = None,
    ) -> None:
        version = version or f"1.{service.build}.0"
        body: dict[str, Any] = {
            "service": service.name,
            "environment": env.name,
            "status": status,
            "started_at": self.now - (rng or self.rng).uniform(*DEPLOY_MINUTES) * MINUTE,
            "version": version,
            "commits": list(env.commits),
            "tickets": list(env.tickets),
        }
        if fixes:
            body["fixes"] = list(fixes)
        ref = f"deploy-{next(self._deploys)}"
        self._out.append(Draft(self.now, "deploy", body, ref))
        if env.name == "production":
            self.incidents.production_deploy(service.name, ref, status, version)
        if env is not service.staging and env is not service.production:
            return  # a hotfix: no environment state to carry on
        if status != "success":
            env.broken = True  # what it carried stays waiting, and goes out with the fix
            self._at(self.now + self.rng.uniform(*RECOVERY_AFTER), self._recover, service, env)
            return
        if env is service.staging:
            service.production.commits += env.commits
            service.production.tickets += env.tickets
            if self.rng.random() < PROMOTE_SHARE:
                self._at(self.now + self.rng.uniform(*PROMOTE_AFTER_HOURS) * HOUR, self._promote, service)
        env.commits, env.tickets = [], []


# ---------------------------------------------------------------------------------------------
# Feeding: numbered history, then live
# ---------------------------------------------------------------------------------------------


class DemoFeed:
    """Numbered v1 events from one simulation: the history up to ``end``, then live."""

    def __init__(self, seed: int = 7, end: float | None = None, history_days: float = 14) -> None:
        self.end = time.time() if end is None else end
        self.traffic = DemoTraffic(seed, start=self.end - history_days * DAY)
        self.time_map = TimeMap(self.end)
        self.taken = 0
        # The run's end time is in every id: a second demo run into the same store is new
        # events, not "duplicates" of the first run's that dedup would silently drop.
        self._id_prefix = f"demo-{seed}-{int(self.end)}"

    def in_history(self) -> bool:
        """Whether the next event still belongs to the history (at or before ``end``)."""
        return self.traffic.peek().at <= self.end

    def history(self) -> Iterator[tuple[str, dict[str, Any]]]:
        while self.in_history():
            yield self.take()

    def go_live(self, speed: float) -> None:
        # Live time continues the history from its end: events that fell due while the history
        # was being sent go out at once, stamped with their own time, so no gap opens.
        self.time_map = TimeMap(self.end, speed)

    def due(self) -> float:
        """Wall time at which the next event happens."""
        return self.time_map.wall(self.traffic.peek().at)

    def take(self) -> tuple[str, dict[str, Any]]:
        """The next (kind, event): a v1 event, or for kind "alertmanager" a notification body."""
        draft = self.traffic.next()
        event_id = self._id_of(draft.ref) if draft.ref else f"{self._id_prefix}-{self.taken}"
        event = to_event(draft, event_id, self.time_map.wall, self._id_of)
        self.taken += 1
        return draft.kind, event

    def _id_of(self, ref: str) -> str:
        return f"{self._id_prefix}-{ref}"


MAX_NAP = 0.5  # longest single sleep, so should_stop is seen within half a second


def run_demo(
    send: Callable[[str, dict], None],
    *,
    speed: float = 1.0,
    history_days: int = 14,
    seed: int = 7,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    max_events: int | None = None,
) -> int:
    """Send ``history_days`` of history ending now, then live events until ``should_stop()``
    or ``max_events``, ``speed`` times faster than real time; returns how many were sent."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")

    def stopped(sent: int) -> bool:
        return (max_events is not None and sent >= max_events) or should_stop()

    feed = DemoFeed(seed, end=clock(), history_days=history_days)
    log.info("demo: sending %d days of history", history_days)
    sent = _send_history(feed, send, stopped)
    log.info("demo: history sent, %d events", sent)
    if stopped(sent):
        return sent
    feed.go_live(speed)
    log.info("demo: live at %g times real time", speed)
    sent = _send_live(feed, send, stopped, clock, sleep, sent)
    log.info("demo: stopped after %d events", sent)
    return sent


def _send_history(feed: DemoFeed, send: Callable[[str, dict], None], stopped: Callable[[int], bool]) -> int:
    sent = 0
    while not stopped(sent) and feed.in_history():
        send(*feed.take())
        sent += 1
    return sent


def _send_live(
    feed: DemoFeed,
    send: Callable[[str, dict], None],
    stopped: Callable[[int], bool],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    sent: int,
) -> int:
    while not stopped(sent):
        wait = feed.due() - clock()
        if wait > 0:
            sleep(min(wait, MAX_NAP))
            continue
        send(*feed.take())
        sent += 1
    return sent

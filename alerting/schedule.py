"""When one worker judges its alert rules: the scheduling policy, as plain decisions on times
it is given (no clock, no I/O, no Faust; streams.worker supplies the ticks and the batches).

Rules are judged after each landed batch that holds transitions (deploys and dead letters do
not move WIP), on a one-second tick while a recovery's cooldown runs, and every
``aging_interval`` for aging. Incidents open past their restore objective are judged with
aging, and after each batch that holds incident events (one may resolve an alert's incident).
A batch holding a transition older than ``max_event_age`` is
history being replayed (a backfill, the demo's first seconds, a worker catching up):
partitions interleave, so the state it leaves mixes old and new and would fire alerts that
were never true. Judgements are then put off (aging ones too) until a batch of fresh events
lands or the stream has been quiet for QUIET_SECONDS; so are they while the derived tables are
behind the events (the worker catching up). See "When it is judged" in
docs/alerts.md#alerts-wip-limits-aging-tickets-and-incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from analytics.store import BatchTimes

QUIET_SECONDS = 2.0  # after the last batch of history, the stream counts as quiet


@dataclass(frozen=True)
class Judgement:
    """A judgement to make now; aging: judge the aging rule too, not only the WIP limits;
    incidents: judge the incidents' restore objectives too."""

    aging: bool
    incidents: bool = False


class AlertSchedule:
    """What to judge when, for one worker. Times are monotonic seconds unless named UTC."""

    def __init__(self, aging_interval: float, max_event_age: float) -> None:
        self.aging_interval = aging_interval
        self.max_event_age = max_event_age  # 0: every batch is judged, however old its events
        self.recovering = 0  # episodes whose cooldown runs, as the last judgement counted them
        self.waiting = False  # a judgement was put off while history landed: make it once quiet
        self._last_aging = float("-inf")

    def after_batch(self, has_transitions: bool, has_incidents: bool = False) -> Judgement | None:
        """A batch landed: judge the WIP limits if it moved tickets, the incidents if it holds any."""
        return Judgement(aging=False, incidents=has_incidents) if has_transitions or has_incidents else None

    def on_tick(self, now: float) -> Judgement | None:
        """The one-second tick: judge while a judgement waits, a cooldown runs or aging is due.
        A waiting judgement includes aging, since aging was put off with it."""
        aging_due = now - self._last_aging >= self.aging_interval
        if self.waiting or self.recovering or aging_due:
            return Judgement(aging=aging_due or self.waiting, incidents=aging_due or self.waiting)
        return None

    def reason_to_wait(
        self, backlog_pending: bool, last_batch: BatchTimes | None, now: float, now_utc: datetime
    ) -> str | None:
        """Why a judgement at `now` should be put off, in words; None to judge. last_batch: the
        last landed batch with transitions (Store.last_transitions_batch). Asked on the store's
        writer thread, so in order with the batches."""
        if backlog_pending:
            return "the worker is catching up and the derived tables are behind"
        if last_batch is None or not self.max_event_age or now - last_batch.landed_monotonic >= QUIET_SECONDS:
            return None
        age = (now_utc - last_batch.oldest_event_at).total_seconds()
        if age > self.max_event_age:
            return f"the last batch holds an event {age:.0f} s old (history being replayed)"
        return None

    def waited(self) -> bool:
        """A judgement was put off; True the first time in a row (worth a log line)."""
        first = not self.waiting
        self.waiting = True
        return first

    def judged(self, judgement: Judgement, recovering: int, now: float) -> None:
        """A judgement was made at `now`, leaving `recovering` episodes in their cooldown."""
        self.waiting = False
        if judgement.aging:
            self._last_aging = now
        self.recovering = recovering

"""The alert schedule's decisions, on times given by hand (monotonic seconds; UTC where named).

Settings in every test unless said: aging_interval 300 s, alert_max_event_age 600 s, and the
stream counts as quiet 2 s after the last batch of history (QUIET_SECONDS).
"""

from __future__ import annotations

from datetime import datetime

from alerting.schedule import QUIET_SECONDS, AlertSchedule, Judgement
from analytics.store import BatchTimes

UTC_NOW = datetime(2024, 5, 1, 12, 0, 0)


def schedule() -> AlertSchedule:
    return AlertSchedule(aging_interval=300, max_event_age=600)


def test_a_batch_is_judged_for_wip_only_when_it_holds_transitions():
    s = schedule()
    assert s.after_batch(has_transitions=True) == Judgement(aging=False)
    assert s.after_batch(has_transitions=False) is None  # deploys and dead letters do not move WIP


def test_a_batch_with_incident_events_is_judged_for_incidents():
    s = schedule()
    # An incident event may resolve an open incident alert: judge at once, not at the next aging tick.
    assert s.after_batch(has_transitions=False, has_incidents=True) == Judgement(aging=False, incidents=True)
    assert s.on_tick(1000.0) == Judgement(aging=True, incidents=True)  # and with every aging check


def test_the_first_tick_judges_aging_then_every_aging_interval():
    s = schedule()
    assert s.on_tick(1000.0) == Judgement(aging=True, incidents=True)  # never judged: aging is due at once
    s.judged(Judgement(aging=True), recovering=0, now=1000.5)
    assert s.on_tick(1001.0) is None  # 0.5 s since aging, nothing recovering
    assert s.on_tick(1300.0) is None  # 1300 - 1000.5 = 299.5 s < 300
    assert s.on_tick(1300.5) == Judgement(aging=True, incidents=True)  # 300 s since aging


def test_a_wip_judgement_does_not_reset_the_aging_interval():
    s = schedule()
    s.judged(Judgement(aging=True), recovering=0, now=1000.0)
    s.judged(Judgement(aging=False), recovering=0, now=1200.0)  # a batch at 1200
    assert s.on_tick(1300.0) == Judgement(aging=True, incidents=True)  # still 300 s after 1000


def test_a_running_cooldown_is_judged_every_tick_without_aging():
    s = schedule()
    s.judged(Judgement(aging=True), recovering=2, now=1000.0)
    assert s.on_tick(1001.0) == Judgement(aging=False)  # 2 episodes recovering: judge WIP
    s.judged(Judgement(aging=False), recovering=0, now=1061.0)  # cooldowns over
    assert s.on_tick(1062.0) is None


def test_history_landing_under_the_quiet_time_puts_the_judgement_off():
    s = schedule()
    # The last batch landed at 100.0 holding an event from 11:40 UTC: 20 min = 1200 s > 600 s.
    last = BatchTimes(landed_monotonic=100.0, oldest_event_at=datetime(2024, 5, 1, 11, 40))
    reason = s.reason_to_wait(False, last, now=101.0, now_utc=UTC_NOW)  # 1 s < 2 s after it
    assert reason == "the last batch holds an event 1200 s old (history being replayed)"
    # Quiet since: 102.0 - 100.0 = 2 s = QUIET_SECONDS, so the state it left is judged.
    assert s.reason_to_wait(False, last, now=100.0 + QUIET_SECONDS, now_utc=UTC_NOW) is None


def test_fresh_events_and_a_zero_age_limit_are_judged_at_once():
    # 11:55 is 300 s before noon: under the 600 s limit, so fresh.
    fresh = BatchTimes(landed_monotonic=100.0, oldest_event_at=datetime(2024, 5, 1, 11, 55))
    assert schedule().reason_to_wait(False, fresh, now=100.5, now_utc=UTC_NOW) is None
    old = BatchTimes(landed_monotonic=100.0, oldest_event_at=datetime(2024, 1, 1))
    assert AlertSchedule(300, max_event_age=0).reason_to_wait(False, old, 100.5, UTC_NOW) is None
    assert schedule().reason_to_wait(False, None, now=100.5, now_utc=UTC_NOW) is None  # no batch yet


def test_a_backlog_behind_the_derived_tables_puts_the_judgement_off():
    reason = schedule().reason_to_wait(True, None, now=100.0, now_utc=UTC_NOW)
    assert reason == "the worker is catching up and the derived tables are behind"


def test_a_judgement_put_off_is_made_on_the_next_tick_with_aging():
    s = schedule()
    s.judged(Judgement(aging=True), recovering=0, now=1000.0)
    assert s.waited() is True  # the first wait in a row: worth a log line
    assert s.waited() is False  # still waiting: no second line
    # 10 s after aging (< 300 s), yet aging was put off with the judgement: judged now.
    assert s.on_tick(1010.0) == Judgement(aging=True, incidents=True)
    s.judged(Judgement(aging=True), recovering=0, now=1010.0)
    assert s.on_tick(1011.0) is None
    assert s.waited() is True  # a new run of waits

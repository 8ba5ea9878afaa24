"""Alert episodes, observation by observation: one notice per breach episode, one on recovery,
none while it stays broken or flaps within the cooldown. Times are seconds after T0."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from alerting.episodes import Episode, resolve_gone, step

T0 = datetime(2026, 11, 26, 12, 0, 0)
LIMIT = 6


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    observations: list[tuple[float, int]], cooldown: float = 60, hysteresis: int = 0, limit: int = LIMIT
) -> tuple[list[tuple[float, str]], Episode | None]:
    """Feed (seconds, wip) observations of a breach rule; return the notices with their time."""
    episode, notices = None, []
    for seconds, wip in observations:
        result = step(
            episode, wip, broken=wip > limit, kept=wip <= limit - hysteresis, now=at(seconds), cooldown_seconds=cooldown
        )
        episode = result.episode
        if result.notice:
            notices.append((seconds, result.notice))
    return notices, episode


def test_within_the_limit_nothing_fires():
    assert run([(0, 3), (1, 6), (2, 6)]) == ([], None)  # 6 is at the limit, not above it


def test_a_breach_fires_once_and_staying_in_breach_fires_nothing_more():
    notices, episode = run([(0, 6), (1, 7), (2, 8), (3, 9), (4, 7)])
    assert notices == [(1, "fired")]
    assert episode.status == "open" and episode.started_at == at(1)
    assert episode.value == 7 and episode.peak_value == 9  # latest 7, highest 9


def test_recovery_is_declared_once_after_the_cooldown():
    # Breach at 1 s, back to 5 at 10 s; cooldown 60 s: still recovering at 69 s, resolved at 70 s.
    notices, episode = run([(1, 7), (10, 5), (30, 6), (69, 4), (70, 4)])
    assert notices == [(1, "fired"), (70, "recovered")]
    assert episode.status == "resolved" and episode.recovering_since == at(10) and episode.resolved_at == at(70)
    # Once resolved, a kept observation opens nothing and says nothing.
    assert step(episode, 3, broken=False, kept=True, now=at(80), cooldown_seconds=60).notice is None


def test_flapping_within_the_cooldown_fires_nothing_more():
    # 7,6,7,6,7,6 every 5 s: each return above 6 comes within 60 s of the last recovery start.
    flaps = [(i * 5, 7 if i % 2 == 0 else 6) for i in range(12)]
    notices, episode = run(flaps)
    assert notices == [(0, "fired")]
    assert episode.status == "recovering" and episode.recovering_since == at(55)  # the last 6, at 11*5 s


def test_a_new_breach_after_a_declared_recovery_is_a_new_episode():
    notices, episode = run([(0, 7), (1, 5), (2, 5), (3, 8)], cooldown=1)
    # Recovering from 1 s, resolved at 2 s (2 - 1 >= 1), breached again at 3 s.
    assert notices == [(0, "fired"), (2, "recovered"), (3, "fired")]
    assert episode.started_at == at(3)


def test_zero_cooldown_recovers_on_the_first_kept_observation():
    assert run([(0, 7), (1, 6)], cooldown=0)[0] == [(0, "fired"), (1, "recovered")]


def test_hysteresis_keeps_the_episode_open_until_wip_falls_far_enough():
    # hysteresis 2: opens above 6, counts as kept only at 4 or less; 5 and 6 keep it open.
    notices, episode = run([(0, 7), (1, 6), (2, 5), (3, 7), (4, 4), (5, 4)], cooldown=1, hysteresis=2)
    assert notices == [(0, "fired"), (5, "recovered")]
    assert episode.recovering_since == at(4)


def test_an_episode_that_did_not_notify_recovers_quietly():
    first = step(None, 5, broken=True, kept=False, now=at(0), cooldown_seconds=0, notify=False)
    assert first.opened and first.notice is None and first.episode.notified is False
    second = step(first.episode, 3, broken=False, kept=True, now=at(1), cooldown_seconds=0)
    assert second.notice is None and second.episode.status == "resolved"


def test_a_rule_that_is_gone_resolves_without_a_notice():
    opened = step(None, 7, broken=True, kept=False, now=at(0), cooldown_seconds=60).episode
    gone = resolve_gone(opened, at(5))
    assert gone.status == "resolved" and gone.resolved_at == at(5)


def test_broken_and_kept_at_once_is_a_programming_error():
    with pytest.raises(ValueError):
        step(None, 7, broken=True, kept=True, now=at(0), cooldown_seconds=0)

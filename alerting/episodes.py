"""Alert episodes: when a rule's alert opens, stays quiet, and recovers. Pure logic, no I/O.

A rule is watched by observing a value now and then (a WIP count after each landed batch,
or on a timer). An episode opens the first time the rule is seen *broken* and notifies then;
further broken observations only update it. Once the value is seen *kept* again the episode
starts *recovering*; it is resolved, with a recovery notice, only after it has stayed kept for
the cooldown. A break during the cooldown returns it to open without a notice, so a WIP that
flaps around the limit fires once, not on every crossing.

Broken and kept are not mirror images when hysteresis is set: a breach of limit L opens at
WIP > L but counts as kept only at WIP <= L - hysteresis. Between the two, an open episode
stays open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime


@dataclass(frozen=True)
class Episode:
    status: str  # open | recovering | resolved
    started_at: datetime
    value: float
    peak_value: float
    notified: bool
    recovering_since: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    episode: Episode | None  # the episode after this observation (None: still none open)
    notice: str | None  # 'fired' | 'recovered' | None
    opened: bool = False  # this observation opened a new episode


def step(
    current: Episode | None,
    value: float,
    broken: bool,
    kept: bool,
    now: datetime,
    cooldown_seconds: float,
    notify: bool = True,
) -> Step:
    """The next state of one rule after observing `value` at `now`.

    broken: the value breaks the rule (opens an episode); kept: the value counts as kept
    (starts or continues the recovery). notify: whether an opening episode should send a
    notice (a warning does not while its limit is in breach). A recovery notice is sent only
    for episodes that notified when they opened.
    """
    if broken and kept:
        raise ValueError("a value cannot both break and keep a rule")
    if current is None or current.status == "resolved":
        if not broken:
            return Step(None, None)
        episode = Episode("open", now, value, value, notified=notify)
        return Step(episode, "fired" if notify else None, opened=True)
    episode = replace(current, value=value, peak_value=max(current.peak_value, value))
    if not kept:
        # Broken again, or in the hysteresis band: the episode is (back to) open.
        return Step(replace(episode, status="open", recovering_since=None), None)
    since = episode.recovering_since if episode.status == "recovering" else now
    assert since is not None, "a recovering episode records when its recovery began"
    if (now - since).total_seconds() >= cooldown_seconds:
        resolved = replace(episode, status="resolved", recovering_since=since, resolved_at=now)
        return Step(resolved, "recovered" if episode.notified else None)
    return Step(replace(episode, status="recovering", recovering_since=since), None)


def resolve_gone(current: Episode, now: datetime) -> Episode:
    """An episode whose rule no longer exists (a limit removed, a ticket moved on): resolved quietly."""
    return replace(current, status="resolved", resolved_at=now, recovering_since=current.recovering_since or now)

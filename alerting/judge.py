"""Judge one worker's alert rules on the store's writer thread, as its schedule says.

The caller (streams.worker) owns the event loop and the writer thread: it hands in
``on_writer(fn, *args)``, which runs ``fn(*args)`` on the writer thread in order with the
landed batches, and calls ``judge`` after a batch and on its one-second tick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from alerting.evaluate import AlertEvaluator, AlertPolicy, Evaluation
from alerting.schedule import AlertSchedule, Judgement
from analytics.store import Store

log = logging.getLogger(__name__)

OnWriter = Callable[..., Awaitable[Any]]  # on_writer(fn, *args): fn(*args) on the store's writer thread


class AlertJudge:
    def __init__(self, store: Store, policy: AlertPolicy, schedule: AlertSchedule, on_writer: OnWriter) -> None:
        self.schedule = schedule
        self._store = store
        self._evaluator = AlertEvaluator(policy)
        self._on_writer = on_writer

    async def judge(self, judgement: Judgement) -> Evaluation | None:
        """Judge now, unless the schedule says to wait; None when nothing was judged. A failure
        is logged, not raised: rules are judged by state, so the next judgement catches up."""
        try:
            result = await self._on_writer(self._judge_on_writer, _utc_now(), judgement)
        except Exception as exc:
            log.error("judging the alert rules failed (%s); the next batch or tick tries again", exc)
            return None
        if isinstance(result, str):
            if self.schedule.waited():
                log.info("alerts wait: %s; judging once a batch of fresh events lands or the stream is quiet", result)
            return None
        self.schedule.judged(judgement, result.recovering, time.monotonic())
        if result.fired or result.recovered:
            log.info(
                "alerts: %d fired, %d recovered, %d notices queued", result.fired, result.recovered, result.deliveries
            )
        return result

    def _judge_on_writer(self, now: datetime, judgement: Judgement) -> Evaluation | str:
        """On the writer thread: the reason to wait, or the judgement made in one transaction."""
        store = self._store
        reason = self.schedule.reason_to_wait(
            store.backlog_pending, store.last_transitions_batch, time.monotonic(), _utc_now()
        )
        if reason is not None:
            return reason
        return store.in_transaction(self._evaluator.evaluate, now, judgement.aging, judgement.incidents)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)

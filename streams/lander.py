"""Lands each micro-batch exactly once, and never lets Faust acknowledge a batch that did not land.

Faust's ``take_events`` acknowledges a batch in its own ``finally``: when the
loop body returns, raises, or is cancelled (DESIGN pitfall 3). So this class
never lets an exception escape, and when a batch cannot be written it either
retries or ends the process with ``os._exit`` (which runs no ``finally``) so the
batch stays unacknowledged and is redelivered on restart, where the offsets
stored in DuckDB skip whatever had already landed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence

from analytics.store import LandResult, Store, is_fatal
from streams.batch import Envelope, PreparedBatch, Reject, prepare

log = logging.getLogger(__name__)

EXIT_WRITE_FAILED = 75  # EX_TEMPFAIL: the supervisor should restart us
DERIVE_SPACING = 4.0  # while catching up, derives at least 4x their own duration apart
SendDeadLetter = Callable[[Reject], Awaitable[Any]]
AfterLand = Callable[[LandResult, PreparedBatch], Awaitable[None]]  # must not raise: see Lander.__init__
Behind = Callable[[Sequence[Any]], int]  # events still on the broker behind a batch (consumer lag)
LogIds = Callable[[list[str]], dict[str, str]]  # the topics' ids as the broker answers now


@dataclass
class LandingStats:
    batches: int = 0
    landed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    redelivered_skipped: int = 0
    # Logs found reset (every one this store has seen; see the log_resets table), and the
    # messages of reset logs landed in this run that a stale position would have skipped.
    log_resets: int = 0
    landed_after_reset: int = 0
    last_batch_at: str | None = None
    # Where the time goes, summed over batches (seconds): waiting for Faust to fill a
    # batch, parsing it, writing it. Shown on /api/status; the benchmarks read them.
    filling_seconds: float = 0.0
    parsing_seconds: float = 0.0
    writing_seconds: float = 0.0


class Lander:
    def __init__(self, store: Store, kind_by_topic: dict[str, str], dead_letter_topic: str,
                 send_dead_letter: SendDeadLetter,
                 *, retries: int = 5, first_backoff: float = 0.5, shutdown_grace: float = 30.0,
                 after_land: AfterLand | None = None, batch_max: int = 0, derive_every: float = 0.0,
                 behind: Behind | None = None, log_ids: LogIds | None = None) -> None:
        self._store = store
        # Asked before any message is skipped as already landed: a new log id means the
        # broker lost its log and those offsets hold new events (DESIGN pitfall 14).
        self._log_ids = log_ids
        self._kind_by_topic = kind_by_topic
        self._dead_letter_topic = dead_letter_topic
        self._send_dead_letter = send_dead_letter
        self._retries = retries
        self._first_backoff = first_backoff
        self._shutdown_grace = shutdown_grace
        # Called after each committed batch that landed events (the alert evaluator). Anything
        # it raises is logged and dropped: alerting must never stop or redo the landing.
        self._after_land = after_land
        # Catching up, deriving every batch re-scans a growing store for each; then the derived
        # tables are refreshed at most every derive_every seconds instead, and with every batch
        # again once caught up (see Store.commit). Catching up: the batch came full, or the
        # broker holds at least another full batch behind it. The second matters because a
        # short batch_within ends batches before they fill even while a backlog waits.
        self._batch_max = batch_max
        self._derive_every = derive_every
        self._behind = behind
        self._last_derive = time.monotonic()
        # A derive re-reads every event of the tickets touched since the last one, so on a long
        # backlog each takes longer than the one before; spacing them DERIVE_SPACING times their
        # own duration keeps deriving under a fifth of the catching up (see benchmarks/CHANGES.md).
        self._last_derive_seconds = 0.0
        # One writer thread: DuckDB work stays off the event loop (pitfall 6) and in order.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowmeter-writer")
        self.stats = LandingStats(log_resets=store.log_resets)
        self._last_done = time.perf_counter()

    def envelopes(self, events: Sequence[Any]) -> list[Envelope]:
        """Faust events -> envelopes carrying topic[partition]@offset and the raw bytes.

        From the dead-letter topic only what other producers put there is kept (a
        `flowmeter produce` line that is not JSON, say): this worker records its own
        rejects in the same transaction as the batch they came from.
        """
        out = []
        for event in events:
            message = event.message
            if message.topic == self._dead_letter_topic:
                headers = _headers(message.headers)
                if headers.get("flowmeter-origin") == "worker":
                    continue
                reason = headers.get("flowmeter-reason") or "put on the dead-letter topic without a reason"
                out.append(Envelope(message.topic, message.partition, message.offset,
                                    headers.get("flowmeter-kind") or "unknown", message.value, reason))
            else:
                kind = self._kind_by_topic.get(message.topic, "unknown")
                out.append(Envelope(message.topic, message.partition, message.offset, kind, message.value))
        return out

    async def land(self, events: Sequence[Any]) -> None:
        """Land one batch; return only when it is safe for Faust to acknowledge it."""
        self.stats.filling_seconds += time.perf_counter() - self._last_done
        task = asyncio.ensure_future(self._land(self.envelopes(events), self._catching_up(events)))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # The worker is stopping. Faust acks this batch as soon as we return, so
            # finish landing it first; if that cannot happen, leave it unacknowledged.
            log.info("stopping: finishing the batch in flight (%d events) before it is acknowledged", len(events))
            try:
                await asyncio.wait({task}, timeout=self._shutdown_grace)
            except asyncio.CancelledError:
                pass  # cancelled again: decide on what is known now
            if not task.done() or task.cancelled() or task.exception() is not None:
                self._exit_unacknowledged("the batch in flight could not be finished during shutdown")
            raise
        except BaseException as exc:  # never let Faust ack past a failure
            self._exit_unacknowledged(f"landing a batch failed unexpectedly: {exc!r}")
        self._last_done = time.perf_counter()

    def _catching_up(self, events: Sequence[Any]) -> bool:
        if not self._batch_max:
            return False
        if len(events) >= self._batch_max:
            return True
        try:
            return self._behind is not None and self._behind(events) >= self._batch_max
        except Exception as exc:  # only a hint: without it, derive with every batch
            log.debug("could not tell the consumer lag: %s", exc)
            return False

    async def _land(self, envelopes: list[Envelope], catching_up: bool = False) -> None:
        fresh, skipped = self._store.unseen(envelopes)
        if skipped and self._log_ids is not None:
            fresh, skipped = await self.write(self._recheck_logs, envelopes)
        self._store.count_after_reset(fresh)
        self.stats.redelivered_skipped += skipped
        self.stats.log_resets = self._store.log_resets
        self.stats.landed_after_reset = self._store.after_reset
        if skipped:
            log.info("skipped %d redelivered messages that had already landed", skipped)
        if not fresh:
            return
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        batch = await loop.run_in_executor(self._writer, prepare, fresh)
        self.stats.parsing_seconds += time.perf_counter() - started
        # All acknowledged by the broker before the commit: each dead letter reaches its
        # topic at least once (again, if a crash falls between these sends and the commit).
        await asyncio.gather(*(self._send_dead_letter(reject) for reject in batch.rejects))
        for reject in batch.rejects:
            log.warning("dead-lettered %s: %s", reject.envelope.src, reject.reason)
        started = time.perf_counter()
        interval = max(self._derive_every, DERIVE_SPACING * self._last_derive_seconds)
        derive = not (catching_up and self._derive_every and time.monotonic() - self._last_derive < interval)
        result = await self._commit_with_retries(batch, derive)
        if derive:
            self._last_derive = time.monotonic()
            self._last_derive_seconds = time.perf_counter() - started
        self.stats.writing_seconds += time.perf_counter() - started
        self._count(result)
        if self._after_land is not None and result.landed:
            try:
                await self._after_land(result, batch)
            except Exception:
                log.exception("after landing a batch, the follow-up (alert evaluation) failed; landing goes on")

    def _recheck_logs(self, envelopes: list[Envelope]) -> tuple[list[Envelope], int]:
        """On the writer thread: before skipping, make sure the logs are still the ones the
        positions belong to; adopt any new one (recorded, logged) and sort the batch again."""
        assert self._log_ids is not None
        topics = sorted({e.source for e in envelopes})
        for reset in self._store.check_logs(self._log_ids(topics)):
            log.error("log reset: %s (%d resets recorded in log_resets)", reset.describe(), self._store.log_resets)
        return self._store.unseen(envelopes)

    async def settle(self, quiet_seconds: float) -> None:
        """Derive what catching up deferred once no batch has come for quiet_seconds (a stream
        that stopped on a full batch would otherwise leave it for the next batch)."""
        if self._store.backlog_pending and time.perf_counter() - self._last_done >= quiet_seconds:
            derived = await self.write(self._store.derive_backlog)
            self._last_derive = time.monotonic()
            log.info("derived %d tickets deferred while catching up", derived)

    async def write(self, work: Callable[..., Any], *args: Any) -> Any:
        """Run ``work(*args)`` on the writer thread, in order with the batches (store writes only)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, work, *args)

    async def _commit_with_retries(self, batch: PreparedBatch, derive: bool = True) -> LandResult:
        loop = asyncio.get_running_loop()
        delay = self._first_backoff
        for attempt in range(self._retries + 1):
            try:
                return await loop.run_in_executor(self._writer, self._store.commit, batch, derive)
            except Exception as exc:  # a DuckDB error, a full disk, ...: retry, then stop
                if is_fatal(exc):  # the connection is invalidated: a retry on it cannot succeed
                    self._exit_unacknowledged(
                        f"writing a batch of {len(batch)} events hit a fatal DuckDB error ({exc}); the store "
                        "must be reopened, so the worker exits for its supervisor to start it again")
                if attempt == self._retries:
                    self._exit_unacknowledged(
                        f"writing a batch of {len(batch)} events failed {attempt + 1} times, last with: {exc}"
                    )
                log.error("writing a batch of %d events failed (%s); retry %d of %d in %.1f s",
                          len(batch), exc, attempt + 1, self._retries, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def _count(self, result: LandResult) -> None:
        self.stats.batches += 1
        self.stats.landed += result.landed
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += result.dead_lettered
        self.stats.last_batch_at = datetime.now(timezone.utc).isoformat()

    def _exit_unacknowledged(self, why: str) -> None:
        log.critical("%s; stopping before Faust acknowledges the batch. Nothing is lost: on restart the "
                     "worker resumes from the offsets stored with the last landed batch.", why)
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_WRITE_FAILED)

    def close(self) -> None:
        self._writer.shutdown(wait=True)


def _headers(raw: Any) -> dict[str, str]:
    """Kafka headers (a list of pairs or a mapping, values bytes) as text."""
    pairs = raw.items() if hasattr(raw, "items") else (raw or [])
    out = {}
    for key, value in pairs:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "replace")
        out[str(key)] = value
    return out

"""Lands each micro-batch exactly once, and never lets Faust acknowledge a batch that did not land.

Faust's ``take_events`` acknowledges a batch in its own ``finally``: when the
loop body returns, raises, or is cancelled (measured: an injected write failure lost ~3,000
rows that way; docs/architecture.md#why-nothing-is-lost-or-doubled). So this class
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
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from analytics.store import LandResult, Store, is_fatal
from flowcore import deadletter
from flowcore.batch import Envelope, PreparedBatch, Reject, prepare, unexpected_reason

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
    # Copies of this worker's own dead letters read back from the dead-letter topic (not
    # counted again), and copies that could not be put there (each still in dead_letters).
    own_dead_letters_read_back: int = 0
    dead_letter_copies_failed: int = 0
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
    def __init__(
        self,
        store: Store,
        kind_by_topic: dict[str, str],
        dead_letter_topic: str,
        send_dead_letter: SendDeadLetter,
        *,
        retries: int = 5,
        first_backoff: float = 0.5,
        shutdown_grace: float = 30.0,
        after_land: AfterLand | None = None,
        batch_max: int = 0,
        derive_every: float = 0.0,
        behind: Behind | None = None,
        log_ids: LogIds | None = None,
    ) -> None:
        self._store = store
        # Asked before any message is skipped as already landed: a new log id means the
        # broker lost its log and those offsets hold new events (docs/recovery.md).
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
        # One writer thread: DuckDB work stays off the event loop, and in order
        # (docs/architecture.md#6-duckdb-work-does-not-belong-on-the-event-loop).
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowmeter-writer")
        self.stats = LandingStats(log_resets=store.log_resets)
        self._last_done = time.perf_counter()

    def envelopes(self, events: Sequence[Any]) -> list[Envelope]:
        """Faust events -> envelopes carrying topic[partition]@offset and the raw bytes.

        What comes from the dead-letter topic was rejected already (by the receiver, by
        `flowmeter produce`, or by a worker): it is recorded with the reason in its header,
        not parsed. A header saying a worker rejected it is only a claim: the store decides
        whether it is a copy of a dead letter it recorded itself (Store._insert_dead_letters).
        Never raises: a message whose headers cannot be read is a dead letter of its own.
        """
        out = []
        for event in events:
            message = event.message
            try:
                out.append(self._envelope(message))
            except Exception as exc:  # noqa: BLE001 - one message's oddity is its own dead letter
                out.append(
                    Envelope(
                        str(message.topic),
                        int(message.partition),
                        int(message.offset),
                        "unknown",
                        _value_bytes(message.value),
                        unexpected_reason(exc),
                    )
                )
        return out

    def _envelope(self, message: Any) -> Envelope:
        if message.topic != self._dead_letter_topic:
            kind = self._kind_by_topic.get(message.topic, "unknown")
            return Envelope(message.topic, message.partition, message.offset, kind, message.value)
        headers = deadletter.read_headers(message.headers)
        reason = headers.get(deadletter.REASON) or "put on the dead-letter topic without a reason"
        kind = deadletter.clean_text(headers.get(deadletter.KIND) or "unknown", deadletter.KIND_CHARS)
        claims = headers.get(deadletter.SOURCE) if headers.get(deadletter.ORIGIN) == "worker" else None
        size = deadletter.original_size(headers.get(deadletter.ORIGINAL_BYTES))
        return Envelope(
            message.topic,
            message.partition,
            message.offset,
            kind,
            message.value,
            reason,
            claims_source=claims,
            original_bytes=size,
        )

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
        await self._publish_dead_letters(batch.rejects)
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

    async def _publish_dead_letters(self, rejects: list[Reject]) -> None:
        """Put this batch's own rejects on the dead-letter topic, acknowledged before the commit:
        each reaches the topic at least once (again, if a crash falls between these sends and
        the commit). What came from the dead-letter topic is there already and is not re-sent.

        The dead_letters row, written in the batch's transaction, is the record; the topic copy
        is a feed for other consumers. So a copy the broker refuses (or that times out) is
        logged and counted (dead_letter_copies_failed on /api/status) and the batch still lands:
        holding the batch back for it would stop ingestion over a copy of what is kept anyway.
        """
        own = [r for r in rejects if r.envelope.source != self._dead_letter_topic]
        results = await asyncio.gather(*(self._send_dead_letter(r) for r in own), return_exceptions=True)
        for reject, result in zip(own, results):
            if isinstance(result, BaseException):
                self.stats.dead_letter_copies_failed += 1
                log.error(
                    "dead-lettered %s (%s), but its copy could not be put on %s: %r; it is kept in "
                    "the dead_letters table",
                    reject.envelope.src,
                    reject.reason,
                    self._dead_letter_topic,
                    result,
                )
            else:
                log.warning("dead-lettered %s: %s", reject.envelope.src, reject.reason)

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
                        "must be reopened, so the worker exits for its supervisor to start it again"
                    )
                if attempt == self._retries:
                    self._exit_unacknowledged(
                        f"writing a batch of {len(batch)} events failed {attempt + 1} times, last with: {exc}"
                    )
                log.error(
                    "writing a batch of %d events failed (%s); retry %d of %d in %.1f s",
                    len(batch),
                    exc,
                    attempt + 1,
                    self._retries,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    def _count(self, result: LandResult) -> None:
        self.stats.batches += 1
        self.stats.landed += result.landed
        self.stats.duplicates += result.duplicates
        self.stats.dead_lettered += result.dead_lettered
        self.stats.own_dead_letters_read_back += result.own_copies
        self.stats.last_batch_at = datetime.now(UTC).isoformat()

    def _exit_unacknowledged(self, why: str) -> None:
        # Not "nothing is lost" outright: that holds only while the broker keeps these messages
        # until a worker restarts, and an embedded broker keeps them in memory. Nothing one message
        # holds gets here (prepare and the dead-letter sends catch per message), so what does is
        # the store or the process: a restart, or the recovery in docs, gets past it.
        log.critical(
            "%s; stopping before Faust acknowledges the batch (exit %d). The batch stays on the "
            "broker and nothing of it is marked landed: a restarted worker resumes from the offsets "
            "stored with the last landed batch, so nothing is lost as long as the broker keeps its "
            "log until then (Kafka does; the embedded broker holds it in memory while it runs).",
            why,
            EXIT_WRITE_FAILED,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stderr.flush()
        os._exit(EXIT_WRITE_FAILED)

    def close(self) -> None:
        self._writer.shutdown(wait=True)


def _value_bytes(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else None

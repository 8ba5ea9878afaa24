"""Deliver the outbox: one asyncio task in the worker, beside (never inside) the landing loop.

Woken when the evaluator queued notices, and at least every second for retries that fell
due. Each attempt has a deadline (``alert_timeout``) and each route at most a few attempts in
flight, so a route that hangs or is down costs the stream nothing: the landing loop never
awaits a delivery. Outcomes are written back to the outbox through the store's writer.

At least once, with one window for a duplicate the receiver cannot be told about: an attempt
that reached it but whose outcome was not stored (no answer within the deadline, a dropped
connection, the worker killed between sending and recording). Such a re-send carries the same
id (``Idempotency-Key``, ``X-Flowmeter-Notice-Id``, the CloudEvent ``id``) and is counted in
``alert_deliveries.resends`` (see outbox). A clean stop lets attempts in flight finish and
stores their outcome first, so a restart alone sends nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import aiohttp

from alerting import outbox
from alerting.notices import slack_message
from alerting.outbox import Delivery
from alerting.routes import Route

log = logging.getLogger(__name__)

Write = Callable[..., Awaitable[Any]]  # write(fn, *args): run fn(con, *args) in a store transaction
SendKafka = Callable[[str, bytes, bytes], Awaitable[None]]  # (topic, key, value)
POLL_SECONDS = 1.0
# On stop, how long attempts in flight may take to finish and be recorded before they are
# cancelled (those stay in doubt: a restart sends them again, counted as resends).
DRAIN_SECONDS = 5.0
# Deliveries that succeed within this window are recorded in one write transaction: one per
# delivery queued 200 transactions on the writer after a first aging check, ahead of batches.
RECORD_WINDOW = 0.05


class DeliveryFailed(Exception):
    """One attempt failed; the message is the sentence stored as last_error."""


class Dispatcher:
    def __init__(
        self,
        write: Write,
        routes: dict[str, Route],
        send_kafka: SendKafka,
        *,
        retries: int,
        backoff_max: float,
        timeout: float,
    ) -> None:
        self._write = write
        self._routes = routes
        self._send_kafka = send_kafka
        self._retries = retries
        self._backoff_max = backoff_max
        self._timeout = timeout
        self._wake = asyncio.Event()
        self._busy: dict[str, str] = {}  # delivery_id -> route of the attempts in flight
        self._tasks: set[asyncio.Task] = set()
        self._session: aiohttp.ClientSession | None = None
        self._delivered: list[str] = []  # succeeded, waiting for the next record
        self._recording: asyncio.Future | None = None  # the record that will include them

    def wake(self) -> None:
        """New notices are in the outbox: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled (the worker stopping); pending rows wait for the next start."""
        self._session = aiohttp.ClientSession()
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)
                except TimeoutError:
                    pass
                self._wake.clear()
                try:
                    rows = await self._write(outbox.due, _now(), frozenset(self._busy), Counter(self._busy.values()))
                except Exception as exc:  # the store is busy failing: the batch loop reports it
                    log.warning("could not read the alert outbox: %s", exc)
                    continue
                for delivery in rows:
                    self._busy[delivery.delivery_id] = delivery.route
                    task = asyncio.ensure_future(self._deliver(delivery))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            try:
                await self._drain()
            finally:
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self._session.close()

    async def _drain(self) -> None:
        """Stopping: give attempts in flight DRAIN_SECONDS to finish and store their outcome, so
        a notice that reached its receiver is not sent again after the restart."""
        if self._tasks:
            log.info("waiting up to %g s for %d alert deliveries in flight", DRAIN_SECONDS, len(self._tasks))
            await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)

    async def _deliver(self, delivery: Delivery) -> None:
        route = self._routes.get(delivery.route) or self._routes["log"]
        if delivery.resend:
            log.info(
                "alert notice %s to route %s is sent again (attempt %d): an earlier attempt may have "
                "reached it; receivers deduplicate on its id",
                delivery.delivery_id,
                route.name,
                delivery.attempts,
            )
        try:
            await asyncio.wait_for(self._send(route, delivery), timeout=route.timeout or self._timeout)
        except asyncio.CancelledError:
            raise  # stopped past the drain: the row stays pending, in doubt, and is sent after the restart
        except Exception as exc:
            reason = _explain(exc, route, route.timeout or self._timeout)
            status = await self._write(
                outbox.failed,
                delivery.delivery_id,
                _now(),
                reason,
                self._retries,
                self._backoff_max,
                may_have_arrived(exc),
            )
            level = logging.ERROR if status == "undelivered" else logging.WARNING
            log.log(
                level,
                "alert notice %s to route %s failed (attempt %d): %s%s",
                delivery.delivery_id,
                route.name,
                delivery.attempts,
                reason,
                "; retry budget spent, it stays visible as undelivered" if status == "undelivered" else "",
            )
        else:
            try:
                await self._record_delivered(delivery.delivery_id)
            except Exception as exc:  # the row stays pending and in doubt: sent again, counted as a resend
                log.warning(
                    "alert notice %s was delivered but could not be recorded (%s); it will be sent again",
                    delivery.delivery_id,
                    exc,
                )
        finally:
            # Only once its outcome is stored: `due` must not hand out a row just delivered.
            full = sum(route == delivery.route for route in self._busy.values()) >= outbox.PER_ROUTE_IN_FLIGHT
            self._busy.pop(delivery.delivery_id, None)
            if full:  # due rows may have waited for this slot: claim them now, not at the next poll
                self._wake.set()

    async def _record_delivered(self, delivery_id: str) -> None:
        """Store the success together with those that end within RECORD_WINDOW."""
        self._delivered.append(delivery_id)
        if self._recording is None:
            self._recording = asyncio.ensure_future(self._record_window())
        await asyncio.shield(self._recording)

    async def _record_window(self) -> None:
        await asyncio.sleep(RECORD_WINDOW)
        # No await between taking the list and clearing _recording: an id appended later
        # starts the next record instead of being missed by this one.
        ids, self._delivered, self._recording = self._delivered, [], None
        await self._write(outbox.delivered, ids, _now())

    async def _send(self, route: Route, delivery: Delivery) -> None:
        event = json.loads(delivery.payload)
        if route.kind == "log":
            log.warning("ALERT %s", event["data"]["summary"])
        elif route.kind == "kafka":
            await self._send_kafka(route.topic or "", event["subject"].encode(), delivery.payload.encode())
        else:
            body = delivery.payload.encode() if route.kind == "webhook" else json.dumps(slack_message(event)).encode()
            headers = {
                "Content-Type": "application/cloudevents+json" if route.kind == "webhook" else "application/json",
                # The same on every attempt: a receiver deduplicates re-sends on it.
                "Idempotency-Key": event["id"],
                "X-Flowmeter-Notice-Id": event["id"],
                "X-Flowmeter-Attempt": str(delivery.attempts),
                "User-Agent": "flowmeter-alerts",
            }
            if route.secret:
                digest = hmac.new(route.secret.encode(), body, hashlib.sha256).hexdigest()
                headers["X-Flowmeter-Signature"] = f"sha256={digest}"
            assert self._session is not None
            async with self._session.post(route.url or "", data=body, headers=headers) as response:
                if response.status >= 300:
                    raise DeliveryFailed(f"{_host(route)} answered HTTP {response.status}")


def _explain(exc: Exception, route: Route, timeout: float) -> str:
    if isinstance(exc, DeliveryFailed):
        return str(exc)
    if isinstance(exc, asyncio.TimeoutError):
        return f"no answer from {_host(route)} within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {_host(route)} ({exc.os_error.strerror or exc.os_error})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def may_have_arrived(exc: Exception) -> bool:
    """Whether a failed attempt may still have reached the receiver. An HTTP answer is the
    receiver's word that it did not take the notice, and a refused connection sent nothing;
    a timeout or a connection dropped mid-request leaves it unknown."""
    return not isinstance(exc, (DeliveryFailed, aiohttp.ClientConnectorError))


def _host(route: Route) -> str:
    """Where a route points, without its path: a Slack webhook URL is itself a credential."""
    if route.kind == "kafka":
        return f"topic {route.topic}"
    parsed = urlparse(route.url or "")
    return f"{parsed.scheme}://{parsed.netloc}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)

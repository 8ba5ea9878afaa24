"""The Faust worker: consume the input topics (transitions, deploys, incidents) in micro-batches and land them.

``run_worker`` is what ``flowmeter worker`` calls. It makes sure the topics
exist, opens the store, builds the app and runs it until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.types import TP

from alerting.config import load_policy
from alerting.dispatcher import Dispatcher
from alerting.evaluate import AlertPolicy
from alerting.judge import AlertJudge
from alerting.routes import parse_routes
from alerting.schedule import AlertSchedule, Judgement
from analytics.store import Store
from flowcore import deadletter, routing, runtime
from flowcore.batch import PreparedBatch, Reject
from flowcore.exposure import check_exposure
from flowcore.failpoints import Failpoints
from flowcore.settings import Settings, bootstrap_servers, faust_broker
from flowcore.workflow_file import load_workflow
from streams.broker import free_port
from streams.fetch_wait import set_fetch_wait
from streams.lander import Lander
from streams.topics import ensure_topics, log_bounds, topic_ids
from streams.web import register_views, yield_cpu

log = logging.getLogger(__name__)
STOP_QUERY_PASSES = 5  # 0.1 s apart
DEAD_LETTER_ACK_SECONDS = 30.0  # then the copy counts as failed; the dead_letters row still lands


def build_app(
    settings: Settings, broker: str, store: Store, web_port: int, policy: AlertPolicy | None = None
) -> tuple[faust.App, Lander]:
    set_fetch_wait(settings.fetch_wait)
    datadir = settings.db.with_name(settings.db.name + ".faust")
    # Faust needs datadir's parent (docs/architecture.md#8-fausts-web-server-binds-every-address).
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.group_id,
        broker=faust_broker(broker),
        autodiscover=False,
        # No Faust tables: state lives in DuckDB (docs/architecture.md#9-the-embedded-broker-keeps-no-state-for-faust).
        store="memory://",
        datadir=str(datadir),
        # Raw bytes in, our parser decides: a bad message is a dead letter, never a stall
        # (docs/architecture.md#1-raw-bytes-are-not-raw-by-default and the section after it).
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        topic_partitions=settings.partitions,
        web_enabled=True,
        # Faust binds 0.0.0.0 unless told (docs/architecture.md#8-fausts-web-server-binds-every-address).
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=web_port,
    )
    # The dead-letter topic is read too, to record what other producers reject (see Lander.envelopes).
    source = app.topic(*settings.input_topics, settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")

    async def send_dead_letter(reject: Reject) -> Any:
        return await asyncio.wait_for(publish_dead_letter(reject), DEAD_LETTER_ACK_SECONDS)

    async def publish_dead_letter(reject: Reject) -> Any:
        env = reject.envelope
        size = len(env.value) if env.value is not None else 0
        # At most COPY_BYTES of the message: Faust's producer refuses anything over 1,000,000
        # bytes, and a copy that can never be sent must not hold up the batch it came in.
        # force=True: without it Faust attaches the send to the current event and only
        # publishes on ack, after the batch; awaiting the future waits for the broker's ack.
        pending = await dead_letters.send(
            key=deadletter.clean_text(env.src, deadletter.REASON_CHARS).encode(),
            value=deadletter.copy_of(env.value),
            headers=deadletter.headers(reject.reason, env.src, env.kind, "worker", size),
            force=True,
        )
        return await pending

    kind_by_topic = {settings.topic_of(kind): kind for kind in routing.KINDS}
    alerts = _Alerting(app, store, policy or AlertPolicy(routes=parse_routes({}, "", settings.alerts_topic)), settings)

    def behind(events: Any) -> int:
        """Events on the broker after this batch: high watermark (from the last fetch) - next offset."""
        last: dict[TP, int] = {}
        for event in events:
            message = event.message
            tp = TP(message.topic, message.partition)
            last[tp] = max(message.offset, last.get(tp, -1))
        return sum(max(0, (app.consumer.highwater(tp) or 0) - offset - 1) for tp, offset in last.items())

    servers = bootstrap_servers(broker)
    lander = Lander(
        store,
        kind_by_topic,
        settings.dead_letter_topic,
        send_dead_letter,
        retries=settings.write_retries,
        after_land=alerts.after_land,
        batch_max=settings.batch_max,
        derive_every=settings.derive_every,
        behind=behind,
        log_ids=lambda names: topic_ids(servers, names),
    )
    alerts.start(lander)

    @app.timer(1.0)
    async def derive_when_quiet() -> None:
        try:
            await lander.settle(quiet_seconds=2 * settings.batch_within + 1)
        except Exception as exc:  # the next batch derives it with its own
            log.error("deriving what catching up deferred failed (%s); the next batch does it", exc)

    @app.agent(source, concurrency=1)
    async def land(stream: faust.StreamT) -> None:
        assert isinstance(stream, faust.Stream)  # take_events is on faust's Stream class, not on StreamT
        async for events in stream.take_events(settings.batch_max, settings.batch_within):
            await lander.land(events)

    # Our own reads (status, snapshot) and ad hoc SQL on pools of their own: queries can
    # take every query slot, and /api/status still answers at once.
    readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="flowmeter-reader")
    queries = ThreadPoolExecutor(
        max_workers=settings.query_concurrency, thread_name_prefix="flowmeter-query", initializer=yield_cpu
    )
    register_views(app, store, lander, readers, settings, queries)

    @app.on_before_shutdown.connect
    async def stop_queries(_sender: Any, /, *_args: Any, signal: Any, **_kwargs: Any) -> None:
        # Stopping waits for open HTTP requests: end ad hoc queries now, not at their timeout. DuckDB
        # forgets an interrupt that finds a cursor idle (a query about to start), so a few passes.
        for _ in range(STOP_QUERY_PASSES):
            open_cursors = store.interrupt_readers()
            await asyncio.sleep(0.1)
        log.info("stopping: interrupted the queries of %d open reader cursors", open_cursors)

    return app, lander


def run_worker(settings: Settings, broker: str) -> None:
    """Run until stopped. Raises FlowmeterError for a broker or store the user must fix."""
    check_exposure(
        "worker's HTTP server",
        settings.web_host,
        settings.query_token is not None,
        "FLOWMETER_QUERY_TOKEN",
        settings.allow_open_access,
    )
    workflow = load_workflow(settings.settings)
    policy = load_policy(settings, workflow)  # a bad route stops us here, in one sentence
    topics = [*settings.input_topics, settings.dead_letter_topic]
    alert_topics = sorted({r.topic for r in policy.routes.values() if r.topic} | {settings.alerts_topic})
    log_ids = ensure_topics(bootstrap_servers(broker), topics + alert_topics, settings.partitions)
    # A changed workflow mapping re-derives every metric here, before the first batch.
    store = Store.open(settings.db, failpoints=Failpoints(settings.failpoints), workflow=workflow)
    _check_logs(store, bootstrap_servers(broker), {topic: log_ids[topic] for topic in topics})
    store.lock_down()  # from here on no SQL reaches files or the network, no setting changes
    port = settings.web_port or free_port(settings.web_host)
    app, lander = build_app(settings, broker, store, port, policy)
    url = f"http://{settings.web_host}:{port}"
    runtime.announce(settings, url, broker)
    log.info("worker landing %s into %s; status at %s/api/status", ", ".join(settings.input_topics), settings.db, url)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    try:
        worker.execute_from_commandline()
    finally:
        lander.close()
        store.close()
        runtime.withdraw(settings)


def _check_logs(store: Store, servers: list[str], log_ids: dict[str, str]) -> None:
    """Before the first batch: find logs that are not the ones the stored positions belong to
    (a new topic id, a log ending below the position or starting past it), record and report
    each; the worker then lands the new log instead of skipping it (docs/recovery.md)."""
    resets = store.use_logs(log_ids)
    resets += store.check_bounds(log_bounds(servers, store.positions()))
    for reset in resets:
        log.error("log reset: %s", reset.describe())
    if resets:
        log.error(
            "%d log resets found at start (%d recorded in the log_resets table); events re-sent with "
            "the same event_id count as duplicates",
            len(resets),
            store.log_resets,
        )


class _Alerting:
    """The Faust wiring of one worker's alerts: the delivery task, the one-second tick and the
    after-batch hook call into the schedule (alerting.schedule), and judgements and outbox
    writes run on the lander's writer thread."""

    def __init__(self, app: faust.App, store: Store, policy: AlertPolicy, settings: Settings) -> None:
        self._app = app
        self._store = store
        self._policy = policy
        self._schedule = AlertSchedule(settings.aging_interval, settings.alert_max_event_age)
        self._timer_judging = False
        self._topics: dict[str, Any] = {}
        self._lander: Lander | None = None
        self._judge: AlertJudge | None = None
        self.dispatcher = Dispatcher(
            self._write,
            policy.routes,
            self._send_kafka,
            retries=settings.alert_retries,
            backoff_max=settings.alert_backoff_max,
            timeout=settings.alert_timeout,
        )

    def start(self, lander: Lander) -> None:
        self._lander = lander
        self._judge = AlertJudge(self._store, self._policy, self._schedule, lander.write)
        dispatcher = self.dispatcher

        @self._app.task
        async def deliver_alerts() -> None:
            await dispatcher.run()

        @self._app.timer(1.0)
        async def judge_alerts_on_time() -> None:
            judgement = self._schedule.on_tick(time.monotonic())
            # Not awaited here: a judgement queued behind a long batch would make Faust
            # report the timer as overlapping; the flag keeps one timer judgement at a time.
            if judgement is not None and not self._timer_judging:
                self._timer_judging = True
                task = asyncio.ensure_future(self.judge(judgement))
                task.add_done_callback(lambda _: setattr(self, "_timer_judging", False))

    async def after_land(self, _result: Any, batch: PreparedBatch) -> None:
        judgement = self._schedule.after_batch(bool(batch.transitions), bool(batch.incidents))
        if judgement is not None:
            await self.judge(judgement)

    async def _write(self, work: Callable[..., Any], *args: Any) -> Any:
        assert self._lander is not None
        return await self._lander.write(self._store.in_transaction, work, *args)

    async def judge(self, judgement: Judgement) -> None:
        assert self._judge is not None
        result = await self._judge.judge(judgement)
        if result is not None and result.deliveries:
            self.dispatcher.wake()

    async def _send_kafka(self, topic: str, key: bytes, value: bytes) -> None:
        if topic not in self._topics:
            self._topics[topic] = self._app.topic(topic, key_serializer="raw", value_serializer="raw")
        pending = await self._topics[topic].send(
            key=key, value=value, headers=[("content-type", b"application/cloudevents+json")], force=True
        )
        await pending

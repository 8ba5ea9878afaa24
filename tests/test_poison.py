"""Poison pills and dead letters (issue 13, items 2 and 6).

Whatever one message holds, it lands or becomes a dead letter with its reason, and the worker
goes on; every dead letter is kept and counted once, whoever put it on the dead-letter topic.
The hostile inputs are data (tests/attacks/poison_events.jsonl, its first line says how each
message is made); the unit tests run each through the parser and a real store, and one
end-to-end test sends them all over Kafka to a real worker.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer

from analytics.store import Store
from flowcore import deadletter
from flowcore.batch import Envelope, Reject, prepare
from streams.lander import Lander
from tests.helpers.events import encode, transition
from tests.helpers.waiting import wait_until

ATTACKS = Path(__file__).parent / "attacks" / "poison_events.jsonl"
PRODUCER_LIMIT = 1_000_000  # Faust's producer refuses a message over this many bytes (docs/metrics.md)


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for line in ATTACKS.read_text().splitlines():
        case = json.loads(line)
        if "case" in case:  # the first line is the file's comment
            cases.append(case)
    return cases


def message(case: dict[str, Any]) -> bytes:
    """The bytes a case's recipe makes (see the comment line of the data file); nothing is evaluated."""
    if "json" in case:
        return json.dumps(case["json"]).encode()
    if "text" in case:
        return case["text"].encode("utf-8")
    if "b64" in case:
        return base64.b64decode(case["b64"])
    parts = case["parts"]
    assert sum(times for _, times in parts) <= 2_000_000, "a recipe is bounded"
    return "".join(text * times for text, times in parts).encode("utf-8")


CASES = load_cases()
BAD = [c for c in CASES if c["expect"] is not None]
GOOD = [c for c in CASES if c["expect"] is None]


def test_the_attack_list_covers_the_issue():
    names = [c["case"] for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 100
    for pill in (
        "at-max-minus-14h",
        "at-min-plus-14h",
        "at-jira-basic-offset",
        "int-4301-digits-unknown-field",
        "surrogate-board",
        "surrogate-at",
        "near-1mb-not-json",
        "ticket-id-1m-chars",
    ):
        assert pill in names
    assert max(len(message(c)) for c in CASES) > 999_000  # the near-1 MB ones really are


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Iterator[Store]:
    with Store.open(tmp_path_factory.mktemp("poison") / "flow.duckdb") as opened:
        opened.use_logs({"flow.transitions": "log-1", "flow.deploys": "log-1", "flow.dead-letter": "log-1"})
        yield opened


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_each_hostile_input_lands_or_is_one_dead_letter_with_its_reason(case, store):
    raw = message(case)
    topic = "flow.deploys" if case["kind"] == "deploy" else "flow.transitions"
    offset = CASES.index(case)
    batch = prepare([Envelope(topic, 0, offset, case["kind"], raw)])
    result = store.commit(batch)  # a real transaction: nothing may fail at commit either
    if case["expect"] is None:
        assert (result.landed, result.dead_lettered) == (1, 0), [r.reason for r in batch.rejects]
        return
    assert (result.landed, result.dead_lettered) == (0, 1)
    [reject] = batch.rejects
    assert case["expect"] in reject.reason
    assert reject.reason.isprintable() and len(reject.reason) <= deadletter.REASON_CHARS
    reject.reason.encode("utf-8")  # valid UTF-8: no lone surrogate reaches a header or the store
    # What the worker sends to the dead-letter topic fits under the producer's limit.
    headers = deadletter.headers(reject.reason, reject.envelope.src, case["kind"], "worker", len(raw))
    size = len(deadletter.copy_of(raw)) + sum(len(k) + len(v) for k, v in headers)
    assert size < PRODUCER_LIMIT // 10
    _, rows = store.read(
        "SELECT reason, original_bytes, octet_length(raw) FROM dead_letters WHERE src = ?", [reject.envelope.src]
    )
    assert rows == [(reject.reason, len(raw), min(len(raw), deadletter.STORED_BYTES))]


# ---- the dead-letter helpers ---------------------------------------------------------
@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("plain", 10, "plain"),
        ("b\ud800", 10, "b\\ud800"),  # a lone surrogate escaped: 1 + 6 characters
        ("a\nb", 10, "a\\nb"),
        ("x" * 20, 10, "x" * 9 + "\u2026"),  # cut to 10 with the ellipsis
        ("\ud800" * 5, 10, "\\ud800\\ud\u2026"),  # escaping makes it longer: cut again to 10
    ],
)
def test_clean_text_is_printable_utf8_and_bounded(text, limit, expected):
    assert deadletter.clean_text(text, limit) == expected


def test_same_message_compares_cut_copies_by_prefix_and_original_size():
    full = b"x" * 100_000
    assert deadletter.same_message(full, None, full[:65_536], 100_000)
    assert not deadletter.same_message(full, None, full[:65_536], 99_999)  # another size: another message
    assert not deadletter.same_message(b"abc", None, b"abd", 3)


# ---- the worker's own dead letters vs. what others put on the topic -------------------------
def _dl(
    offset: int,
    value: bytes,
    reason: str = "r",
    kind: str = "unknown",
    claims: str | None = None,
    size: int | None = None,
) -> Envelope:
    return Envelope("flow.dead-letter", 0, offset, kind, value, reason, claims_source=claims, original_bytes=size)


def _counts(store: Store) -> dict[tuple[str, str], int]:
    _, rows = store.read("SELECT source, kind, dead_lettered FROM ingest_counts WHERE dead_lettered <> 0")
    return {(s, k): n for s, k, n in rows}


@pytest.fixture
def fresh_store(tmp_path) -> Iterator[Store]:
    with Store.open(tmp_path / "flow.duckdb") as opened:
        opened.use_logs({"flow.transitions": "log-1", "flow.dead-letter": "log-1"})
        yield opened


def test_a_copy_of_the_workers_own_dead_letter_is_not_counted_again(fresh_store):
    bad = b"x" * 200_000  # not JSON; its copy on the topic is cut to 64 KiB
    first = fresh_store.commit(prepare([Envelope("flow.transitions", 0, 5, "transition", bad)]))
    assert first.dead_lettered == 1
    copy = _dl(0, deadletter.copy_of(bad), claims="flow.transitions[0]@5", size=len(bad))
    again = fresh_store.commit(prepare([copy]))
    assert (again.dead_lettered, again.own_copies) == (0, 1)
    assert _counts(fresh_store) == {("flow.transitions", "transition"): 1}


def test_a_forged_worker_origin_is_kept_and_counted(fresh_store):
    fresh_store.commit(prepare([Envelope("flow.transitions", 0, 5, "transition", b"not json")]))
    forged = [
        _dl(0, b"other bytes", "forged, different bytes", claims="flow.transitions[0]@5"),
        _dl(1, b"{}", "forged, names a message that landed", claims="flow.transitions[0]@4"),
        _dl(2, b"not json", "forged, names a topic nobody reads", claims="elsewhere[0]@5"),
        # The real dead letter's size, with an empty value or a prefix: not what a worker sends
        # (its copy is the first min(size, 64 KiB) bytes), so kept and counted (found by attack).
        _dl(3, b"", "forged, empty, claims the real size", claims="flow.transitions[0]@5", size=8),
        _dl(4, b"not j", "forged, a prefix, claims the real size", claims="flow.transitions[0]@5", size=8),
    ]
    result = fresh_store.commit(prepare(forged))
    assert (result.dead_lettered, result.own_copies) == (5, 0)
    assert _counts(fresh_store) == {("flow.transitions", "transition"): 1, ("flow.dead-letter", "unknown"): 5}


def test_a_copy_read_before_its_redelivered_original_gives_way_to_it(fresh_store):
    # A crash between publishing a copy and committing its batch; after the restart the copy
    # is read first: it counts (it cannot be told from a forgery yet), then the original replaces it.
    bad = b"{broken"
    early = fresh_store.commit(prepare([_dl(0, bad, "not JSON", claims="flow.transitions[1]@9")]))
    assert early.dead_lettered == 1
    fresh_store.commit(prepare([Envelope("flow.transitions", 1, 9, "transition", bad)]))
    assert _counts(fresh_store) == {("flow.transitions", "transition"): 1}  # the copy's count moved, not doubled
    _, rows = fresh_store.read("SELECT src FROM dead_letters")
    assert rows == [("flow.transitions[1]@9",)]


def test_a_copy_in_the_same_batch_as_its_original_is_not_counted(fresh_store):
    bad = b"[1]"
    result = fresh_store.commit(
        prepare([_dl(3, bad, claims="flow.transitions[2]@7"), Envelope("flow.transitions", 2, 7, "transition", bad)])
    )
    assert (result.dead_lettered, result.own_copies) == (1, 1)


def test_an_unknown_kind_is_stored_and_shown_in_ingest_status(fresh_store):
    fresh_store.commit(
        prepare(
            [
                _dl(0, b"{}", "a kind this version does not know", kind="postmortem"),
                _dl(1, b"{}", "a kind with a lone surrogate", kind="k\ud800"),
            ]
        )
    )
    _, rows = fresh_store.read("SELECT kind, dead_lettered, received FROM ingest_status")
    shown = {kind: (dead, received) for kind, dead, received in rows}
    assert shown["postmortem"] == (1, 1) and shown["k\\ud800"] == (1, 1)
    assert [r[0] for r in rows][:4] == ["deploy", "incident", "transition", "unknown"]  # the v1 kinds first


# ---- the lander: a refused copy does not stop landing; foreign ones are not re-sent ----------
def test_a_dead_letter_copy_the_broker_refuses_is_counted_and_the_batch_lands(fresh_store):
    sent: list[str] = []

    async def send(reject: Reject) -> None:
        sent.append(reject.envelope.src)
        raise RuntimeError("MessageSizeTooLargeError")

    lander = Lander(fresh_store, {"flow.transitions": "transition"}, "flow.dead-letter", send)
    try:
        envelopes = [
            Envelope("flow.transitions", 0, 0, "transition", encode(transition(1))),
            Envelope("flow.transitions", 0, 1, "transition", b"x" * 1_100_000),
            _dl(0, b"{}", "from the receiver"),
        ]
        asyncio.run(lander.land_envelopes(envelopes))
    finally:
        lander.close()
    assert sent == ["flow.transitions[0]@1"]  # the receiver's dead letter is on the topic already
    assert lander.stats.dead_letter_copies_failed == 1
    assert (lander.stats.landed, lander.stats.dead_lettered) == (1, 2)


# ---- end to end: a real worker, the real broker ----------------------------------------------
@pytest.mark.broker
def test_poison_and_hostile_input_over_kafka_never_stop_the_worker(worker_factory, topics, broker):
    servers = broker.removeprefix("kafka://")
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", linger_ms=5, max_request_size=2_000_000)
    topic_of = {"transition": topics["transitions"], "deploy": topics["deploys"]}
    sent: list[tuple[str, Any, dict[str, Any] | None]] = []  # (what, send future, case)
    for n, case in enumerate(CASES):  # each hostile input between two good events
        sent.append(("good", producer.send(topics["transitions"], key=b"T", value=encode(transition(2 * n))), None))
        sent.append(("case", producer.send(topic_of[case["kind"]], value=message(case)), case))
        sent.append(("good", producer.send(topics["transitions"], value=encode(transition(2 * n + 1))), None))
    producer.flush()
    where = {
        id(case): f"{m.topic}[{m.partition}]@{m.offset}"
        for what, f, case in sent
        if case is not None and (m := f.get(timeout=30))
    }
    first_good = sent[0][1].get(timeout=30)
    # Dead letters other producers put on the dead-letter topic first: each counts once, as sent.
    # The forged "worker" one names a good event's coordinates (it landed: no dead letter there).
    claim = f"{first_good.topic}[{first_good.partition}]@{first_good.offset}"
    foreign = [
        (
            "receiver",
            [
                ("flowmeter-reason", b"the body is not JSON."),
                ("flowmeter-origin", b"receiver"),
                ("flowmeter-kind", b"unknown"),
            ],
        ),
        (
            "produce",
            [
                ("flowmeter-reason", b"line 3 is not JSON."),
                ("flowmeter-origin", b"produce"),
                ("flowmeter-kind", b"unknown"),
            ],
        ),
        (
            "forged-worker",
            [
                ("flowmeter-reason", b"forged"),
                ("flowmeter-origin", b"worker"),
                ("flowmeter-source", claim.encode()),
                ("flowmeter-kind", b"transition"),
            ],
        ),
        (
            "forged-worker-at-a-real-dead-letter",
            [
                ("flowmeter-reason", b"forged"),
                ("flowmeter-origin", b"worker"),
                ("flowmeter-source", where[id(BAD[0])].encode()),
            ],
        ),
        (
            "forged-worker-nowhere",
            [
                ("flowmeter-reason", b"forged"),
                ("flowmeter-origin", b"worker"),
                ("flowmeter-source", b"nowhere[0]@1"),
                ("flowmeter-kind", b"unknown"),
            ],
        ),
        (
            "unknown-kind",
            [
                ("flowmeter-reason", b"a postmortem"),
                ("flowmeter-origin", b"receiver"),
                ("flowmeter-kind", b"postmortem"),
            ],
        ),
        ("no-headers", []),
        ("bad-header-bytes", [("flowmeter-reason", b"\xed\xa0\x80\xff"), ("flowmeter-kind", b"\xff")]),
    ]
    for name, headers in foreign:
        sent.append(
            ("foreign", producer.send(topics["dead_letter"], value=f'{{"{name}": 1}}'.encode(), headers=headers), None)
        )
    producer.flush()
    producer.close()
    total = len(sent)  # 3 x 150 + 8 = 458
    goods, bad_cases = 2 * len(CASES) + len(GOOD), len(BAD)

    worker = worker_factory(batch_max=64).start()
    final = worker.wait_accounted(total, timeout=180)
    # The worker reads back its own dead letters from the topic: once it has, nothing more may count.
    wait_until(
        lambda: worker.status()["worker"]["own_dead_letters_read_back"] >= bad_cases,
        60,
        "the worker's own dead letters read back",
    )
    final = worker.status()
    assert worker.process.poll() is None, worker.log_tail()
    assert final["accounted"] == total  # landed + duplicates + dead_lettered == sent, exactly
    kinds = final["by_kind"]
    assert sum(r["landed"] for r in kinds.values()) == goods
    assert sum(r["duplicates"] for r in kinds.values()) == 0
    assert sum(r["dead_lettered"] for r in kinds.values()) == bad_cases + len(foreign)
    assert kinds["postmortem"]["dead_lettered"] == 1  # an unknown kind shows
    assert final["worker"]["dead_letter_copies_failed"] == 0

    rows = requests.post(
        f"{worker.url}/api/sql",
        json={"sql": "SELECT src, reason FROM dead_letters"},
        headers=worker.headers,
        timeout=30,
    ).json()["rows"]
    reasons = dict((r["src"], r["reason"]) if isinstance(r, dict) else r for r in rows)
    for case in BAD:
        assert case["expect"] in reasons[where[id(case)]], case["case"]
    assert sum(src.startswith(topics["dead_letter"]) for src in reasons) == len(foreign)
    ids = requests.post(
        f"{worker.url}/api/sql",
        json={"sql": "SELECT count(DISTINCT event_id) FROM transitions WHERE event_id LIKE 'ev-%'"},
        headers=worker.headers,
        timeout=30,
    ).json()["rows"]
    assert json.dumps(ids) in ("[[300]]", '[{"count(DISTINCT event_id)": 300}]')  # every good one: 2 x 150

    # On the topic: the 8 foreign ones and one copy of each of the worker's rejects, none re-published.
    consumer = KafkaConsumer(
        topics["dead_letter"],
        bootstrap_servers=servers,
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        fetch_max_bytes=4_000_000,
    )
    on_topic = [(dict(m.headers), len(m.value)) for m in consumer]
    consumer.close()
    origins = Counter(h.get("flowmeter-origin") for h, _ in on_topic)
    assert origins[b"worker"] == bad_cases + 3  # + the three forged ones
    copies = {
        h["flowmeter-source"].decode(): (h, size)
        for h, size in on_topic
        if h.get("flowmeter-origin") == b"worker" and h["flowmeter-reason"] != b"forged"
    }
    assert len(copies) == bad_cases  # each reject once: none doubled
    assert set(copies) == {where[id(c)] for c in BAD}
    assert all(size <= deadletter.COPY_BYTES for _, size in copies.values())
    huge = next(c for c in BAD if c["case"] == "ticket-id-1m-chars")
    assert copies[where[id(huge)]][0]["flowmeter-original-bytes"] == str(len(message(huge))).encode()
    assert worker.stop() == 0 and worker.history == [0]
    assert "Traceback" not in worker.log_path.read_text(errors="replace")

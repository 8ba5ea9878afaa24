"""The worker's read-only SQL service, over real HTTP, on a real worker and broker."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest
import requests

from tests.helpers.events import encode, transition
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker]
ARROW = "application/vnd.apache.arrow.stream"


def sql(worker, statement: str, **kw) -> requests.Response:
    return requests.post(f"{worker.url}/api/sql", json={"sql": statement}, timeout=30, **kw)


def land(worker, producer, topics, count: int, offset: int = 0) -> None:
    for n in range(offset, offset + count):
        producer.send(topics["transitions"], key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    producer.flush()
    worker.wait_accounted(offset + count)


@pytest.fixture
def worker(worker_factory, producer, topics):
    w = worker_factory(query_timeout=2, query_max_rows=5).start()
    land(w, producer, topics, 300)
    return w


REFUSED = [
    "INSERT INTO transitions SELECT * FROM transitions",
    "UPDATE transitions SET board = 'x'",
    "DELETE FROM transitions",
    "CREATE TABLE stolen AS SELECT * FROM transitions",
    "DROP VIEW wip_now",
    "ALTER TABLE transitions ADD COLUMN x INT",
    "SET threads = 1",
    "RESET threads",
    "PRAGMA threads = 1",
    "COPY transitions TO '{tmp}/out.csv'",
    "COPY transitions FROM '{tmp}/in.csv'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "EXPORT DATABASE '{tmp}/export'",
    "CALL checkpoint()",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "SELECT * FROM read_csv('/etc/hostname')",
    "SELECT * FROM read_parquet('{tmp}/x.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_text('https://example.invalid/x')",
    "EXPLAIN ANALYZE DELETE FROM transitions",
    "SELECT 1; DELETE FROM transitions",
    "",
]


def test_every_refusal_is_a_4xx_sentence_and_nothing_changes(worker, tmp_path):
    tmp_path = tmp_path / "attack"  # the worker's own files live in tmp_path itself
    tmp_path.mkdir()
    before = sql(worker, "SELECT count(*) AS n, sum(hash(event_id)) AS h FROM transitions").json()["rows"]
    setting = sql(worker, "SELECT current_setting('threads') AS t").json()["rows"]
    views = sql(worker, "SELECT count(*) AS v FROM duckdb_views() WHERE NOT internal").json()["rows"]
    (tmp_path / "in.csv").write_text("a\n1\n")
    for statement in REFUSED:
        response = sql(worker, statement.format(tmp=tmp_path))
        assert 400 <= response.status_code < 500, (statement, response.status_code, response.text)
        message = response.json()["error"]
        assert message and "\n" not in message and message.endswith("."), (statement, message)
    assert sql(worker, "SELECT count(*) AS n, sum(hash(event_id)) AS h FROM transitions").json()["rows"] == before
    assert sql(worker, "SELECT current_setting('threads') AS t").json()["rows"] == setting
    assert sql(worker, "SELECT count(*) AS v FROM duckdb_views() WHERE NOT internal").json()["rows"] == views
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # nothing written by COPY/EXPORT/ATTACH


def test_reasons_say_why(worker):
    assert sql(worker, "DELETE FROM transitions").json()["error"] == (
        "only read-only statements (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) are accepted; "
        "this is DELETE which changes data."
    )
    assert "cannot read or write files" in sql(worker, "SELECT * FROM read_csv('/etc/hostname')").json()["error"]
    syntax = sql(worker, "SELEC 1")
    assert syntax.status_code == 422 and syntax.json()["error"].startswith("Parser Error: syntax error")
    unknown = sql(worker, "SELECT nope FROM transitions")
    assert unknown.status_code == 422 and 'column "nope"' in unknown.json()["error"]


def test_read_only_statements_run(worker):
    for statement in [
        "SELECT 1 AS x",
        "WITH a AS (SELECT 1 AS x) SELECT * FROM a",
        "FROM transitions LIMIT 1",
        "VALUES (1)",
        "DESCRIBE transitions",
        "SHOW TABLES",
        "SUMMARIZE SELECT 1 AS x",
        "EXPLAIN SELECT 1",
    ]:
        assert sql(worker, statement).status_code == 200, statement


def test_row_cap_flags_truncation_in_json_and_arrow(worker):
    body = sql(worker, "SELECT * FROM range(100) r(i)").json()
    assert body["row_count"] == 5 and body["truncated"] is True  # query_max_rows = 5
    assert [r["i"] for r in body["rows"]] == [0, 1, 2, 3, 4]
    exact = sql(worker, "SELECT * FROM range(5) r(i)").json()
    assert exact["row_count"] == 5 and exact["truncated"] is False
    response = sql(worker, "SELECT * FROM range(100) r(i)", headers={"Accept": ARROW})
    table = pa.ipc.open_stream(response.content).read_all()
    assert table.column("i").to_pylist() == [0, 1, 2, 3, 4]
    assert response.headers["X-Flowmeter-Truncated"] == "true"
    assert table.schema.metadata[b"flowmeter.truncated"] == b"true"


def test_timeout_interrupts_the_query_and_the_stream_goes_on(worker, producer, topics):
    started = time.monotonic()
    response = sql(worker, "SELECT count(*) FROM range(1000000000) a, range(100000) b")
    assert response.status_code == 408
    assert response.json()["error"] == ("the query ran longer than 2 s and was stopped; narrow it or add a LIMIT.")
    assert time.monotonic() - started < 20
    land(worker, producer, topics, 100, offset=300)  # the worker still lands events


def test_only_json_posts_and_request_size_cap(worker):
    # No GET and no form or text/plain body: a web page could send those from the user's browser.
    got = requests.get(f"{worker.url}/api/sql", params={"q": "SELECT 41 + 1 AS answer"}, timeout=10)
    assert got.status_code == 405 and "POST" in got.json()["error"]
    plain = requests.post(
        f"{worker.url}/api/sql", data=b'{"sql": "SELECT 1"}', timeout=10, headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415 and "application/json" in plain.json()["error"]
    form = requests.post(f"{worker.url}/api/sql", data={"sql": "SELECT 1"}, timeout=10)
    assert form.status_code == 415
    huge = requests.post(f"{worker.url}/api/sql", json={"sql": "SELECT '" + "x" * 70_000 + "'"}, timeout=10)
    assert huge.status_code == 413 and "larger than 65,536 bytes" in huge.json()["error"]
    bad = requests.post(
        f"{worker.url}/api/sql", data=b"SELECT 1", timeout=10, headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "JSON object" in bad.json()["error"]
    # A lone surrogate in the SQL text (JSON allows the escape): one sentence, not a 500.
    odd = requests.post(
        f"{worker.url}/api/sql",
        data=b'{"sql": "SELECT \'\\ud800\'"}',
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert odd.status_code == 400 and "not valid Unicode" in odd.json()["error"]
    deep = requests.post(
        f"{worker.url}/api/sql",
        data=b"[" * 5000 + b"]" * 5000,
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert deep.status_code in (400, 413)


def test_bound_parameters(worker):
    got = requests.post(
        f"{worker.url}/api/sql",
        timeout=10,
        json={
            "sql": "SELECT count(*) AS n FROM transitions WHERE board = ? AND ticket_id = ?",
            "params": ["payments", "T-7"],
        },
    )
    # transition(n) puts event n on ticket T-(n % 500): of events 0..299 only n = 7 is T-7.
    assert got.status_code == 200 and got.json()["rows"] == [{"n": 1}]
    injected = requests.post(
        f"{worker.url}/api/sql",
        timeout=10,
        json={"sql": "SELECT count(*) AS n FROM transitions WHERE board = $board", "params": {"board": "x' OR '1'='1"}},
    )
    assert injected.json()["rows"] == [{"n": 0}]


def test_result_bytes_are_capped(worker_factory):
    w = worker_factory(query_max_result_bytes=1_000_000).start()
    # 400 rows of 100,000 bytes = 40 MB of Arrow data; the cap keeps the first 9 (9 x 100,000
    # value bytes plus offsets stays under 1,000,000; 10 would pass it).
    got = requests.post(f"{w.url}/api/sql", json={"sql": "SELECT repeat('x', 100000) AS s FROM range(400)"}, timeout=30)
    assert got.status_code == 200 and got.headers["X-Flowmeter-Cut-By"] == "bytes"
    body = got.json()
    assert body["truncated"] is True and body["cut_by"] == "bytes" and body["row_count"] == 9


def test_only_the_api_is_served_and_foreign_origins_are_refused(worker):
    for path in ("/", "/router/", "/table/", "/stats/", "/graph/"):
        response = requests.get(worker.url + path, timeout=10)
        assert response.status_code == 404, path
    foreign = requests.post(
        f"{worker.url}/api/sql", json={"sql": "SELECT 1"}, timeout=10, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and "evil.example" in foreign.json()["error"]
    assert requests.get(f"{worker.url}/api/status", headers={"Origin": "null"}, timeout=10).status_code == 403


def test_stopping_ends_a_running_query_at_once(worker_factory):
    """A worker stopping waits for open requests: a query with most of its query_timeout left must
    be interrupted, answered 503 (run it again), and not hold the stop up."""
    w = worker_factory(query_timeout=120).start()
    answer: dict = {}

    def long_query() -> None:
        try:
            answer["response"] = sql(w, "SELECT count(*) FROM range(1000000000) a, range(100000) b")
        except requests.RequestException as exc:  # kept, so a failure below says what happened
            answer["error"] = exc

    thread = threading.Thread(target=long_query)
    thread.start()
    wait_until(lambda: w.status()["queries"]["running"] == 1, 30, "the query to be running")
    started = time.monotonic()
    assert w.stop() == 0
    stopped_in = time.monotonic() - started
    thread.join(30)
    assert stopped_in < 20, f"the stop took {stopped_in:.0f} s"  # not the 120 s query_timeout
    assert "response" in answer, f"{answer}; log:\n{w.log_tail(30)}"
    response = answer["response"]
    assert response.status_code == 503 and "shutting down" in response.json()["error"]


def test_token_is_required_when_configured(worker_factory):
    w = worker_factory(query_token="s3cret").start()
    assert requests.post(f"{w.url}/api/sql", json={"sql": "SELECT 1"}, timeout=10).status_code == 401
    wrong = requests.post(
        f"{w.url}/api/sql", json={"sql": "SELECT 1"}, headers={"Authorization": "Bearer nope"}, timeout=10
    )
    assert wrong.status_code == 403 and "bearer token" in wrong.json()["error"]
    right = requests.post(
        f"{w.url}/api/sql", json={"sql": "SELECT 1 AS x"}, headers={"Authorization": "Bearer s3cret"}, timeout=10
    )
    assert right.status_code == 200 and right.json()["rows"] == [{"x": 1}]
    # The scheme is case-insensitive (RFC 9110 11.1); a non-ASCII header is a 403, not a 500.
    lower = requests.post(
        f"{w.url}/api/sql", json={"sql": "SELECT 1 AS x"}, headers={"Authorization": "bearer s3cret"}, timeout=10
    )
    assert lower.status_code == 200
    odd = requests.post(
        f"{w.url}/api/sql",
        json={"sql": "SELECT 1"},
        timeout=10,
        headers={"Authorization": "Bearer s3cr\u00e9t".encode("latin-1")},
    )
    assert odd.status_code == 403
    assert requests.get(f"{w.url}/api/status", timeout=10).status_code == 401
    assert requests.get(f"{w.url}/api/snapshot", timeout=10).status_code == 401


def test_concurrent_queries_while_10000_events_stream_in_see_only_whole_batches(worker_factory, producer, topics):
    worker = worker_factory(batch_max=250, derive_every=0).start()
    total = 10_000
    # Rows written together in one transaction must always be seen together: the landed
    # events and their count, and the derived tickets and the distinct tickets they come from.
    probe = (
        "SELECT (SELECT count(*) FROM transitions) AS events, "
        "(SELECT coalesce(sum(landed), 0) FROM ingest_counts WHERE kind = 'transition') AS counted, "
        "(SELECT count(*) FROM tickets) AS tickets, "
        "(SELECT count(DISTINCT ticket_id) FROM transitions) AS distinct_tickets"
    )
    seen: list[dict] = []
    failures: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            response = sql(worker, probe)
            if response.status_code != 200:
                failures.append(response.text)
                return
            seen.append(response.json()["rows"][0])

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for n in range(total):
            producer.send(topics["transitions"], key=f"T-{n % 2000}".encode(), value=encode(transition(n)))
            if n % 1000 == 999:
                producer.flush()
        producer.flush()
        worker.wait_accounted(total)
        wait_until(lambda: any(s["events"] == total for s in seen), 30, "a reader to see every event")
    finally:
        stop.set()
        for thread in readers:
            thread.join(60)
    assert not failures
    assert all(s["events"] == s["counted"] and s["tickets"] == s["distinct_tickets"] for s in seen)
    assert any(0 < s["events"] < total for s in seen), "the readers must have run while events were landing"
    assert len(seen) >= 20


def test_catching_up_defers_derived_tables_then_they_match_the_events(worker_factory, producer, topics):
    # 5,000 events pre-produced, batches of 250: the worker is behind, so full batches land
    # their events at once and refresh the derived tables at most every derive_every (5 s);
    # once it has caught up, tickets account for every ticket the events name.
    worker = worker_factory(batch_max=250).start()
    land(worker, producer, topics, 5_000)
    derived = (
        "SELECT (SELECT count(*) FROM tickets) AS tickets, (SELECT count(DISTINCT ticket_id) FROM transitions) AS named"
    )
    rows = wait_until(
        lambda: (r := sql(worker, derived).json()["rows"])[0]["tickets"] == 500 and r,
        30,
        "the derived tickets to catch up",
    )
    assert rows == [{"tickets": 500, "named": 500}]

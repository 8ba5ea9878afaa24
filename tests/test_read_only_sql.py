"""Read-only SQL is kept by the engine: every write attempt in tests/attacks/sql_writes.sql,
through every SQL path (the worker's HTTP API, `flowmeter sql` against the worker, the
dashboard's SQL page, and `flowmeter sql` on the file with no worker), is refused, and every
table of the store holds exactly what it held before.

One real worker and broker for the whole module (the attacks only read); the store is
fingerprinted table by table before and after.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests
from click.testing import CliRunner
from kafka import KafkaProducer
from streamlit.testing.v1 import AppTest

from flowmeter.cli import cli
from streams.broker import free_port
from tests.helpers.events import MALFORMED, encode, transition
from tests.helpers.processes import ARTIFACTS, WorkerProcess
from tests.helpers.waiting import wait_until

pytestmark = [pytest.mark.broker]
ROOT = Path(__file__).resolve().parent.parent
ATTACKS_FILE = ROOT / "tests" / "attacks" / "sql_writes.sql"
ATTACKS = [line.strip() for line in ATTACKS_FILE.read_text().splitlines() if line.strip() and not line.startswith("--")]
APP = str(ROOT / "dashboard" / "app.py")
GOOD, BAD = 300, 10  # events landed before the attacks: 300 transitions and 10 dead letters


def _env(broker: str, db: Path, port: int, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWMETER_")}
    env.update(
        {
            "FLOWMETER_BROKER": broker,
            "FLOWMETER_DB": str(db),
            "FLOWMETER_TOPIC_PREFIX": prefix,
            "FLOWMETER_GROUP_ID": f"g{prefix}",
            "FLOWMETER_WEB_PORT": str(port),
            "FLOWMETER_SESSION_TIMEOUT": "2",
            "FLOWMETER_HEARTBEAT_INTERVAL": "0.5",
            "FLOWMETER_BATCH_WITHIN": "0.2",
            "FLOWMETER_QUERY_TIMEOUT": "5",
        }
    )
    return env


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readonly")


@pytest.fixture(scope="module")
def worker(broker: str, store_dir: Path) -> Iterator[WorkerProcess]:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    w = WorkerProcess(
        _env(broker, store_dir / "flow.duckdb", port, prefix), store_dir / "worker.log", f"http://127.0.0.1:{port}"
    ).start()
    producer = KafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all")
    for n in range(GOOD):
        producer.send(f"{prefix}transitions", key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    for n in range(BAD):
        producer.send(f"{prefix}transitions", value=MALFORMED[n % len(MALFORMED)][0](n))
    producer.flush()
    producer.close()
    w.wait_accounted(GOOD + BAD)
    yield w
    if w.process and w.process.poll() is None:
        w.process.kill()
        w.process.wait(10)


def fingerprint(worker: WorkerProcess) -> dict[str, tuple[int, str]]:
    """Every base table's row count and a hash of its whole content, read through the API."""
    tables = requests.post(
        f"{worker.url}/api/sql",
        timeout=30,
        json={
            "sql": "SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_catalog = current_database() ORDER BY 1"
        },
    ).json()["rows"]
    names = [t["table_name"] for t in tables]
    assert {"transitions", "dead_letters", "ingest_positions", "ingest_counts"} <= set(names)
    parts = " UNION ALL ".join(
        f"SELECT '{n}' AS t, count(*) AS n, md5(coalesce(string_agg(x::VARCHAR, '|' ORDER BY x::VARCHAR), '')) AS h "
        f"FROM {n} AS x"
        for n in names
    )
    rows = requests.post(f"{worker.url}/api/sql", json={"sql": parts}, timeout=30).json()["rows"]
    return {r["t"]: (r["n"], r["h"]) for r in rows}


@pytest.fixture(scope="module")
def before(worker: WorkerProcess) -> dict[str, tuple[int, str]]:
    # Quiet first: the worker reads its own 10 dead-letter copies back from the dead-letter topic
    # (and records that topic's positions); only then is the store still while nothing is sent.
    wait_until(
        lambda: worker.status()["worker"]["own_dead_letters_read_back"] >= BAD,
        60,
        "the worker to read its own dead-letter copies back",
    )
    prints = fingerprint(worker)
    # Hand arithmetic: 300 transitions landed, 10 malformed ones dead-lettered.
    assert prints["transitions"][0] == GOOD and prints["dead_letters"][0] == BAD
    return prints


def attack_sql(attack: str, scratch: Path) -> str:
    return attack.replace("{tmp}", str(scratch))


def test_the_attack_list_is_long_enough():
    assert len(ATTACKS) >= 70 and len(set(ATTACKS)) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS)
def test_http_api_refuses(worker, before, attack, store_dir):
    response = requests.post(f"{worker.url}/api/sql", json={"sql": attack_sql(attack, store_dir)}, timeout=30)
    assert response.status_code in (400, 422), (response.status_code, response.text[:300])
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message


@pytest.fixture(scope="module")
def cli_env(worker: WorkerProcess) -> dict[str, str]:
    return {"FLOWMETER_WORKER_URL": worker.url, "FLOWMETER_DB": worker.env["FLOWMETER_DB"]}


@pytest.mark.parametrize("attack", ATTACKS)
def test_cli_through_the_worker_refuses(worker, before, cli_env, attack, store_dir):
    result = CliRunner().invoke(cli, ["sql", attack_sql(attack, store_dir)], env=cli_env)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") or "error" in result.output.lower(), result.output


@pytest.fixture(scope="module")
def sql_page(worker: WorkerProcess) -> Iterator[AppTest]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("FLOWMETER_")}
    for name in saved:
        del os.environ[name]
    os.environ.update({"FLOWMETER_WORKER_URL": worker.url, "FLOWMETER_DB": worker.env["FLOWMETER_DB"]})
    try:
        app = AppTest.from_file(APP, default_timeout=30).run()
        app.switch_page("pages_/sql.py").run()
        assert not app.exception, app.exception
        yield app
    finally:
        for name in ("FLOWMETER_WORKER_URL", "FLOWMETER_DB"):
            os.environ.pop(name, None)
        os.environ.update(saved)


@pytest.mark.parametrize("attack", ATTACKS)
def test_dashboard_sql_page_refuses(worker, before, sql_page, attack, store_dir):
    sql_page.text_area(key="sql_text").input(attack_sql(attack, store_dir)).run()
    sql_page.button[0].click().run()
    assert not sql_page.exception, sql_page.exception
    assert len(sql_page.error) == 1, [e.value for e in sql_page.error]
    assert not sql_page.dataframe or "sql_result" not in sql_page.session_state


def test_the_store_is_unchanged_and_still_lands(worker, before, broker):
    """After every attack on every path: each table holds what it held, and new events still
    land (a raised ingest position would have made the worker skip them)."""
    assert fingerprint(worker) == before
    prefix = worker.env["FLOWMETER_TOPIC_PREFIX"]
    producer = KafkaProducer(bootstrap_servers=broker.removeprefix("kafka://"), acks="all")
    for n in range(GOOD, GOOD + 50):
        producer.send(f"{prefix}transitions", key=f"T-{n % 500}".encode(), value=encode(transition(n)))
    producer.flush()
    producer.close()
    report = worker.wait_accounted(GOOD + BAD + 50)
    assert report["by_kind"]["transition"]["landed"] == GOOD + 50  # 300 before + 50 now


def test_file_mode_refuses_with_no_worker(worker, store_dir):
    """With the worker stopped, `flowmeter sql --db FILE` opens the file read-only: the same list
    is refused and the file is byte-for-byte what it was."""
    assert worker.stop() == 0
    db = Path(worker.env["FLOWMETER_DB"])
    copy = store_dir / "copy-before.duckdb"
    shutil.copyfile(db, copy)
    env = {"FLOWMETER_DB": str(db), "FLOWMETER_WORKER_URL": ""}
    runner = CliRunner()
    for attack in ATTACKS:
        result = runner.invoke(cli, ["sql", "--db", str(db), attack_sql(attack, store_dir)], env=env)
        assert result.exit_code == 1, (attack, result.output)
    assert db.read_bytes() == copy.read_bytes()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transitions").fetchall() == [(GOOD + 50,)]


def test_the_engine_not_the_statement_check_keeps_it_read_only(tmp_path, monkeypatch):
    """DuckDB reports a DELETE inside a CTE as a SELECT (docs/security.md), so the statement check lets
    it through and the read-only transaction refuses it; with the check switched off altogether,
    a plain DELETE is refused all the same. The guarantee is the engine's."""
    from analytics import query

    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE dead_letters AS SELECT range AS n FROM range(3)")
    hidden = "WITH d AS (DELETE FROM dead_letters RETURNING 1) SELECT count(*) FROM d"
    query.check_read_only(con, hidden)  # passes: the parser calls it a SELECT
    with pytest.raises(query.QueryRefused, match="DuckDB refused the write"):
        query.run_query(con.cursor(), hidden, max_rows=10, timeout=5)
    monkeypatch.setattr(query, "check_read_only", lambda con, sql: None)
    for write in ("DELETE FROM dead_letters", "INSERT INTO dead_letters VALUES (9)", "DROP TABLE dead_letters"):
        with pytest.raises(query.QueryRefused, match="DuckDB refused the write"):
            query.run_query(con.cursor(), write, max_rows=10, timeout=5)
    assert con.execute("SELECT count(*) FROM dead_letters").fetchall() == [(3,)]

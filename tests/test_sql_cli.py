"""`flowmeter sql`, `schema` and `snapshot` as a user runs them: real processes, against a store
file with no worker, and through a running worker."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from analytics.catalog import documented
from streams.broker import free_port
from tests.helpers.events import encode
from tests.helpers.processes import flowmeter as run_flowmeter

ROOT = Path(__file__).resolve().parent.parent
VIEWS = sorted(
    re.findall(
        r"CREATE OR REPLACE VIEW (\w+)", "".join(p.read_text() for p in (ROOT / "analytics/sql/views").glob("*.sql"))
    )
)


def _transition(event_id: str, ticket: str, from_state: str | None, to_state: str, at: str, team: str) -> dict:
    return {
        "event_id": event_id,
        "ticket_id": ticket,
        "board": "payments",
        "from_state": from_state,
        "to_state": to_state,
        "at": at,
        "team": team,
        "assignee": "ana",
        "source": "test",
    }


# Two tickets on the default workflow (Backlog -> In Progress (active) -> Review, QA (queues) -> Done):
# P-1: created 03-01 09:00, committed (In Progress) 03-02 09:00, done 03-04 21:00:
#      3 transitions, cycle time 2.5 days, lead time 3.5 days.
# P-2: created 03-01 10:00, committed (Review) 03-03 12:00 by another team (a handoff), still open.
EVENTS = [
    _transition("e1", "P-1", None, "Backlog", "2025-03-01T09:00:00Z", "core"),
    _transition("e2", "P-1", "Backlog", "In Progress", "2025-03-02T09:00:00Z", "core"),
    _transition("e3", "P-1", "In Progress", "Done", "2025-03-04T21:00:00Z", "core"),
    _transition("e4", "P-2", None, "Backlog", "2025-03-01T10:00:00Z", "core"),
    _transition("e5", "P-2", "Backlog", "Review", "2025-03-03T12:00:00Z", "qa"),
]
FLOW_SQL = (
    "SELECT ticket_id, state, transitions, committed_at, done_at, cycle_time_days, is_done "
    "FROM ticket_flow ORDER BY ticket_id"
)
EXPECTED = {
    "table": (
        "ticket_id  state   transitions  committed_at         done_at              cycle_time_days  is_done\n"
        "---------  ------  -----------  -------------------  -------------------  ---------------  -------\n"
        "P-1        Done              3  2025-03-02 09:00:00  2025-03-04 21:00:00              2.5  true\n"
        "P-2        Review            2  2025-03-03 12:00:00  NULL                            NULL  false\n"
        "(2 rows)\n"
    ),
    "csv": (
        "ticket_id,state,transitions,committed_at,done_at,cycle_time_days,is_done\n"
        "P-1,Done,3,2025-03-02T09:00:00Z,2025-03-04T21:00:00Z,2.5,true\n"
        "P-2,Review,2,2025-03-03T12:00:00Z,,,false\n"
    ),
    "json": (
        "[\n"
        '{"ticket_id": "P-1", "state": "Done", "transitions": 3, "committed_at": "2025-03-02T09:00:00Z", '
        '"done_at": "2025-03-04T21:00:00Z", "cycle_time_days": 2.5, "is_done": true},\n'
        '{"ticket_id": "P-2", "state": "Review", "transitions": 2, "committed_at": "2025-03-03T12:00:00Z", '
        '"done_at": null, "cycle_time_days": null, "is_done": false}\n'
        "]\n"
    ),
}
EXPECTED_ROWS = [
    {
        "ticket_id": "P-1",
        "state": "Done",
        "transitions": 3,
        "committed_at": datetime(2025, 3, 2, 9),
        "done_at": datetime(2025, 3, 4, 21),
        "cycle_time_days": 2.5,
        "is_done": True,
    },
    {
        "ticket_id": "P-2",
        "state": "Review",
        "transitions": 2,
        "committed_at": datetime(2025, 3, 3, 12),
        "done_at": None,
        "cycle_time_days": None,
        "is_done": False,
    },
]
# What each refusal must say: DuckDB's own sentence, or flowmeter's.
REFUSALS = {
    "syntax error": ("SELEC * FROM transitions", 'Parser Error: syntax error at or near "SELEC"'),
    "unknown column": ("SELECT nope FROM transitions", 'Binder Error: Referenced column "nope" not found'),
    "DELETE": ("DELETE FROM transitions", "this is DELETE which changes data"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "cannot read or write files or reach the network"),
}


def flowmeter(*args: str, stdin: str = "", **options: Any) -> subprocess.CompletedProcess:
    """The shared runner, with empty standard input unless a test gives some: `sql` with no
    statement reads its statements from stdin."""
    return run_flowmeter(*args, stdin=stdin, **options)


def one_sentence(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr, result.stderr


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file with the EVENTS landed by `flowmeter load`, and no worker."""
    where = tmp_path_factory.mktemp("sql")
    events = where / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    db = where / "flow.duckdb"
    loaded = flowmeter("load", str(events), "--db", str(db))
    assert "5 landed, 0 duplicates, 0 dead-lettered" in loaded.stdout, loaded.stderr
    return db


# ---- a store file, no worker ---------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_each_format_prints_exactly(store, fmt):
    result = flowmeter("sql", "--db", str(store), "--format", fmt, FLOW_SQL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED[fmt]
    assert result.stderr == ""


def test_output_files_read_back(store, tmp_path):
    for fmt in ("csv", "json", "parquet"):
        result = flowmeter("sql", "--db", str(store), "--format", fmt, "--output", str(tmp_path / f"r.{fmt}"), FLOW_SQL)
        assert result.returncode == 0 and result.stdout == "", result.stderr
    assert (tmp_path / "r.csv").read_text() == EXPECTED["csv"]
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(EXPECTED["json"])
    assert pq.read_table(tmp_path / "r.parquet").to_pylist() == EXPECTED_ROWS


def test_parquet_needs_an_output_file(store):
    result = flowmeter("sql", "--db", str(store), "--format", "parquet", "SELECT 1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--format parquet writes a binary file; add --output FILE." in result.stderr


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_one_sentence(store, case):
    statement, fragment = REFUSALS[case]
    result = flowmeter("sql", "--db", str(store), statement)
    one_sentence(result, fragment)
    assert result.stdout == ""


def test_a_result_cut_by_the_row_cap_says_so(store):
    # 5 visits exist (P-1: Backlog, In Progress, Done; P-2: Backlog, Review); the cap keeps 2.
    result = flowmeter(
        "sql",
        "--db",
        str(store),
        "SELECT ticket_id, seq FROM state_visits ORDER BY ticket_id, seq",
        env={"FLOWMETER_QUERY_MAX_ROWS": "2"},
    )
    assert result.returncode == 0
    assert result.stdout == "ticket_id  seq\n---------  ---\nP-1          1\nP-1          2\n(2 rows)\n"
    assert result.stderr.startswith("note: only the first 2 rows are shown; the result has more")


def test_no_store_is_one_sentence(tmp_path):
    one_sentence(flowmeter("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1"), "no store at")


def test_interactive_mode_reads_statements_from_stdin(store):
    script = (
        "SELECT count(*) AS transitions FROM transitions;\n"
        "SELECT nope FROM transitions;\n"
        "-- a comment; not a statement\n"
        "SELECT 'x;y' AS b,\n"
        "       2 AS c;\n"
    )
    result = flowmeter("sql", "--db", str(store), stdin=script)
    assert result.stdout == ("transitions\n-----------\n          5\n(1 row)\n\nb    c\n---  -\nx;y  2\n(1 row)\n\n")
    assert result.stderr == 'Error: Binder Error: Referenced column "nope" not found in FROM clause!\n'
    assert result.returncode == 1  # a statement failed; the others still ran


def test_interactive_mode_stops_at_backslash_q(store):
    result = flowmeter("sql", "--db", str(store), "--format", "csv", stdin="SELECT 1 AS a;\n\\q\nSELECT 2 AS b;\n")
    assert (result.returncode, result.stdout, result.stderr) == (0, "a\n1\n", "")


def test_every_documented_table_and_view_has_a_description():
    """One source: the comment above each CREATE TABLE and the first header line of each view file."""
    metrics = set(re.findall(r"^### (\w+)$", (ROOT / "docs/metrics.md").read_text(), flags=re.M))
    described = {o["name"]: o["description"] for o in documented()}
    assert set(described) == metrics, set(described) ^ metrics
    missing = sorted(name for name, text in described.items() if not text.strip())
    assert not missing, f"no description in analytics/sql for {missing}"


def test_schema_lists_every_view_with_its_columns(store):
    result = flowmeter("schema", "--db", str(store), "--format", "json")
    assert result.returncode == 0, result.stderr
    objects = {o["name"]: o for o in json.loads(result.stdout)}
    assert VIEWS and set(VIEWS) <= set(objects)
    assert all(objects[v]["kind"] == "view" and objects[v]["columns"] for v in VIEWS)
    assert objects["wip_now"]["description"] == "work in progress right now, per board and state, against its limit."
    # docs/metrics.md: board, state, category, position, wip, wip_limit, warn_at, over_limit.
    assert [(c["name"], c["type"]) for c in objects["wip_now"]["columns"]] == [
        ("board", "VARCHAR"),
        ("state", "VARCHAR"),
        ("category", "VARCHAR"),
        ("position", "INTEGER"),
        ("wip", "BIGINT"),
        ("wip_limit", "INTEGER"),
        ("warn_at", "INTEGER"),
        ("over_limit", "BOOLEAN"),
    ]
    text = flowmeter("schema", "--db", str(store)).stdout
    assert (
        "wip_now (view): work in progress right now, per board and state, against its limit.\n"
        "  board       VARCHAR\n" in text
    )


def _counts(db: Path, tables: list[str]) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}


def test_snapshot_without_a_worker(store, tmp_path):
    views = len(list((Path(__file__).resolve().parent.parent / "analytics" / "sql" / "views").glob("*.sql")))
    target, parquet = tmp_path / "copy.duckdb", tmp_path / "parquet"
    result = flowmeter("snapshot", "--db", str(store), str(target), "--parquet", str(parquet))
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        rf"snapshot {re.escape(str(target))} \([\d.]+ MB, 21 tables: 5 transitions, 0 deploys, "
        rf"0 dead_letters, 2 tickets\) from {re.escape(str(store))} in [\d.]+ s; {views} views as "
        rf"Parquet in {re.escape(str(parquet))} \([\d,]+ rows\)\.\n",
        result.stdout,
    ), result.stdout
    tables = ["transitions", "visits", "tickets", "workflow_states"]
    assert _counts(target, tables) == _counts(store, tables)
    assert sorted(p.stem for p in parquet.glob("*.parquet")) == VIEWS
    assert pq.read_table(parquet / "ticket_flow.parquet").num_rows == 2
    again = flowmeter("snapshot", "--db", str(store), str(target))
    one_sentence(again, f"{target} exists; choose another path or pass --force to replace it.")
    only = flowmeter(
        "snapshot",
        "--db",
        str(store),
        str(target),
        "--force",
        "--parquet",
        str(tmp_path / "two"),
        "--views",
        "wip_now,ticket_flow",
    )
    assert only.returncode == 0, only.stderr
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["ticket_flow.parquet", "wip_now.parquet"]


def test_an_unreachable_worker_is_one_sentence(store):
    url = f"http://127.0.0.1:{free_port()}"
    result = flowmeter("sql", "--db", str(store), "SELECT 1", env={"FLOWMETER_WORKER_URL": url})
    one_sentence(result, f"the worker at {url} did not answer")


# ---- through a running worker --------------------------------------------------
def _cli_env(worker, **over: str) -> dict[str, str]:
    env = {k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")}
    env.update(over)
    return env


def _land(worker, producer, topics) -> None:
    for event in EVENTS:
        producer.send(topics["transitions"], key=event["ticket_id"].encode(), value=encode(event))
    producer.flush()
    worker.wait_accounted(len(EVENTS))


@pytest.mark.broker
def test_through_a_worker(worker_factory, producer, topics, tmp_path):
    worker = worker_factory(query_max_rows=2).start()
    _land(worker, producer, topics)
    env = _cli_env(worker)  # the CLI finds the worker through the file it writes next to the store
    for fmt in ("table", "csv", "json"):
        result = flowmeter("sql", "--format", fmt, FLOW_SQL, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, EXPECTED[fmt], "")
    parquet = flowmeter("sql", "--format", "parquet", "-o", str(tmp_path / "r.parquet"), FLOW_SQL, env=env)
    assert parquet.returncode == 0, parquet.stderr
    assert pq.read_table(tmp_path / "r.parquet").to_pylist() == EXPECTED_ROWS
    for statement, fragment in REFUSALS.values():
        one_sentence(flowmeter("sql", statement, env=env), fragment)
    cut = flowmeter("sql", "SELECT event_id FROM transitions ORDER BY event_id", env=env)  # 5 rows, cap 2
    assert cut.stdout == "event_id\n--------\ne1\ne2\n(2 rows)\n"
    assert cut.stderr.startswith("note: only the first 2 rows are shown")
    schema = json.loads(flowmeter("schema", "--format", "json", env=env).stdout)
    assert {o["name"] for o in schema if o["columns"]} >= set(VIEWS)
    # `alerts` sends --all and --kind as bound parameters (JSON false and "wip"); no limits, no alerts.
    listed = flowmeter("alerts", "--all", "--kind", "wip", "--format", "csv", env=env)
    assert (listed.returncode, listed.stderr) == (0, "") and listed.stdout.startswith("level,board,limit,ticket,")


@pytest.mark.broker
def test_a_worker_with_a_token(worker_factory, topics):
    worker = worker_factory(query_token="s3cret").start()
    statement = "SELECT count(*) AS n FROM transitions"
    without = {k: v for k, v in _cli_env(worker).items() if k != "FLOWMETER_QUERY_TOKEN"}
    one_sentence(flowmeter("sql", statement, env=without), "requires a token; set FLOWMETER_QUERY_TOKEN")
    one_sentence(flowmeter("sql", statement, env=dict(without, FLOWMETER_QUERY_TOKEN="wrong")), "refused the token")
    accepted = flowmeter("sql", statement, env=_cli_env(worker))
    assert (accepted.returncode, accepted.stdout) == (0, "n\n-\n0\n(1 row)\n"), accepted.stderr


@pytest.mark.broker
def test_snapshot_through_a_worker(worker_factory, producer, topics, tmp_path):
    worker = worker_factory().start()
    _land(worker, producer, topics)
    env = _cli_env(worker)
    target, parquet = tmp_path / "copy.duckdb", tmp_path / "parquet"
    result = flowmeter("snapshot", str(target), "--parquet", str(parquet), env=env)
    assert result.returncode == 0, result.stderr
    assert f"from the worker at {worker.url} in" in result.stdout
    assert "21 tables: 5 transitions, 0 deploys, 0 dead_letters, 2 tickets" in result.stdout
    # The worker holds the store: its counts come through the worker; the copy is opened directly.
    live = json.loads(
        flowmeter(
            "sql",
            "--format",
            "json",
            "SELECT (SELECT count(*) FROM transitions) AS t, "
            "(SELECT count(*) FROM visits) AS v, (SELECT count(*) FROM tickets) AS k",
            env=env,
        ).stdout
    )[0]
    assert (
        _counts(target, ["transitions", "visits", "tickets"])
        == {"transitions": live["t"], "visits": live["v"], "tickets": live["k"]}
        == {"transitions": 5, "visits": 5, "tickets": 2}
    )
    assert sorted(p.stem for p in parquet.glob("*.parquet")) == VIEWS
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    one_sentence(flowmeter("snapshot", str(target), env=env), "exists; choose another path or pass --force")
    assert flowmeter("snapshot", str(target), "--force", env=env).returncode == 0

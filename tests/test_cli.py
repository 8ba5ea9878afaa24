"""The `flowmeter` command as a user runs it: real processes, real files, one-sentence errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.helpers.events import transition
from tests.helpers.processes import flowmeter, holding_store


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    """100 distinct transitions, 5 re-sent, 3 bad lines, 1 deploy, blank lines."""
    lines = [json.dumps(transition(n)) for n in range(100)]
    lines += [json.dumps(transition(n)) for n in range(5)]  # re-sent: duplicates
    lines += ["{not json", json.dumps({"foo": 1}), json.dumps(transition(200, to_state=None))]
    lines += ["", "   "]  # blank lines are not events
    lines.append(
        json.dumps(
            {
                "event_id": "d1",
                "service": "api",
                "environment": "production",
                "status": "success",
                "at": "2025-03-01T10:00:00Z",
            }
        )
    )
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_lands_a_file_and_a_rerun_changes_nothing(events_file, tmp_path):
    db = tmp_path / "flow.duckdb"
    first = flowmeter("load", str(events_file), "--db", str(db))
    assert first.returncode == 0, first.stderr
    # 101 valid events (100 transitions + 1 deploy) land; 5 re-sends are duplicates; 3 bad lines dead.
    assert "101 landed, 5 duplicates, 3 dead-lettered" in first.stdout
    assert "dead letter at line 106: the message is not JSON" in first.stdout  # after 100 + 5 lines
    second = flowmeter("load", str(events_file), "--db", str(db))
    assert "0 landed, 109 duplicates, 0 dead-lettered" in second.stdout  # 106 events + 3 known dead letters
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transitions").fetchone()[0] == 100
        assert con.execute("SELECT count(*) FROM deploys").fetchone()[0] == 1
        reasons = [r[0] for r in con.execute("SELECT reason FROM dead_letters ORDER BY src").fetchall()]
    assert reasons == [
        "the message is not JSON: Expecting property name enclosed in double quotes at line 1 column 2.",
        "the event's kind cannot be told: it has neither ticket_id/to_state (a transition), "
        "incident_id (an incident) nor service (a deploy).",
        "required field to_state is null.",
    ]


def test_load_lands_incidents_even_one_that_also_looks_like_a_transition(tmp_path):
    # The column-wise check takes lines that look like transitions; one naming an incident_id is an
    # incident (flowcore.routing.kind_of) and must reach the incident parser instead.
    opened = {
        "event_id": "i1",
        "incident_id": "PD-1",
        "service": "api",
        "status": "opened",
        "at": "2025-03-01T10:00:00Z",
    }
    odd = {**opened, "event_id": "i2", "status": "resolved", "ticket_id": "T-1", "board": "b", "to_state": "Done"}
    path = tmp_path / "incidents.jsonl"
    path.write_text(json.dumps(opened) + "\n" + json.dumps(odd) + "\n" + json.dumps(transition(1)) + "\n")
    result = flowmeter("load", str(path), "--db", str(tmp_path / "flow.duckdb"))
    assert "3 landed, 0 duplicates, 0 dead-lettered (of 1 transitions, 0 deploys, 2 incidents)" in result.stdout
    with duckdb.connect(str(tmp_path / "flow.duckdb"), read_only=True) as con:
        assert con.execute("SELECT event_id, status FROM incidents ORDER BY 1").fetchall() == [
            ("i1", "opened"),
            ("i2", "resolved"),
        ]
        assert con.execute("SELECT count(*) FROM transitions").fetchone()[0] == 1


def test_load_refuses_while_a_worker_holds_the_store(events_file, tmp_path):
    db = tmp_path / "held.duckdb"
    with holding_store(db) as holder_pid:
        result = flowmeter("load", str(events_file), "--db", str(db))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"is in use by another process (PID {holder_pid})" in result.stderr


def test_produce_without_a_broker_or_worker_says_what_to_do(events_file, tmp_path):
    result = flowmeter("produce", str(events_file), "--db", str(tmp_path / "none.duckdb"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no broker given and no worker is running on" in result.stderr
    assert "flowmeter up" in result.stderr


def test_bad_settings_file_is_one_sentence(tmp_path, events_file):
    (tmp_path / "flowmeter.toml").write_text("batch_size = 10\n")
    result = flowmeter("load", str(events_file), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown setting 'batch_size'" in result.stderr


def test_status_reads_the_file_when_no_worker_runs(events_file, tmp_path):
    db = tmp_path / "flow.duckdb"
    flowmeter("load", str(events_file), "--db", str(db))
    result = flowmeter("status", "--db", str(db))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:5] for line in result.stdout.splitlines()[1:5]}
    # transition: received 106 = 100 landed + 5 duplicates + 1 dead (to_state null);
    # unknown: the line that is not JSON and the one with no kind; no incidents in the file.
    assert rows == {
        "transition": ["106", "100", "5", "1"],
        "deploy": ["1", "1", "0", "0"],
        "incident": ["0", "0", "0", "0"],
        "unknown": ["2", "0", "0", "2"],
    }
    assert "no worker running" in result.stdout


@pytest.mark.broker
def test_produce_routes_each_line_and_the_worker_accounts_for_all(events_file, worker_factory, topics):
    worker = worker_factory().start()
    result = flowmeter(
        "produce", str(events_file), env={k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")}
    )
    assert result.returncode == 0, result.stderr
    # 106 lines are valid (105 transitions: 100 + 5 re-sent; 1 deploy); 3 are rejected by produce itself:
    # not JSON and no kind (recorded as unknown) and the null to_state (recorded as a transition).
    assert "produced 109 events" in result.stdout
    assert f"1 to {topics['deploys']}, 105 to {topics['transitions']}" in result.stdout
    assert "3 lines dead-lettered (3 rejected, each with its reason)" in result.stdout
    assert "rejected line 108: required field to_state is null." in result.stdout  # after 100 + 5 + 2 lines
    final = worker.wait_accounted(109)
    kinds = {k: (r["landed"], r["duplicates"], r["dead_lettered"]) for k, r in final["by_kind"].items()}
    assert kinds == {"transition": (100, 5, 1), "deploy": (1, 0, 0), "incident": (0, 0, 0), "unknown": (0, 0, 2)}


@pytest.mark.parametrize(
    "command", ["up", "worker", "produce", "load", "demo", "dashboard", "status", "remap", "sql", "schema", "snapshot"]
)
def test_every_command_documents_the_common_options(command):
    result = flowmeter(command, "--help")
    assert result.returncode == 0
    for option in ("--broker", "--db", "--settings"):
        assert option in result.stdout


def test_remap_rederives_with_the_settings_mapping(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(transition(1, from_state=None, to_state="Blocked")) + "\n")
    db = tmp_path / "flow.duckdb"
    assert flowmeter("load", str(events), "--db", str(db)).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:  # 'Blocked' is not in the built-in defaults
        assert con.execute("SELECT state, category FROM ticket_current").fetchall() == [("Blocked", "unmapped")]
    settings = tmp_path / "flowmeter.toml"
    settings.write_text(
        '[boards.payments]\nstates = [{ name = "Blocked", category = "queue" }, { name = "Done", category = "done" }]\n'
    )
    result = flowmeter("remap", "--db", str(db), "--settings", str(settings))
    assert result.returncode == 0, result.stderr
    assert "re-derived 1 tickets" in result.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT state, category FROM ticket_current").fetchall() == [("Blocked", "queue")]
    again = flowmeter("remap", "--db", str(db), "--settings", str(settings))
    assert "already current" in again.stdout


def test_read_commands_name_the_demo_store_when_only_it_exists(events_file, tmp_path):
    # After `up --demo` stopped: ./flowmeter.duckdb does not exist, flowmeter-demo.duckdb does.
    assert flowmeter("load", str(events_file), "--db", str(tmp_path / "flowmeter-demo.duckdb")).returncode == 0
    for command in (["status"], ["sql", "SELECT 1"], ["alerts"]):
        result = flowmeter(*command, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert (
            "no store at flowmeter.duckdb; the demo's store is flowmeter-demo.duckdb: "
            "pass --db flowmeter-demo.duckdb." in result.stderr
        )


@pytest.mark.broker
def test_read_commands_find_the_running_demo(events_file, worker_factory, topics, tmp_path):
    # `up --demo` runs its worker on ./flowmeter-demo.duckdb; `status`, `sql` and `alerts` given
    # no store read through that worker, and say so on stderr.
    worker = worker_factory(db=str(tmp_path / "flowmeter-demo.duckdb")).start()
    produced = flowmeter(
        "produce", str(events_file), env={k: v for k, v in worker.env.items() if k.startswith("FLOWMETER_")}
    )
    assert produced.returncode == 0, produced.stderr
    worker.wait_accounted(109)  # as in the test above
    note = "no store at flowmeter.duckdb; reading the running demo's store flowmeter-demo.duckdb"
    status = flowmeter("status", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert note in status.stderr and f"source: worker at {worker.url}" in status.stdout
    sql = flowmeter("sql", "--format", "csv", "SELECT count(*) AS n FROM transitions", cwd=tmp_path)
    assert sql.returncode == 0 and sql.stdout.splitlines() == ["n", "100"] and note in sql.stderr
    alerts = flowmeter("alerts", cwd=tmp_path)
    assert alerts.returncode == 0 and note in alerts.stderr


def test_import_names_an_unknown_time_zone_in_one_sentence(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("ticket_id,board,to_state,at\n")
    result = flowmeter("import", "csv", str(path), "--timezone", "Mars/Olympus")
    assert result.returncode == 2 and "'Mars/Olympus' is not a known time zone" in result.stderr


def test_remap_and_load_work_on_a_snapshot(events_file, tmp_path):
    # A snapshot keeps the store's keys (tables.sql), so the upserts of remap and load work on it.
    db, copy = tmp_path / "flow.duckdb", tmp_path / "copy.duckdb"
    assert flowmeter("load", str(events_file), "--db", str(db)).returncode == 0
    assert flowmeter("snapshot", "--db", str(db), str(copy)).returncode == 0
    remap = flowmeter("remap", "--force", "--db", str(copy))
    assert remap.returncode == 0, remap.stderr
    assert "re-derived 100 tickets" in remap.stdout  # transition(n) makes one ticket per n: 100
    again = flowmeter("load", str(events_file), "--db", str(copy))
    assert again.returncode == 0, again.stderr
    # Every line was stored before: 105 transitions, 1 deploy, and the 3 bad lines as dead letters.
    assert "0 landed, 109 duplicates" in again.stdout


def test_remap_while_a_process_holds_the_store_says_to_restart_the_worker(tmp_path):
    db = tmp_path / "flow.duckdb"
    with holding_store(db) as holder_pid:
        result = flowmeter("remap", "--db", str(db))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"is in use by another process (PID {holder_pid}); a worker re-derives" in result.stderr
    assert "restart it instead of running remap" in result.stderr and "produce" not in result.stderr


@pytest.mark.parametrize(
    "states, problem",
    [
        ('[{ name = "Doing", category = "waiting" }, { name = "Done", category = "done" }]', "states[0].category"),
        ('[{ name = "Doing", category = "active" }]', "has no state with category 'done'"),
    ],
)
def test_a_bad_boards_table_is_refused_by_any_command_not_only_the_worker(tmp_path, states, problem):
    (tmp_path / "flowmeter.toml").write_text(f"[boards.payments]\nstates = {states}\n")
    for command in (["status"], ["sql", "SELECT 1"]):
        result = flowmeter(*command, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "flowmeter.toml: boards.payments." in result.stderr and problem in result.stderr

"""The generic adapter: v1 JSON lines and CSV files with a column mapping → v1 events."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flowcore.events import Deploy, Transition, parse_deploy, parse_transition
from sources.adapters import Unmappable
from sources.adapters.generic import from_jsonl_line, iter_csv

NOW = datetime(2025, 6, 1, 12, 0, 0)
PARSE: dict[str, Callable[..., Transition | Deploy]] = {"deploy": parse_deploy, "transition": parse_transition}


def derived_id(kind: str, doc: dict) -> str:
    """The id the worker's parser derives for an event sent without one."""
    return PARSE[kind](json.dumps(doc), now=NOW).event_id


def checked(records: list) -> list:
    """Every (kind, event) passes the v1 parser and keeps its event_id there."""
    for record in records:
        if not isinstance(record, Unmappable):
            kind, event = record
            assert PARSE[kind](json.dumps(event).encode(), now=NOW).event_id == event["event_id"]
    return records


def write(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(call) -> str:
    with pytest.raises(Unmappable) as caught:
        call()
    return str(caught.value)


# ---- JSON lines ----------------------------------------------------------------------------
def test_a_transition_line_keeps_what_was_sent_and_gains_its_derived_id():
    sent = {
        "ticket_id": "PAY-1",
        "board": "payments",
        "from_state": None,
        "to_state": "Doing",
        "at": "2025-05-31T10:00:00Z",
        "labels": ["x"],
    }
    [(kind, event)] = checked(from_jsonl_line(json.dumps(sent).encode()))
    assert kind == "transition"
    assert event == {**sent, "event_id": derived_id("transition", sent)}  # unknown 'labels' kept as sent
    assert event["event_id"].startswith("t-")


def test_a_deploy_line_with_its_own_id():
    sent = {
        "event_id": "d-77",
        "service": "api",
        "environment": "production",
        "status": "failure",
        "at": "2025-05-31T10:00:00+02:00",
        "commits": [{"sha": "a1", "committed_at": "2025-05-30T09:00:00Z"}],
    }
    assert checked(from_jsonl_line(json.dumps(sent).encode())) == [("deploy", sent)]


def test_resending_a_line_gives_the_same_id():
    line = b'{"ticket_id": "PAY-2", "board": "payments", "to_state": "Done", "at": "2025-05-31T10:00:00Z"}'
    assert from_jsonl_line(line) == from_jsonl_line(line)


@pytest.mark.parametrize(
    "line, reason",
    [
        # 22 characters, so the missing property name is expected at column 23
        (
            b'{"ticket_id": "PAY-1",',
            "the message is not JSON: Expecting property name enclosed in double quotes at line 1 column 23.",
        ),
        (b"[1, 2]", "the message must be a JSON object, got a list."),
        (
            b'{"board": "payments"}',
            "the event's kind cannot be told: it has neither ticket_id/to_state (a transition), "
            "incident_id (an incident) nor service (a deploy).",
        ),
        (
            b'{"ticket_id": "PAY-1", "board": "payments", "to_state": "Doing", "at": "2025-05-31 10:00"}',
            "at '2025-05-31 10:00' has no UTC offset; add 'Z' or '+hh:mm' so the moment is unambiguous.",
        ),
        (
            b'{"service": "api", "environment": "prod", "status": "ok", "at": "2025-05-31T10:00:00Z"}',
            "status 'ok' is not one of success, failure, rolled_back.",
        ),
    ],
)
def test_lines_v1_refuses_are_unmappable_with_the_parser_reason(line, reason):
    assert refusal(lambda: from_jsonl_line(line)) == reason


# ---- CSV -----------------------------------------------------------------------------------
JIRA_LIKE = """\
Key,Board,From,Status,Changed,Assignee,Type
PAY-1,payments,,Backlog,2025-05-01T09:00:00Z,,story
PAY-1,payments,Backlog,In Progress,2025-05-02T10:30:00+02:00,ana,story
PAY-1,payments,In Progress,Done,not a time,ana,story
PAY-2,payments,,Backlog,2025-05-03T08:00:00Z,  ,
"""
MAPPING = {
    "ticket_id": "Key",
    "board": "Board",
    "from_state": "From",
    "to_state": "Status",
    "at": "Changed",
    "assignee": "Assignee",
    "ticket_type": "Type",
}


def test_csv_with_a_column_mapping_empty_cells_and_a_bad_row(tmp_path):
    records = checked(list(iter_csv(write(tmp_path, JIRA_LIKE), MAPPING)))
    first = {
        "ticket_id": "PAY-1",
        "board": "payments",
        "to_state": "Backlog",
        "at": "2025-05-01T09:00:00Z",
        "ticket_type": "story",
    }  # empty From and Assignee are absent: a creation, nobody assigned
    second = {
        "ticket_id": "PAY-1",
        "board": "payments",
        "from_state": "Backlog",
        "to_state": "In Progress",
        "at": "2025-05-02T10:30:00+02:00",
        "assignee": "ana",
        "ticket_type": "story",
    }
    fourth = {"ticket_id": "PAY-2", "board": "payments", "to_state": "Backlog", "at": "2025-05-03T08:00:00Z"}
    assert records[0] == ("transition", {**first, "event_id": derived_id("transition", first)})
    assert records[1] == ("transition", {**second, "event_id": derived_id("transition", second)})
    assert isinstance(records[2], Unmappable)
    # the header is row 1, so the third data row is row 4; the rows after it still map
    assert str(records[2]) == "row 4: at 'not a time' is not an ISO-8601 timestamp such as 2024-05-01T09:30:00Z."
    assert records[3] == ("transition", {**fourth, "event_id": derived_id("transition", fourth)})
    assert len(records) == 4


def test_a_reimport_yields_the_same_ids(tmp_path):
    path = write(tmp_path, JIRA_LIKE)
    assert [str(r) if isinstance(r, Unmappable) else r for r in iter_csv(path, MAPPING)] == [
        str(r) if isinstance(r, Unmappable) else r for r in iter_csv(path, MAPPING)
    ]


def test_deploy_csv_with_v1_headers_and_both_list_forms(tmp_path):
    text = (
        "event_id,service,environment,status,at,commits,tickets\n"
        "d-1,api,production,success,2025-05-31T10:00:00Z,a1b2@2025-05-30T09:00:00Z; c3d4,PAY-1; PAY-2\n"
        'd-2,api,production,failure,2025-05-31T11:00:00Z,"[{""sha"": ""e5"", ""committed_at"": null}, ""f6""]",'
        '"[""PAY-3""]"\n'
        "d-3,api,staging,rolled_back,2025-05-31T12:00:00Z,,\n"
    )
    records = checked(list(iter_csv(write(tmp_path, text))))
    assert records == [
        (
            "deploy",
            {
                "event_id": "d-1",
                "service": "api",
                "environment": "production",
                "status": "success",
                "at": "2025-05-31T10:00:00Z",
                "commits": [{"sha": "a1b2", "committed_at": "2025-05-30T09:00:00Z"}, {"sha": "c3d4"}],
                "tickets": ["PAY-1", "PAY-2"],
            },
        ),
        (
            "deploy",
            {
                "event_id": "d-2",
                "service": "api",
                "environment": "production",
                "status": "failure",
                "at": "2025-05-31T11:00:00Z",
                "commits": [{"sha": "e5", "committed_at": None}, {"sha": "f6"}],
                "tickets": ["PAY-3"],
            },
        ),
        (
            "deploy",
            {
                "event_id": "d-3",
                "service": "api",
                "environment": "staging",
                "status": "rolled_back",
                "at": "2025-05-31T12:00:00Z",
            },
        ),
    ]


def test_a_bad_list_cell_names_its_row(tmp_path):
    text = "service,environment,status,at,commits\napi,prod,success,2025-05-31T10:00:00Z,[a1\n"
    [record] = list(iter_csv(write(tmp_path, text)))
    assert str(record) == (
        "row 2: commits starts with '[' but is not a JSON list (Expecting value: line 1 column 2 (char 1))."
    )


def test_a_row_of_neither_kind_is_unmappable(tmp_path):
    text = "ticket_id,service,board,to_state,at\n,,payments,,2025-05-31T10:00:00Z\n"
    [record] = list(iter_csv(write(tmp_path, text)))
    assert str(record) == (
        "row 2: it has no service (a deploy), no incident_id (an incident) and no ticket_id or to_state (a transition)."
    )


def test_excel_bom_and_short_rows(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffticket_id,board,to_state,at,assignee\nPAY-9,ops,Done,2025-05-31T10:00:00Z\n".encode())
    [(kind, event)] = checked(list(iter_csv(path)))
    assert (kind, event["ticket_id"], "assignee" in event) == ("transition", "PAY-9", False)


def test_mapping_mistakes_stop_the_import_with_one_sentence(tmp_path):
    path = write(tmp_path, JIRA_LIKE)
    assert refusal(lambda: list(iter_csv(path, {"state": "Status"}))) == (
        "--map state=Status: 'state' is not a v1 field; use one of event_id, ticket_id, board, from_state, "
        "to_state, at, assignee, team, ticket_type, actor, source, service, environment, status, started_at, "
        "version, commits, tickets, fixes, incident_id, severity, title, url, caused_by."
    )
    assert refusal(lambda: list(iter_csv(path, {"to_state": "State"}))) == (
        "--map to_state=State: export.csv has no column 'State' "
        "(its columns: Key, Board, From, Status, Changed, Assignee, Type)."
    )
    assert refusal(lambda: list(iter_csv(path))) == (
        "export.csv has no column for service (deploys), incident_id (incidents) nor ticket_id/to_state "
        "(transitions); name them with --map, e.g. --map ticket_id=Key --map to_state=Status."
    )


def test_a_file_that_is_not_utf8_stops_at_its_first_bad_line_after_the_rows_before_it(tmp_path):
    path = tmp_path / "latin1.csv"
    good = "PAY-1,ops,Done,2025-05-31T10:00:00Z\n" * 2
    path.write_bytes(
        ("ticket_id,board,to_state,at\n" + good + "PAY-2,caf\xe9,Done,2025-05-31T10:00:00Z\n").encode("latin-1")
    )
    rows = iter_csv(path)
    assert [next(rows)[0], next(rows)[0]] == ["transition", "transition"]  # streamed: read before line 4
    assert refusal(lambda: next(rows)) == (
        "latin1.csv line 4 is not UTF-8 text; save it as CSV UTF-8 and import it again."
    )


@pytest.mark.parametrize(
    "line, reason",
    [
        (
            b'{"ticket_id": "T", "board": "b", "to_state": "s", "at": "9999-12-31T23:59:59-14:00"}',
            "outside the years 1-9999",
        ),
        (b'{"ticket_id": "T", "n": ' + b"9" * 5000 + b"}", "4,300 digits"),
        (b'{"ticket_id": "T", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
)
def test_whatever_one_line_raises_is_unmappable_with_a_reason(line, reason):
    """Issue 13: OverflowError, ValueError and RecursionError escaped from_jsonl_line (a 500)."""
    with pytest.raises(Unmappable, match=reason):
        from_jsonl_line(line)


def test_times_without_an_offset_are_read_in_the_given_zone(tmp_path):
    # A spreadsheet's "2025-05-31 09:30": 09:30 in Berlin is 07:30 UTC in summer (CEST, +02:00),
    # 08:30 UTC in winter (CET, +01:00); a time with its own offset keeps it.
    text = (
        "ticket_id,board,to_state,at\n"
        "PAY-1,ops,Done,2025-05-31 09:30\n"
        "PAY-2,ops,Done,2025-01-15 09:30\n"
        "PAY-3,ops,Done,2025-05-31T09:30:00Z\n"
    )
    berlin = checked(list(iter_csv(write(tmp_path, text), zone=ZoneInfo("Europe/Berlin"))))
    stamps = [(event["at"], PARSE[kind](json.dumps(event), now=NOW).at) for kind, event in berlin]
    assert stamps == [
        ("2025-05-31T09:30:00+02:00", datetime(2025, 5, 31, 7, 30)),
        ("2025-01-15T09:30:00+01:00", datetime(2025, 1, 15, 8, 30)),
        ("2025-05-31T09:30:00Z", datetime(2025, 5, 31, 9, 30)),
    ]
    # Without a zone: UTC, so the same file imports instead of every row being refused.
    utc = checked(list(iter_csv(write(tmp_path, text))))
    assert [event["at"] for _, event in utc][:2] == ["2025-05-31T09:30:00+00:00", "2025-01-15T09:30:00+00:00"]


def test_commit_times_without_an_offset_are_read_in_the_zone_too(tmp_path):
    text = "service,environment,status,at,commits\napi,production,success,2025-05-31 10:00,a1@2025-05-30 09:00\n"
    [(_, event)] = checked(list(iter_csv(write(tmp_path, text), zone=ZoneInfo("Europe/Berlin"))))
    assert event["commits"] == [{"sha": "a1", "committed_at": "2025-05-30T09:00:00+02:00"}]

"""The workflow tables of the settings file: what a valid file becomes, and one sentence per mistake."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from flowcore.errors import SettingsError
from flowcore.workflow import (
    BUILTIN_DEFAULT_STATES,
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    StateDef,
    WipLimit,
    Workflow,
)
from flowcore.workflow_file import load_workflow, parse_workflow

ROOT = Path(__file__).resolve().parent.parent

PAYMENTS = """
[boards.payments]
states = [
  { name = "Backlog",     category = "backlog" },
  { name = "In Progress", category = "active", aliases = ["Doing"] },
  { name = "Review",      category = "queue" },
  { name = "Done",        category = "done" },
]
"""


def parse(text: str) -> Workflow:
    return parse_workflow(tomllib.loads(text), source="flowmeter.toml")


def error(text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        parse(text)
    return str(caught.value)


# ---- valid files ----


def test_a_full_file_becomes_the_exact_workflow():
    workflow = parse(
        'broker = "kafka://k:9092"\n'
        + PAYMENTS
        + """
[[boards.payments.wip_limits]]
states = ["doing", "REVIEW"]
limit = 6
warn_at = 5
team = "payments-core"
routes = ["payments-slack", "audit"]

[[boards.payments.wip_limits]]
states = ["Review"]
limit = 0
person = "ana"
name = "Nothing waits"

[boards.checkout]
states = [
  { name = "Todo", category = "backlog" },
  { name = "Shipped", category = "Done", aliases = ["Released", "released"] },
]

[defaults]
states = [{ name = "Open", category = "queue" }, { name = "Closed", category = "done" }]

[dora]
production_environments = ["live", "prod", "LIVE"]

[alerts.payments-slack]
kind = "slack"
anything = "the alerts module checks this, not the workflow"
"""
    )
    assert workflow == Workflow(
        boards={
            "payments": (
                StateDef("Backlog", "backlog"),
                StateDef("In Progress", "active", ("Doing",)),
                StateDef("Review", "queue"),
                StateDef("Done", "done"),
            ),
            # category case is forgiven; a repeated alias is harmless and kept as written
            "checkout": (StateDef("Todo", "backlog"), StateDef("Shipped", "done", ("Released", "released"))),
        },
        default=(StateDef("Open", "queue"), StateDef("Closed", "done")),
        wip_limits=(
            WipLimit(
                board="payments",
                states=("In Progress", "Review"),
                limit=6,
                warn_at=5,
                team="payments-core",
                routes=("payments-slack", "audit"),
                name="In Progress + Review",
            ),
            WipLimit(board="payments", states=("Review",), limit=0, person="ana", name="Nothing waits"),
        ),
        production_environments=("live", "prod"),  # the repeat (any case) dropped, order kept
    )
    assert list(workflow.boards) == ["payments", "checkout"]  # file order


def test_state_and_alias_rows_for_a_small_case():
    workflow = parse("""
[boards.b]
states = [{ name = "Todo", category = "backlog", aliases = ["Open"] }, { name = "Done", category = "done" }]
[defaults]
states = [{ name = "Doing", category = "active" }, { name = "Finished", category = "done", aliases = ["CLOSED"] }]
""")
    assert workflow.state_rows() == [
        ("*", "Doing", "active", 0),
        ("*", "Finished", "done", 1),
        ("b", "Todo", "backlog", 0),
        ("b", "Done", "done", 1),
    ]
    assert sorted(workflow.alias_rows()) == [
        ("*", "closed", "Finished"),
        ("*", "doing", "Doing"),
        ("*", "finished", "Finished"),
        ("b", "done", "Done"),
        ("b", "open", "Todo"),
        ("b", "todo", "Todo"),
    ]


def test_fingerprint_follows_the_mapping_not_the_limits():
    limit = '\n[[boards.payments.wip_limits]]\nstates = ["Review"]\nlimit = {}\n'
    base = parse(PAYMENTS + limit.format(3)).fingerprint()
    assert parse(PAYMENTS + limit.format(9)).fingerprint() == base  # limits don't change derived metrics
    assert parse(PAYMENTS).fingerprint() == base
    recategorised = PAYMENTS.replace('"Review",      category = "queue"', '"Review",      category = "active"')
    assert parse(recategorised + limit.format(3)).fingerprint() != base
    realiased = PAYMENTS.replace('aliases = ["Doing"]', 'aliases = ["Doing", "WIP"]')
    assert parse(realiased).fingerprint() != base
    assert parse(PAYMENTS + '[dora]\nproduction_environments = ["prd"]\n').fingerprint() != base


def test_no_file_or_no_workflow_tables_means_the_built_in_defaults(tmp_path):
    assert load_workflow(None) == Workflow()
    assert load_workflow(tmp_path / "missing.toml") == Workflow()
    path = tmp_path / "flowmeter.toml"
    path.write_text('db = "x.duckdb"\n[alerts.log]\nkind = "log"\n')
    workflow = load_workflow(path)
    assert workflow == Workflow()
    assert (workflow.boards, workflow.default, workflow.wip_limits, workflow.production_environments) == (
        {},
        BUILTIN_DEFAULT_STATES,
        (),
        DEFAULT_PRODUCTION_ENVIRONMENTS,
    )
    assert parse("[dora]\n").production_environments == DEFAULT_PRODUCTION_ENVIRONMENTS


def test_dora_stability_settings_defaults_and_overrides():
    default = parse("[dora]\n").stability
    assert default == Workflow().stability
    assert default.incident_link_window_hours == 24.0
    assert (default.bug_types, default.rework_types) == (("bug", "defect"), ("bug", "defect", "hotfix"))
    levels = dict(default.severity_rows())
    # P1/SEV1/critical, P2/SEV2/high, P3../warning/info: any case (rows are lower-cased).
    assert [levels.get(n) for n in ("p1", "sev1", "critical", "p2", "sev2", "error", "p3", "warning", "info")] == [
        *("critical",) * 3,
        *("high",) * 3,
        *("low",) * 3,
    ]
    custom = parse(
        "[dora]\nincident_link_window = 2.5\nbug_types = ['Bug', 'Incident', 'bug']\n"
        "[dora.severity_levels]\ncritical = ['Blocker']\nhigh = ['Major', 'MAJOR']\n"
    ).stability
    assert custom.incident_link_window_hours == 2.5
    assert custom.bug_types == ("Bug", "Incident")  # repeats in another case dropped
    assert custom.rework_types == ("Bug", "Incident", "hotfix")  # follows bug_types when not given
    # The mapping given replaces the default one: low lists nothing, P1 is unmapped now.
    assert custom.severity_rows() == [("blocker", "critical"), ("major", "high")]
    assert parse("[dora]\nrework_types = []\n").stability.ticket_type_rows() == [("bug", "bug"), ("defect", "bug")]
    # Not part of the fingerprint: the views read them at query time, nothing is re-derived.
    assert parse("[dora]\nincident_link_window = 1\n").fingerprint() == parse("[dora]\n").fingerprint()


def test_load_workflow_reads_a_file_and_names_it_in_errors(tmp_path):
    path = tmp_path / "fm.toml"
    path.write_text(PAYMENTS)
    assert list(load_workflow(path).boards) == ["payments"]
    path.write_text("[boards.payments]\n")
    with pytest.raises(SettingsError) as caught:
        load_workflow(path)
    assert str(caught.value).startswith(f"{path}: boards.payments.states is missing;")


def test_the_example_file_loads(monkeypatch, tmp_path):
    example = ROOT / "flowmeter.example.toml"
    workflow = load_workflow(example)
    assert list(workflow.boards) == ["payments", "checkout"]
    assert [(w.board, w.states, w.limit, w.team, w.person) for w in workflow.wip_limits] == [
        ("payments", ("In Progress", "Review"), 6, None, None),
        ("payments", ("In Progress",), 3, "payments-core", None),
        ("payments", ("In Progress",), 2, None, "ana"),
        ("checkout", ("Development", "QA", "Testing"), 8, None, None),
    ]
    assert workflow.default != BUILTIN_DEFAULT_STATES
    assert workflow.production_environments == ("production", "prod")
    # the core settings accept the same file: [boards], [defaults], [dora], [alerts] are not theirs
    from flowcore.settings import load_settings

    for name in [n for n in __import__("os").environ if n.startswith("FLOWMETER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(settings=example)
    assert settings.settings == example
    # ...and its alert routes are valid and cover every route its limits name.
    from alerting.config import load_policy

    assert sorted(load_policy(settings, workflow).routes) == ["audit", "log", "payments-slack", "stream"]


# ---- one sentence per mistake ----


def board(states: str, extra: str = "") -> str:
    return f"[boards.payments]\nstates = [\n{states}\n]\n{extra}"


OK_STATES = '{ name = "Doing", category = "active", aliases = ["WIP"] },\n{ name = "Done", category = "done" },'

MISTAKES = [
    ("boards = 3\n", "boards must be a table of boards like [boards.payments], not a number."),
    ("boards = [1]\n", "boards must be a table of boards like [boards.payments], not a list."),
    ('boards.payments = "x"\n', "boards.payments must be a table with a states list, not a string."),
    ('[boards."*"]\nstates = []\n', 'boards."*" is reserved for the defaults; put them under [defaults].'),
    ('[boards." "]\n', 'boards." " has an empty board name; use the board name your events carry.'),
    (
        "[boards.payments]\n",
        "boards.payments.states is missing; list the states in flow order, e.g. "
        'states = [{ name = "Done", category = "done" }].',
    ),
    (
        "[boards.payments]\nstates = []\n",
        "boards.payments.states is empty; list the states in flow order, e.g. "
        'states = [{ name = "Done", category = "done" }].',
    ),
    (
        '[boards.payments]\nstates = "Done"\n',
        'boards.payments.states must be a list of tables like { name = "Done", category = "done" }, not a string.',
    ),
    (
        board('"Done"'),
        'boards.payments.states[0] must be a table like { name = "Done", category = "done" }, not a string.',
    ),
    (
        board('{ category = "done" }'),
        'boards.payments.states[0] has no name; add name = "..." spelled as your tracker shows the status.',
    ),
    (board('{ name = "", category = "done" }'), "boards.payments.states[0].name must not be empty."),
    (
        board('{ name = 7, category = "done" }'),
        "boards.payments.states[0].name must be a non-empty string, not a number.",
    ),
    (
        board('{ name = "Done" }'),
        "boards.payments.states[0].category is missing; use one of backlog, queue, active, done.",
    ),
    (
        board(OK_STATES + '{ name = "Wait", category = "waiting" },'),
        "boards.payments.states[2].category 'waiting' is not one of backlog, queue, active, done.",
    ),
    (
        board('{ name = "Done", category = true }'),
        "boards.payments.states[0].category true is not one of backlog, queue, active, done.",
    ),
    (
        board('{ name = "Done", categry = "done" }'),
        "boards.payments.states[0] has unknown key 'categry'; allowed: name, category, aliases.",
    ),
    (
        board(OK_STATES + '{ name = "done", category = "done" },'),
        "boards.payments.states[2].name 'done' repeats states[1] 'Done' (state names are case-insensitive).",
    ),
    (
        board(OK_STATES + '{ name = "Review", category = "queue", aliases = ["wip"] },'),
        "boards.payments.states[2].aliases[0] 'wip' is already a name or alias of states[0] 'Doing'; "
        "a raw status can map to one state only (case-insensitive).",
    ),
    (
        board(OK_STATES + '{ name = "Review", category = "queue", aliases = ["DOING"] },'),
        "boards.payments.states[2].aliases[0] 'DOING' is already a name or alias of states[0] 'Doing'; "
        "a raw status can map to one state only (case-insensitive).",
    ),
    (
        board(OK_STATES + '{ name = "wip", category = "queue" },'),
        "boards.payments.states[2].name 'wip' is already a name or alias of states[0] 'Doing'; "
        "a raw status can map to one state only (case-insensitive).",
    ),
    (
        board('{ name = "Done", category = "done", aliases = "Closed" }'),
        'boards.payments.states[0].aliases must be a list of raw status names like ["Doing"], not a string.',
    ),
    (
        board('{ name = "Done", category = "done", aliases = [""] }'),
        "boards.payments.states[0].aliases[0] must not be empty.",
    ),
    (
        board('{ name = "Doing", category = "active" }, { name = "Later", category = "backlog" },'),
        "boards.payments.states has no state with category 'done'; cycle time, lead time and throughput need one.",
    ),
    (board(OK_STATES, "owner = 'ana'\n"), "boards.payments has unknown key 'owner'; allowed: states, wip_limits."),
    # WIP limits
    (
        board(OK_STATES, "wip_limits = { limit = 3 }\n"),
        "boards.payments.wip_limits must be a list of tables, written [[boards.payments.wip_limits]], not a table.",
    ),
    (board(OK_STATES, "wip_limits = [3]\n"), "boards.payments.wip_limits[0] must be a table, not a number."),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 3\nlimt = 4\n"),
        "boards.payments.wip_limits[0] has unknown key 'limt'; allowed: states, limit, warn_at, team, person, "
        "routes, name.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nlimit = 3\n"),
        "boards.payments.wip_limits[0].states is missing; name the state or group of states it limits, "
        'e.g. states = ["In Progress", "Review"].',
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = []\nlimit = 3\n"),
        "boards.payments.wip_limits[0].states is empty; name the state or group of states it limits, "
        'e.g. states = ["In Progress", "Review"].',
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = 'Doing'\nlimit = 3\n"),
        'boards.payments.wip_limits[0].states must be a list of state names like ["In Progress", "Review"], '
        "not a string.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing', 'Reveiw']\nlimit = 3\n"),
        "boards.payments.wip_limits[0].states[1] 'Reveiw' is not a state of board payments; "
        "its states are Doing, Done.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing', 'wip']\nlimit = 3\n"),
        "boards.payments.wip_limits[0].states[1] 'wip' names state 'Doing' a second time.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\n"),
        "boards.payments.wip_limits[0].limit is missing; set the most tickets allowed at once, e.g. limit = 6.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = -1\n"),
        "boards.payments.wip_limits[0].limit -1 is below zero; use 0 or more.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 2.5\n"),
        "boards.payments.wip_limits[0].limit must be a whole number, not 2.5.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = '6'\n"),
        "boards.payments.wip_limits[0].limit must be a whole number, not '6'.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = true\n"),
        "boards.payments.wip_limits[0].limit must be a whole number, not true.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 4\nwarn_at = 5\n"),
        "boards.payments.wip_limits[0].warn_at 5 is above limit 4; warn at or below the limit.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 4\nwarn_at = -2\n"),
        "boards.payments.wip_limits[0].warn_at -2 is below zero; use 0 or more.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 4\nteam = ''\n"),
        "boards.payments.wip_limits[0].team must not be empty.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 4\nperson = 3\n"),
        "boards.payments.wip_limits[0].person must be a non-empty string, not a number.",
    ),
    (
        board(OK_STATES, "[[boards.payments.wip_limits]]\nstates = ['Doing']\nlimit = 4\nroutes = 'slack'\n"),
        'boards.payments.wip_limits[0].routes must be a list of alert route names like ["payments-slack"], '
        "not a string.",
    ),
    (
        board(
            OK_STATES,
            "[[boards.payments.wip_limits]]\nstates = ['Doing', 'Done']\nlimit = 4\n"
            "[[boards.payments.wip_limits]]\nstates = ['done', 'wip']\nlimit = 5\n",
        ),
        "boards.payments.wip_limits[1] limits the same states, team and person as wip_limits[0]; keep one of them.",
    ),
    # [defaults]
    ("defaults = 1\n", "defaults must be a table with a states list, not a number."),
    (
        "[defaults]\n",
        "defaults.states is missing; list the states in flow order, e.g. "
        'states = [{ name = "Done", category = "done" }].',
    ),
    (
        '[defaults]\nstates = [{ name = "Done", category = "finished" }]\n',
        "defaults.states[0].category 'finished' is not one of backlog, queue, active, done.",
    ),
    (
        '[defaults]\nstates = [{ name = "Done", category = "done" }]\n[[defaults.wip_limits]]\nstates = ["Done"]\n'
        "limit = 1\n",
        "defaults.wip_limits is not allowed: a WIP limit needs a concrete board; "
        "put it under [[boards.<name>.wip_limits]].",
    ),
    (
        '[defaults]\nstates = [{ name = "Done", category = "done" }]\nboards = ["x"]\n',
        "defaults has unknown key 'boards'; allowed: states.",
    ),
    # [dora]
    ('dora = "prod"\n', "dora must be a table, not a string."),
    (
        "[dora]\nproduction = ['prod']\n",
        "dora has unknown key 'production'; allowed: production_environments, incident_link_window, "
        "severity_levels, bug_types, rework_types.",
    ),
    (
        "[dora]\nproduction_environments = 'prod'\n",
        'dora.production_environments must be a list of environment names like ["production"], not a string.',
    ),
    (
        "[dora]\nproduction_environments = []\n",
        "dora.production_environments is empty; list at least one environment, or remove the key for the default "
        "production, prod, prd, live.",
    ),
    ("[dora]\nproduction_environments = ['prod', '  ']\n", "dora.production_environments[1] must not be empty."),
    (
        "[dora]\nproduction_environments = ['prod', 1]\n",
        "dora.production_environments[1] must be a non-empty string, not a number.",
    ),
    # [dora] stability settings
    (
        "[dora]\nincident_link_window = '24h'\n",
        "dora.incident_link_window must be a number of hours like 24, not a string.",
    ),
    (
        "[dora]\nincident_link_window = true\n",
        "dora.incident_link_window must be a number of hours like 24, not a boolean.",
    ),
    (
        "[dora]\nincident_link_window = -1\n",
        "dora.incident_link_window -1 is not a number of hours from 0 up; use e.g. 24.",
    ),
    (
        "[dora]\nincident_link_window = inf\n",
        "dora.incident_link_window Infinity is not a number of hours from 0 up; use e.g. 24.",
    ),
    (
        "[dora]\nseverity_levels = ['P1']\n",
        'dora.severity_levels must be a table like { critical = ["P1"], high = ["P2"], low = ["P3"] }, not a list.',
    ),
    (
        "[dora.severity_levels]\nmedium = ['P3']\n",
        "dora.severity_levels has unknown key 'medium'; allowed: critical, high, low.",
    ),
    (
        "[dora.severity_levels]\ncritical = 'P1'\n",
        'dora.severity_levels.critical must be a list of severity names like ["P1", "SEV1"], not a string.',
    ),
    (
        "[dora.severity_levels]\ncritical = ['P1']\nlow = ['p2', 'P1']\n",
        "dora.severity_levels.low[1] 'P1' is already listed under critical; "
        "a severity maps to one level (case-insensitive).",
    ),
    ("[dora]\nbug_types = 'bug'\n", 'dora.bug_types must be a list of ticket types like ["bug"], not a string.'),
    ("[dora]\nrework_types = ['hotfix', '']\n", "dora.rework_types[1] must not be empty."),
]


@pytest.mark.parametrize("text, message", MISTAKES, ids=[m for _, m in MISTAKES])
def test_each_mistake_is_one_sentence_naming_the_key(text, message):
    assert error(text) == f"flowmeter.toml: {message}"


def test_board_names_that_need_quotes_are_quoted_in_messages():
    assert error('[boards."Team A.1"]\nstates = 1\n') == (
        'flowmeter.toml: boards."Team A.1".states must be a list of tables like '
        '{ name = "Done", category = "done" }, not a number.'
    )

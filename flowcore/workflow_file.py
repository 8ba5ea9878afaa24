"""Read the workflow out of the parsed settings file, checking every key on the way.

``parse_workflow`` takes the whole TOML document and uses only ``[boards.*]``,
``[defaults]`` and ``[dora]``; the core keys belong to Settings and ``[alerts.*]``
to the alert routes. The first mistake found raises SettingsError with one
sentence that names the file and the key, e.g.
``flowmeter.toml: boards.payments.states[2].category 'waiting' is not one of backlog, queue, active, done.``
Indexes in those key paths count from 0, as in the TOML array.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from flowcore.errors import SettingsError
from flowcore.settings import read_settings_file
from flowcore.stability import HOTFIX_TYPE, LEVELS, Stability
from flowcore.workflow import (
    CATEGORIES,
    DEFAULT_BOARD,
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    StateDef,
    WipLimit,
    Workflow,
)

STATE_KEYS = ("name", "category", "aliases")
BOARD_KEYS = ("states", "wip_limits")
LIMIT_KEYS = ("states", "limit", "warn_at", "team", "person", "routes", "name")
DEFAULTS_KEYS = ("states",)
DORA_KEYS = ("production_environments", "incident_link_window", "severity_levels", "bug_types", "rework_types")
STATE_EXAMPLE = '{ name = "Done", category = "done" }'


class _Invalid(Exception):
    """One mistake: the key path and what is wrong with it (parse_workflow adds the file)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")


def parse_workflow(doc: dict[str, Any], source: str) -> Workflow:
    """The Workflow the settings document describes (no boards, defaults or dora: the built-ins)."""
    try:
        boards = _table(doc.get("boards", {}), "boards", "a table of boards like [boards.payments]")
        parsed = {name: _board(name, body) for name, body in boards.items()}
        default = _defaults(doc["defaults"]) if "defaults" in doc else Workflow().default
        production, stability = _dora(doc["dora"]) if "dora" in doc else (DEFAULT_PRODUCTION_ENVIRONMENTS, Stability())
    except _Invalid as exc:
        raise SettingsError(f"{source}: {exc}.") from None
    return Workflow(
        boards={name: states for name, (states, _) in parsed.items()},
        default=default,
        wip_limits=tuple(limit for _, limits in parsed.values() for limit in limits),
        production_environments=production,
        stability=stability,
    )


def _board(name: str, body: Any) -> tuple[tuple[StateDef, ...], tuple[WipLimit, ...]]:
    where = f"boards.{_key(name)}"
    if name == DEFAULT_BOARD:
        raise _Invalid(where, "is reserved for the defaults; put them under [defaults]")
    if not name.strip():
        raise _Invalid(where, "has an empty board name; use the board name your events carry")
    body = _table(body, where, "a table with a states list")
    _known_keys(body, where, BOARD_KEYS)
    states = _states(body.get("states"), f"{where}.states")
    limits = body.get("wip_limits", [])
    if not isinstance(limits, list):
        raise _Invalid(
            f"{where}.wip_limits", f"must be a list of tables, written [[{where}.wip_limits]], not {_kind(limits)}"
        )
    parsed = [_wip_limit(name, states, item, f"{where}.wip_limits[{i}]") for i, item in enumerate(limits)]
    _no_repeated_scope(parsed, f"{where}.wip_limits")
    return states, tuple(parsed)


def _defaults(body: Any) -> tuple[StateDef, ...]:
    body = _table(body, "defaults", "a table with a states list")
    if "wip_limits" in body:
        raise _Invalid(
            "defaults.wip_limits",
            "is not allowed: a WIP limit needs a concrete board; put it under [[boards.<name>.wip_limits]]",
        )
    _known_keys(body, "defaults", DEFAULTS_KEYS)
    return _states(body.get("states"), "defaults.states")


def _dora(body: Any) -> tuple[tuple[str, ...], Stability]:
    body = _table(body, "dora", "a table")
    _known_keys(body, "dora", DORA_KEYS)
    return _production(body), _stability(body)


def _production(body: dict[str, Any]) -> tuple[str, ...]:
    if "production_environments" not in body:
        return DEFAULT_PRODUCTION_ENVIRONMENTS
    where = "dora.production_environments"
    names = _strings(body["production_environments"], where, 'a list of environment names like ["production"]')
    if not names:
        raise _Invalid(
            where,
            "is empty; list at least one environment, or remove the key for the default "
            + ", ".join(DEFAULT_PRODUCTION_ENVIRONMENTS),
        )
    return _case_insensitive(names)


def _stability(body: dict[str, Any]) -> Stability:
    """[dora]'s incident and rework settings; keys not given keep their defaults (flowcore/stability.py)."""
    default = Stability()
    window = default.incident_link_window_hours
    if "incident_link_window" in body:
        window = _hours(body["incident_link_window"], "dora.incident_link_window")
    levels = default.severity_levels
    if "severity_levels" in body:
        levels = _severity_levels(body["severity_levels"], "dora.severity_levels")
    bug_types = default.bug_types
    if "bug_types" in body:
        bug_types = _case_insensitive(
            _strings(body["bug_types"], "dora.bug_types", 'a list of ticket types like ["bug"]')
        )
    rework_types = _case_insensitive([*bug_types, HOTFIX_TYPE])  # the default follows bug_types
    if "rework_types" in body:
        rework_types = _case_insensitive(
            _strings(body["rework_types"], "dora.rework_types", 'a list of ticket types like ["bug", "hotfix"]')
        )
    return Stability(window, levels, bug_types, rework_types)


def _severity_levels(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The whole mapping as given: it replaces the default one (a level left out lists no names)."""
    table = _table(value, where, 'a table like { critical = ["P1"], high = ["P2"], low = ["P3"] }')
    _known_keys(table, where, LEVELS)
    owner: dict[str, str] = {}
    levels = []
    for level in LEVELS:
        names = _strings(table.get(level, []), f"{where}.{level}", 'a list of severity names like ["P1", "SEV1"]')
        for i, name in enumerate(names):
            held = owner.setdefault(name.lower(), level)
            if held != level:
                raise _Invalid(
                    f"{where}.{level}[{i}]",
                    f"{_show(name)} is already listed under {held}; a severity maps to one level (case-insensitive)",
                )
        levels.append((level, _case_insensitive(names)))
    return tuple(levels)


def _hours(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(where, f"must be a number of hours like 24, not {_kind(value)}")
    if not 0 <= value < float("inf"):
        raise _Invalid(where, f"{_show(value)} is not a number of hours from 0 up; use e.g. 24")
    return float(value)


def _case_insensitive(names: list[str]) -> tuple[str, ...]:
    kept: dict[str, str] = {}
    for name in names:
        kept.setdefault(name.lower(), name)  # compared case-insensitively: repeats dropped, order kept
    return tuple(kept.values())


# ---- states ----


def _states(value: Any, where: str) -> tuple[StateDef, ...]:
    hint = f"list the states in flow order, e.g. states = [{STATE_EXAMPLE}]"
    if value is None:
        raise _Invalid(where, f"is missing; {hint}")
    if not isinstance(value, list):
        raise _Invalid(where, f"must be a list of tables like {STATE_EXAMPLE}, not {_kind(value)}")
    if not value:
        raise _Invalid(where, f"is empty; {hint}")
    states: list[StateDef] = []
    owner: dict[str, int] = {}  # lower-cased name or alias -> index of the state that holds it
    for i, item in enumerate(value):
        state = _state(item, f"{where}[{i}]")
        _claim(owner, states, state.name, i, f"{where}[{i}].name")
        for j, alias in enumerate(state.aliases):
            _claim(owner, states, alias, i, f"{where}[{i}].aliases[{j}]")
        states.append(state)
    if not any(s.category == "done" for s in states):
        raise _Invalid(where, "has no state with category 'done'; cycle time, lead time and throughput need one")
    return tuple(states)


def _state(item: Any, where: str) -> StateDef:
    item = _table(item, where, f"a table like {STATE_EXAMPLE}")
    _known_keys(item, where, STATE_KEYS)
    if "name" not in item:
        raise _Invalid(where, 'has no name; add name = "..." spelled as your tracker shows the status')
    name = _text(item["name"], f"{where}.name")
    if "category" not in item:
        raise _Invalid(f"{where}.category", f"is missing; use one of {', '.join(CATEGORIES)}")
    category = item["category"]
    if not isinstance(category, str) or category.lower() not in CATEGORIES:
        raise _Invalid(f"{where}.category", f"{_show(category)} is not one of {', '.join(CATEGORIES)}")
    aliases = _strings(item.get("aliases", []), f"{where}.aliases", 'a list of raw status names like ["Doing"]')
    return StateDef(name, category.lower(), tuple(aliases))


def _claim(owner: dict[str, int], states: list[StateDef], raw: str, index: int, where: str) -> None:
    """Record that raw status `raw` (any case) means state `index`; a second state claiming it is a mistake."""
    held = owner.setdefault(raw.lower(), index)
    if held == index:
        return  # new, or a state repeating its own name or alias: harmless
    other = f"states[{held}] {_show(states[held].name)}"
    if where.endswith(".name") and states[held].name.lower() == raw.lower():
        raise _Invalid(where, f"{_show(raw)} repeats {other} (state names are case-insensitive)")
    raise _Invalid(
        where,
        f"{_show(raw)} is already a name or alias of {other}; "
        "a raw status can map to one state only (case-insensitive)",
    )


# ---- WIP limits ----


def _wip_limit(board: str, states: tuple[StateDef, ...], item: Any, where: str) -> WipLimit:
    item = _table(item, where, "a table")
    _known_keys(item, where, LIMIT_KEYS)
    group = _limit_states(board, states, item.get("states"), f"{where}.states")
    if "limit" not in item:
        raise _Invalid(f"{where}.limit", "is missing; set the most tickets allowed at once, e.g. limit = 6")
    limit = _count(item["limit"], f"{where}.limit")
    warn_at = _count(item["warn_at"], f"{where}.warn_at") if "warn_at" in item else None
    if warn_at is not None and warn_at > limit:
        raise _Invalid(f"{where}.warn_at", f"{warn_at} is above limit {limit}; warn at or below the limit")
    optional = {key: _text(item[key], f"{where}.{key}") if key in item else None for key in ("team", "person", "name")}
    routes = _strings(item.get("routes", []), f"{where}.routes", 'a list of alert route names like ["payments-slack"]')
    return WipLimit(
        board=board,
        states=group,
        limit=limit,
        warn_at=warn_at,
        team=optional["team"],
        person=optional["person"],
        routes=tuple(routes),
        name=optional["name"] or " + ".join(group),
    )


def _limit_states(board: str, states: tuple[StateDef, ...], value: Any, where: str) -> tuple[str, ...]:
    """The canonical names of the states a limit covers (names or aliases, any case)."""
    hint = 'name the state or group of states it limits, e.g. states = ["In Progress", "Review"]'
    if value is None:
        raise _Invalid(where, f"is missing; {hint}")
    names = _strings(value, where, 'a list of state names like ["In Progress", "Review"]')
    if not names:
        raise _Invalid(where, f"is empty; {hint}")
    canonical = {raw.lower(): s.name for s in states for raw in (s.name, *s.aliases)}
    group: list[str] = []
    for i, raw in enumerate(names):
        name = canonical.get(raw.lower())
        if name is None:
            raise _Invalid(
                f"{where}[{i}]",
                f"{_show(raw)} is not a state of board {board}; its states are {', '.join(s.name for s in states)}",
            )
        if name in group:
            raise _Invalid(f"{where}[{i}]", f"{_show(raw)} names state {_show(name)} a second time")
        group.append(name)
    return tuple(group)


def _no_repeated_scope(limits: list[WipLimit], where: str) -> None:
    seen: dict[tuple, int] = {}
    for i, limit in enumerate(limits):
        first = seen.setdefault((frozenset(limit.states), limit.team, limit.person), i)
        if first != i:
            raise _Invalid(
                f"{where}[{i}]", f"limits the same states, team and person as wip_limits[{first}]; keep one of them"
            )


# ---- values ----


def _known_keys(table: dict[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise _Invalid(where, f"has unknown key {_show(key)}; allowed: {', '.join(allowed)}")


def _table(value: Any, where: str, shape: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(where, f"must be {shape}, not {_kind(value)}")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(where, f"must be a non-empty string, not {_kind(value)}")
    if not value.strip():
        raise _Invalid(where, "must not be empty")
    return value


def _strings(value: Any, where: str, shape: str) -> list[str]:
    if not isinstance(value, list):
        raise _Invalid(where, f"must be {shape}, not {_kind(value)}")
    return [_text(item, f"{where}[{i}]") for i, item in enumerate(value)]


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(where, f"must be a whole number, not {_show(value)}")
    if value < 0:
        raise _Invalid(where, f"{value} is below zero; use 0 or more")
    return value


def _key(name: str) -> str:
    """A table name as TOML writes it in a dotted key: bare when it can be, quoted otherwise."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value, default=str)


def _kind(value: Any) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (str, "a string"),
        ((int, float), "a number"),
        (dict, "a table"),
        (list, "a list"),
        ((dt.date, dt.time), "a date or time"),
    ]
    return next((name for types, name in kinds if isinstance(value, types)), type(value).__name__)


def load_workflow(path: Path | None) -> Workflow:
    """The workflow from the settings file (None, or a file that does not exist: built-in defaults)."""
    if path is None or not Path(path).exists():
        return Workflow()
    return parse_workflow(read_settings_file(Path(path)), source=str(path))

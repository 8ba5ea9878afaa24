"""Per-board workflow: ordered states with categories and aliases, WIP limits.

Read from the settings file's ``[boards.<name>]`` and ``[defaults]`` tables and
validated on load; a mistake raises SettingsError naming the board and the key.
Boards not listed use ``[defaults]``, or BUILTIN_DEFAULT_STATES when the file
has none. The store keeps a copy in its mapping tables; when the fingerprint
changes, every derived table is re-derived from the stored events.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from flowcore.stability import Stability

CATEGORIES = ("backlog", "queue", "active", "done")
DEFAULT_BOARD = "*"  # the board name the mapping tables use for the defaults
DEFAULT_PRODUCTION_ENVIRONMENTS = ("production", "prod", "prd", "live")


@dataclass(frozen=True)
class StateDef:
    name: str
    category: str  # one of CATEGORIES
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class WipLimit:
    board: str
    states: tuple[str, ...]  # canonical state names of that board (one or a group)
    limit: int
    warn_at: int | None = None
    team: str | None = None  # limit only that team's tickets
    person: str | None = None  # limit only that assignee's tickets
    routes: tuple[str, ...] = ()  # alert route names (the alerts issue)
    name: str = ""  # e.g. "In Progress + Review"; derived from states when not given


# Used for boards with no [boards.X] entry when the file has no [defaults] either.
# Listed in flow order: the position of a state is its index here.
BUILTIN_DEFAULT_STATES: tuple[StateDef, ...] = (
    StateDef("Backlog", "backlog", ("To Do", "Todo", "Open", "New", "Selected for Development")),
    StateDef("In Progress", "active", ("Doing", "In Development", "Development")),
    StateDef("Review", "queue", ("In Review", "Code Review", "Ready for Review")),
    StateDef("QA", "queue", ("Ready for QA", "In QA", "Testing")),
    StateDef("Done", "done", ("Closed", "Resolved", "Released", "Deployed")),
)


@dataclass(frozen=True)
class Workflow:
    boards: dict[str, tuple[StateDef, ...]] = field(default_factory=dict)
    default: tuple[StateDef, ...] = BUILTIN_DEFAULT_STATES
    wip_limits: tuple[WipLimit, ...] = ()
    production_environments: tuple[str, ...] = DEFAULT_PRODUCTION_ENVIRONMENTS
    # [dora]'s incident, severity and ticket-type settings: read by views at query time, so
    # (like WIP limits) not part of the fingerprint: changing them re-derives nothing.
    stability: Stability = field(default_factory=Stability)

    def state_rows(self) -> list[tuple[str, str, str, int]]:
        """(board, state, category, position) for every board and for the defaults ('*')."""
        rows = []
        for board, states in [(DEFAULT_BOARD, self.default), *sorted(self.boards.items())]:
            rows += [(board, s.name, s.category, i) for i, s in enumerate(states)]
        return rows

    def alias_rows(self) -> list[tuple[str, str, str]]:
        """(board, lower-cased raw name, canonical state): each state's own name and its aliases."""
        rows = []
        for board, states in [(DEFAULT_BOARD, self.default), *sorted(self.boards.items())]:
            for s in states:
                for raw in {s.name.lower(), *(a.lower() for a in s.aliases)}:
                    rows.append((board, raw, s.name))
        return rows

    def fingerprint(self) -> str:
        """Changes whenever anything that derived metrics depend on changes."""
        doc = {
            "boards": {b: [asdict(s) for s in states] for b, states in sorted(self.boards.items())},
            "default": [asdict(s) for s in self.default],
            "production": list(self.production_environments),
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

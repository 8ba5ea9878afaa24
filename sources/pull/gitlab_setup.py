"""`flowmeter init gitlab`: a commented flowmeter.toml suggested from a project's issue boards.

A board is a GitLab project (the adapter names a transition's board by its path). GitLab's own
issue board reads: Open (issues without a list label), one list per label, Closed. So each
project's states are suggested as: "Open" -> backlog; each label list of its boards
(``GET /projects/:id/boards``, lists by ``position``) -> active, or queue when the name says the
item waits (Review, QA, Test, Waiting, Blocked, Ready, ...; the rule of jira_setup.WAITING), or
backlog when it reads like one (Backlog, To Do); "Closed" -> done. ``gitlab_label_states`` maps
each list label to its state, in board order (the last-listed label an issue carries wins).
The project's labels (``GET /projects/:id/labels``) that no list uses are listed as comments.
The text is checked by the project's own workflow parser; no secret is ever written.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from flowcore.workflow_file import parse_workflow
from sources.pull.gitlab import API, GitLabSource
from sources.pull.jira_setup import WAITING

BACKLOG_LIKE = re.compile(r"backlog|to ?do|icebox|triage|\bnew\b", re.IGNORECASE)


@dataclass
class ProjectBoard:
    lists: list[str] = field(default_factory=list)  # label names of the board lists, in board order
    other_labels: list[str] = field(default_factory=list)


def project_boards(source: GitLabSource) -> dict[str, ProjectBoard]:
    """Per project of the selection, its board lists' labels in order, and its other labels."""
    found: dict[str, ProjectBoard] = {}
    for project in source.projects:
        base = f"{API}/projects/{quote(project, safe='')}"
        board = ProjectBoard()
        for listed in source.every(f"{base}/boards"):
            lists = [x for x in listed.get("lists") or [] if isinstance(x, dict)]
            for item in sorted(lists, key=_position):
                label = item.get("label")
                name = label.get("name") if isinstance(label, dict) else None
                if isinstance(name, str) and name.strip() and name.strip().lower() not in map(str.lower, board.lists):
                    board.lists.append(name.strip())
        for label in source.every(f"{base}/labels"):
            name = label.get("name")
            if isinstance(name, str) and name.strip() and name.strip().lower() not in map(str.lower, board.lists):
                board.other_labels.append(name.strip())
        found[project] = board
    return found


def _position(item: dict) -> int:
    position = item.get("position")
    return position if isinstance(position, int) else 0


def suggest(name: str) -> str:
    if BACKLOG_LIKE.search(name):
        return "backlog"
    return "queue" if WAITING.search(name) else "active"


def settings_text(url: str, boards: dict[str, ProjectBoard], now: datetime | None = None) -> str:
    """The flowmeter.toml text, checked by the workflow parser (a SettingsError if it would not load)."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# flowmeter settings suggested by `flowmeter init gitlab` on {when}.",
        "# Read and edit them: the categories are a guess from the names of your issue board lists.",
        "# The token is never written here: set FLOWMETER_GITLAB_TOKEN (an access token with the read_api",
        "# scope) in the environment. Then: `flowmeter sync gitlab --once --db flowmeter.duckdb`",
        "# (or `flowmeter up` and `flowmeter sync gitlab`). docs/sources.md and docs/workflow.md say more.",
        "",
        "# ---- What `flowmeter sync gitlab` pulls ----",
        f"gitlab_url = {json.dumps(url)}",
        f"gitlab_projects = {json.dumps(list(boards))}",
        "",
        "# ---- Issue state by label ----",
        "# An open issue is in the state of the label listed last here among those it carries, else",
        '# "Open"; a closed issue is "Closed". Suggested: each label list of your issue boards, in board order.',
        "[gitlab_label_states]",
    ]
    mapped: list[str] = []
    for board in boards.values():
        mapped += [name for name in board.lists if name.lower() not in map(str.lower, mapped)]
    lines += [f"{json.dumps(name)} = {json.dumps(name)}" for name in mapped]
    others = sorted({n for b in boards.values() for n in b.other_labels if n.lower() not in map(str.lower, mapped)})
    if others:
        lines.append("# Other labels of the projects, not on any board list (uncomment to map one):")
        lines += [f"# {json.dumps(name)} = {json.dumps(name)}" for name in others]
    lines += [
        "",
        "# ---- Workflow per board (a board is a GitLab project) ----",
        "# Categories: backlog (not committed to), queue (committed, waiting), active (being worked on),",
        "# done. Open (no list label) -> backlog; each board list -> active, except lists named like",
        "# Review, QA, Test, Waiting, Blocked or Ready -> queue (waiting, not worked on) and lists named",
        "# like Backlog or To Do -> backlog; Closed -> done. States are in the boards' order.",
    ]
    if not any(b.lists for b in boards.values()):
        lines.append("# No issue board list was found: every issue is Open or Closed until you map labels above.")
    for project, board in boards.items():
        states = [("Open", "backlog", "GitLab: open, no list label")]
        states += [(name, suggest(name), "board list") for name in board.lists]
        states += [("Closed", "done", "GitLab: closed")]
        width = max(len(json.dumps(name)) for name, _, _ in states)
        lines += ["", f"[boards.{json.dumps(project)}]", "states = ["]
        for name, category, why in states:
            padded = (json.dumps(name) + ",").ljust(width + 1)
            lines.append(f'  {{ name = {padded} category = "{category}" }},{" " * (8 - len(category))}# {why}')
        lines.append("]")
    text = "\n".join(lines) + "\n"
    parse_workflow(tomllib.loads(text), "the suggested flowmeter.toml")
    return text

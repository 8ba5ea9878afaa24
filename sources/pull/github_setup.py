"""`flowmeter init github`: a commented flowmeter.toml suggested from the repositories' labels.

A GitHub board is a repository (the adapter names a transition's board by ``full_name``). An
issue's state is ``Open`` or ``Closed`` (GitHub's own), or, while open, the state of its
workflow label through ``github_label_states`` (sources/adapters/github.py). The labels come
from ``GET /repos/{owner}/{repo}/labels`` (paged); those named like a workflow step (in progress,
doing, review, QA, blocked, ready, ...) are suggested as states, in a typical flow order, with
a category each; labels such as bug or enhancement are not states and are left out. The text
is checked by the project's own settings and workflow parsers; no secret is ever written.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime

from flowcore.workflow_file import parse_workflow
from sources.adapters.github import CLOSED, OPEN
from sources.pull.github import PUBLIC_API, GitHubSource, _path

# Label names that look like a workflow step: (pattern, category), in the order a board reads.
STEPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(triage|to ?do|backlog|planned|icebox)\b", re.I), "backlog"),
    (re.compile(r"\bready\b(?!.*\b(review|qa|test))", re.I), "queue"),
    (re.compile(r"\b(in[ -]?progress|doing|wip|work in progress|started|in dev\w*)\b", re.I), "active"),
    (re.compile(r"\breview", re.I), "queue"),
    (re.compile(r"\b(qa|test\w*|verif\w*|approv\w*)\b", re.I), "queue"),
    (re.compile(r"\b(blocked|on[ -]?hold|waiting)\b", re.I), "queue"),
]
_PREFIX = re.compile(r"^\s*(status|state|stage|workflow)\s*[:/]\s*", re.I)


def workflow_labels(labels: list[str]) -> list[tuple[str, str, str]]:
    """(label, suggested state name, category) of the labels that look like workflow steps, in flow order."""
    found: list[tuple[int, str, str, str]] = []
    for label in labels:
        for rank, (pattern, category) in enumerate(STEPS):
            if pattern.search(label):
                bare = _PREFIX.sub("", label).strip()
                state = bare.title() if bare == bare.lower() else bare
                found.append((rank, label, state, category))
                break
    found.sort(key=lambda f: f[0])  # stable: GitHub's (alphabetical) order within a step
    return [(label, state, category) for _, label, state, category in found]


def repository_labels(source: GitHubSource) -> dict[str, list[str]]:
    """Per repository (its full_name, GitHub's spelling), the names of its labels."""
    found: dict[str, list[str]] = {}
    for repo in source.repos:
        about = source.client.get(f"/repos/{_path(repo)}")
        full_name = about.get("full_name") if isinstance(about, dict) else None
        names: list[str] = []
        for labels in source.listed(f"/repos/{_path(repo)}/labels"):
            names += [x["name"] for x in labels if isinstance(x.get("name"), str) and x["name"].strip()]
        found[full_name if isinstance(full_name, str) and full_name else repo] = names
    return found


def settings_text(url: str, boards: dict[str, list[str]], now: datetime | None = None) -> str:
    """The flowmeter.toml text, checked by the parsers (a SettingsError if it would not load)."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    suggested = {board: workflow_labels(labels) for board, labels in boards.items()}
    lines = [
        f"# flowmeter settings suggested by `flowmeter init github` on {when}.",
        "# Read and edit them: the states are a guess from each repository's labels.",
        "# The token is never written here: set FLOWMETER_GITHUB_TOKEN in the environment to a fine-grained",
        "# token with read access to Issues, Deployments and Metadata of these repositories (or a classic",
        "# token with the repo scope). Then: `flowmeter sync github --once --db flowmeter.duckdb`",
        "# (or `flowmeter up` and `flowmeter sync github`). docs/sources.md and docs/workflow.md say more.",
        "",
        "# ---- What `flowmeter sync github` pulls ----",
    ]
    if url.rstrip("/") != PUBLIC_API:
        lines.append(f"github_url = {json.dumps(url.rstrip('/'))}")
    lines += [f"github_repos = {json.dumps(list(boards))}", ""]
    lines += [
        "# ---- Which labels put an open issue in which state ----",
        "# An open issue is in the state of the label listed LAST below among those it carries, else",
        '# "Open"; a closed one is "Closed" ("Not Planned" when closed as not planned or duplicate, left',
        "# unmapped on purpose so dropped work does not count as delivered). List labels in flow order.",
        "[github_label_states]",
    ]
    mapping: dict[str, str] = {}
    for labels in suggested.values():
        for label, state, _ in labels:
            mapping.setdefault(label.strip().lower(), state)
    lines += [f"{json.dumps(label)} = {json.dumps(state)}" for label, state in mapping.items()]
    if not mapping:
        lines.append('# No label looks like a workflow step; add yours, e.g. "in progress" = "In Progress".')
    lines += [
        "",
        "# ---- Workflow per board (a board is a repository) ----",
        "# Categories: backlog (not committed to), queue (committed, waiting), active (being worked on),",
        "# done. Open -> backlog and Closed -> done are GitHub's; labels named like in progress or doing ->",
        "# active; like ready, review, QA, test, blocked or waiting -> queue. Reorder as your board reads.",
    ]
    for board, labels in suggested.items():
        states = [(OPEN, "backlog", "GitHub: open")]
        states += [(state, category, f"label {json.dumps(label)}") for label, state, category in labels]
        states.append((CLOSED, "done", "GitHub: closed"))
        unique: list[tuple[str, str, str]] = []
        for entry in states:  # one entry per name (the first), in flow order
            if entry[0].lower() not in {u[0].lower() for u in unique}:
                unique.append(entry)
        others = [x for x in boards[board] if x not in {label for label, _, _ in labels}]
        lines += ["", f"[boards.{json.dumps(board)}]"]
        if others:
            lines.append(f"# Not states (other labels): {', '.join(others[:12])}{' ...' if len(others) > 12 else ''}")
        lines.append("states = [")
        width = max(len(json.dumps(name)) for name, _, _ in unique)
        for name, category, why in unique:
            padded = (json.dumps(name) + ",").ljust(width + 1)
            lines.append(f'  {{ name = {padded} category = "{category}" }},{" " * (8 - len(category))}# {why}')
        lines.append("]")
    text = "\n".join(lines) + "\n"
    parse_workflow(tomllib.loads(text), "the suggested flowmeter.toml")
    return text

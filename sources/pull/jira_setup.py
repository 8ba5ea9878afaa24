"""`flowmeter init jira`: a commented flowmeter.toml suggested from the statuses a JQL selection uses.

Boards are Jira projects (the Jira adapter names a transition's board by ``fields.project.key``).
Each project's statuses come from ``GET /rest/api/{3|2}/project/{key}/statuses`` (per issue
type, each status with its ``statusCategory.key``: new, indeterminate or done), and are
suggested as: new -> backlog; indeterminate -> active, or queue when the name says the item is
waiting (Review, QA, Test, Waiting, Blocked, Ready, ...); done -> done. The text is checked by
the project's own workflow parser before anyone sees it; no secret is ever written.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from urllib.parse import quote

from flowcore.workflow_file import parse_workflow
from sources.pull.jira import JiraSource

# Names of in-progress statuses where work waits rather than being worked on.
WAITING = re.compile(r"review|\bqa\b|test|verif|approv|wait|block|hold|ready|queue|staging|deploy", re.IGNORECASE)
_ORDER = {"new": 0, "indeterminate": 1, "done": 2}
MAX_ISSUES = 5000  # issues read to learn which projects the selection spans


def project_statuses(source: JiraSource) -> dict[str, list[tuple[str, str]]]:
    """Per project the selection spans, its statuses as (name, Jira category key), in flow order."""
    projects: list[str] = []
    seen = 0
    for issues in source.search(source.selection, "project", expand=""):
        for issue in issues:
            key = ((issue.get("fields") or {}).get("project") or {}).get("key")
            if isinstance(key, str) and key not in projects:
                projects.append(key)
        seen += len(issues)
        if seen >= MAX_ISSUES:
            break
    found: dict[str, list[tuple[str, str]]] = {}
    for project in projects:
        listed = source.client.get(f"{source.api}/project/{quote(project, safe='')}/statuses")
        statuses: dict[str, tuple[str, str]] = {}
        for issue_type in listed if isinstance(listed, list) else []:
            for status in issue_type.get("statuses") or [] if isinstance(issue_type, dict) else []:
                name = status.get("name") if isinstance(status, dict) else None
                category = (status.get("statusCategory") or {}).get("key") if isinstance(status, dict) else None
                if isinstance(name, str) and name.strip() and name.strip().lower() not in statuses:
                    statuses[name.strip().lower()] = (name.strip(), category if category in _ORDER else "indeterminate")
        found[project] = sorted(statuses.values(), key=lambda s: _ORDER[s[1]])  # stable: Jira's order within
    return found


def suggest(category: str, name: str) -> str:
    if category == "new":
        return "backlog"
    if category == "done":
        return "done"
    return "queue" if WAITING.search(name) else "active"


def settings_text(url: str, jql: str, boards: dict[str, list[tuple[str, str]]], now: datetime | None = None) -> str:
    """The flowmeter.toml text, checked by the workflow parser (a SettingsError if it would not load)."""
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# flowmeter settings suggested by `flowmeter init jira` on {when}.",
        "# Read and edit them: the categories are a guess from Jira's status categories.",
        "# Credentials are never written here: set FLOWMETER_JIRA_EMAIL and FLOWMETER_JIRA_TOKEN (Jira Cloud:",
        "# your account email and an API token) or FLOWMETER_JIRA_TOKEN alone (Data Center: a personal",
        "# access token) in the environment. Then: `flowmeter sync jira --once --db flowmeter.duckdb`",
        "# (or `flowmeter up` and `flowmeter sync jira`). docs/sources.md and docs/workflow.md say more.",
        "",
        "# ---- What `flowmeter sync jira` pulls ----",
        f"jira_url = {json.dumps(url)}",
        f"jira_jql = {json.dumps(jql)}",
        "",
        "# ---- Workflow per board (a board is a Jira project) ----",
        "# Categories: backlog (not committed to), queue (committed, waiting), active (being worked on),",
        "# done. Suggested from each status's Jira category: To Do (new) -> backlog, In Progress",
        "# (indeterminate) -> active, except statuses named like Review, QA, Test, Waiting, Blocked or",
        "# Ready -> queue (waiting, not worked on), Done (done) -> done. States are in flow order:",
        "# reorder them as your board reads left to right.",
    ]
    if not boards:
        lines += ["# The selection matched no issues, so no board is suggested: check jira_jql and run init again."]
    for board, statuses in boards.items():
        lines += ["", f"[boards.{_key(board)}]", "states = ["]
        width = max((len(json.dumps(name)) for name, _ in statuses), default=0)
        for name, category in statuses:
            suggested = suggest(category, name)
            why = f"Jira: {category}" + (
                ", named like waiting" if category == "indeterminate" and suggested == "queue" else ""
            )
            padded = (json.dumps(name) + ",").ljust(width + 1)
            lines.append(f'  {{ name = {padded} category = "{suggested}" }},{" " * (8 - len(suggested))}# {why}')
        lines.append("]")
    text = "\n".join(lines) + "\n"
    parse_workflow(tomllib.loads(text), "the suggested flowmeter.toml")
    return text


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)

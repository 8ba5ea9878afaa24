"""A generated Jira search-results export (expand=changelog), for `flowmeter import jira`: the
import test lands a small one, benchmarks/import_jira.py times a large one."""

from __future__ import annotations

import json
from pathlib import Path

STATES = ["Backlog", "In Progress", "Review", "In Progress", "Review", "QA", "Done", "In Progress", "QA", "Done"]


def generate(path: Path, transitions: int) -> int:
    """Write {"issues": [...]} with ~10 status changes an issue; returns the issue count."""
    per_issue = len(STATES) - 1
    issues = max(1, transitions // per_issue)
    with path.open("w") as out:
        out.write(f'{{"startAt": 0, "maxResults": {issues}, "total": {issues}, "issues": [')
        for n in range(issues):
            day = 1 + n % 28
            histories = [
                {
                    "id": str(n * 100 + k),
                    "author": {"displayName": "Ana"},
                    "created": f"2025-02-{day:02d}T{9 + k:02d}:00:00.000+0100",
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "from": str(k),
                            "fromString": STATES[k],
                            "to": str(k + 1),
                            "toString": STATES[k + 1],
                        }
                    ],
                }
                for k in range(per_issue)
            ]
            issue = {
                "id": str(10_000 + n),
                "key": f"PAY-{n}",
                "fields": {
                    "project": {"key": "PAY", "name": "Payments"},
                    "issuetype": {"name": "Story"},
                    "status": {"name": STATES[-1]},
                    "assignee": {"displayName": "Ana", "accountId": "a1"},
                    "created": f"2025-02-{day:02d}T08:00:00.000+0100",
                },
                "changelog": {"startAt": 0, "maxResults": per_issue, "total": per_issue, "histories": histories},
            }
            out.write(("," if n else "") + json.dumps(issue))
        out.write("]}")
    return issues

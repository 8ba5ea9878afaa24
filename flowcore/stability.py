"""The `[dora]` settings behind the stability views: linking incidents, severity levels, bug types.

Read by flowcore/workflow_file.py, carried by Workflow, and written by the store into the small
tables the views join (incident_link_window, severity_levels, ticket_type_roles). Changing them
re-derives nothing: the views read the tables at query time. docs/workflow.md describes them.
"""

from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("critical", "high", "low")  # what severity_levels maps raw severities to
UNMAPPED_LEVEL = "unmapped"  # a NULL severity, or one no level lists

# Raw names, compared case-insensitively, after PagerDuty (P1..P5), Opsgenie (P1..P5), incident.io
# and Atlassian (SEV1..SEV5), Alertmanager's usual `severity` labels (critical, error, warning, info)
# and syslog-style words. P3 / SEV3 / medium sit in low: three levels, and critical and high are
# the ones a restore objective is usually set for.
DEFAULT_SEVERITY_LEVELS: dict[str, tuple[str, ...]] = {
    "critical": ("p0", "p1", "sev0", "sev1", "sev-0", "sev-1", "critical", "crit", "fatal", "emergency", "disaster"),
    "high": ("p2", "sev2", "sev-2", "high", "major", "error", "urgent"),
    "low": (
        *("p3", "p4", "p5", "sev3", "sev4", "sev5", "sev-3", "sev-4", "sev-5"),
        *("moderate", "medium", "low", "minor", "warning", "warn", "info", "informational", "notice", "trivial"),
    ),
}
DEFAULT_INCIDENT_LINK_WINDOW_HOURS = 24.0
DEFAULT_BUG_TYPES = ("bug", "defect")
HOTFIX_TYPE = "hotfix"  # rework_types defaults to the bug types and this


@dataclass(frozen=True)
class Stability:
    incident_link_window_hours: float = DEFAULT_INCIDENT_LINK_WINDOW_HOURS
    severity_levels: tuple[tuple[str, tuple[str, ...]], ...] = tuple(DEFAULT_SEVERITY_LEVELS.items())
    bug_types: tuple[str, ...] = DEFAULT_BUG_TYPES
    rework_types: tuple[str, ...] = (*DEFAULT_BUG_TYPES, HOTFIX_TYPE)

    def severity_rows(self) -> list[tuple[str, str]]:
        """(lower-cased raw severity, level) for every name the levels list."""
        return [(name.lower(), level) for level, names in self.severity_levels for name in names]

    def ticket_type_rows(self) -> list[tuple[str, str]]:
        """(lower-cased ticket type, role): role 'bug' for bug_types, 'rework' for rework_types."""
        rows = {(t.lower(), "bug") for t in self.bug_types} | {(t.lower(), "rework") for t in self.rework_types}
        return sorted(rows)

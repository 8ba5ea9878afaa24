"""Docs stay true to the code: every table and view is documented, every command in the README exists."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from flowmeter.cli import cli

ROOT = Path(__file__).resolve().parent.parent
METRICS = (ROOT / "docs" / "metrics.md").read_text()
README = (ROOT / "README.md").read_text()


def documented() -> set[str]:
    return set(re.findall(r"^### (\w+)$", METRICS, flags=re.M))


def test_every_table_is_documented():
    tables = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", (ROOT / "analytics/sql/tables.sql").read_text()))
    assert tables and tables <= documented(), tables - documented()


def test_every_view_is_documented_and_has_a_header():
    for path in sorted((ROOT / "analytics/sql/views").glob("*.sql")):
        text = path.read_text()
        views = re.findall(r"CREATE OR REPLACE VIEW (\w+)", text)
        assert views, path
        for view in views:
            assert view in documented(), f"{view} ({path.name}) is missing from docs/metrics.md"
        header = text.split("CREATE", 1)[0]
        for word in ("Definition", "Grain", "Unit"):
            assert word in header, f"{path.name}'s header lacks {word}"


def test_readme_commands_exist():
    used = set(re.findall(r"`flowmeter ([a-z]+)", README))
    assert {"up", "worker", "produce", "load"} <= used
    assert used <= set(cli.commands), used - set(cli.commands)


def test_every_setting_is_in_the_readme_table():
    from flowcore.settings import Settings

    rows = set(re.findall(r"^\| `(\w+)` \|", README, flags=re.M))
    assert set(Settings.model_fields) == rows


def test_readme_first_two_commands_are_the_demo_and_the_tests():
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert "flowmeter up --demo" in blocks[0]
    assert blocks[1].strip() == "bash scripts/test.sh"
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == "exec bash scripts/test.sh"


def test_the_test_command_runs_lint_and_type_checks_before_the_tests():
    lines = (ROOT / "scripts" / "test.sh").read_text().strip().splitlines()
    assert lines[-1].startswith("exec .venv/bin/python -m pytest")
    assert "bash scripts/check" in lines[:-1]
    check = (ROOT / "scripts" / "check").read_text()
    assert "ruff check ." in check and ".venv/bin/mypy" in check


def test_cli_help_renders():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "up" in result.output and "worker" in result.output

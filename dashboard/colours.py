"""Colours that mean something, the same on every page: ordered scales for the aging bands
(green = fine to red = worst, in their order, never alphabetical) and a board's states shaded
by category in workflow order. A scale is fixed by its domain, never by the rows a filter
leaves, so a band or state keeps its colour whatever is chosen. Pure: pages build the Altair
scale from these lists."""

from __future__ import annotations

from collections.abc import Sequence

NO_HISTORY = "no history"
NO_HISTORY_COLOUR = "#bdbdbd"

# Age since commitment against the board's cycle-time percentiles (aging_wip.band), best first.
AGE_BANDS = ("within p50", "p50-p85", "p85-p95", "beyond p95", NO_HISTORY)
AGE_BAND_COLOURS = ("#1a9850", "#a6d96a", "#fdae61", "#d73027", NO_HISTORY_COLOUR)

# Time in the current state against that state's p85 (aging_wip.state_band): what aging alerts judge.
STATE_BANDS = ("within state p85", "beyond state p85", NO_HISTORY)
STATE_BAND_COLOURS = ("#1a9850", "#d73027", NO_HISTORY_COLOUR)

# Incident severity levels ([dora] severity_levels, docs/metrics.md), most severe first.
SEVERITY_LEVELS = ("critical", "high", "low", "unmapped")
SEVERITY_COLOURS = ("#d73027", "#fc8d59", "#fee08b", NO_HISTORY_COLOUR)

# Shades per state category, light to dark: a board's n-th queue state takes the n-th shade of its category.
CATEGORY_SHADES = {
    "backlog": ("#d9d9d9", "#bdbdbd", "#969696"),
    # No near-white shade: a state's line on the WIP chart must stand out from the page.
    "active": ("#6baed6", "#4292c6", "#2171b5", "#08519c"),
    "queue": ("#fdae6b", "#fd8d3c", "#e6550d", "#a63603"),
    "done": ("#74c476", "#31a354", "#006d2c"),
    "unmapped": ("#d4b9da", "#c994c7", "#df65b0"),
}
CATEGORY_COLOURS = {category: shades[len(shades) // 2] for category, shades in CATEGORY_SHADES.items()}


def state_colours(categories: Sequence[str]) -> list[str]:
    """One colour per state, given the board's states' categories in workflow order: each
    category's own hue, its states in order from its lightest shade to its darkest."""
    totals = {c: sum(1 for x in categories if x == c) for c in set(categories)}
    seen: dict[str, int] = {}
    colours = []
    for category in categories:
        shades = CATEGORY_SHADES.get(category, CATEGORY_SHADES["unmapped"])
        n, i = totals[category], seen.get(category, 0)
        seen[category] = i + 1
        # Spread a category's states over its shades: one state takes the middle shade.
        step = (len(shades) - 1) / (n - 1) if n > 1 else 0
        colours.append(shades[round(i * step)] if n > 1 else shades[len(shades) // 2])
    return colours

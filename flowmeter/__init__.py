"""flowmeter: live Lean-flow and DORA analytics from ticket and deploy events.

This package is the thin layer that ties the others together: the CLI, the
settings and the embedded broker. The data path lives in ``sources`` ->
``streams`` -> ``analytics`` -> ``dashboard``.
"""

__version__ = "0.1.0"

"""flowmeter: the command people run, and the top floor of the project.

The CLI (``flowmeter.cli``, one module per group of commands), the supervisor behind
``flowmeter up`` and the Streamlit launch helpers. Nothing imports this package; it imports
the floors below it (docs/architecture.md).
"""

from flowcore import __version__

__all__ = ["__version__"]

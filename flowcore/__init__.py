"""flowcore: the ground floor every other package of flowmeter stands on.

Errors, settings, the workflow model and its file parser, the v1 event contract (parsing,
routing, dead-letter headers, batch types) and the runtime file that tells where a running
worker listens. It imports no other package of the project, so importing it never starts the
Faust worker, the dashboard or the CLI (docs/architecture.md).
"""

__version__ = "0.1.0"

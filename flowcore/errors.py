"""Every exception flowmeter raises on purpose derives from FlowmeterError.

The CLI turns a FlowmeterError into one sentence on stderr and a non-zero
exit; anything else is a bug and keeps its traceback.
"""


class FlowmeterError(Exception):
    """Base of all flowmeter errors; the message is meant for a person."""

    exit_code = 1  # what the CLI exits with


EX_TEMPFAIL = 75  # a temporary failure: a supervisor should start the process again later


class InvalidEvent(FlowmeterError):
    """An input event breaks the v1 contract; ``reason`` says how, in one sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SettingsError(FlowmeterError):
    """The settings file or environment holds a value flowmeter cannot use."""


class BrokerError(FlowmeterError):
    """The Kafka broker cannot be reached or started."""


class StoreLocked(FlowmeterError):
    """The DuckDB file is held by another process (normally a running worker)."""


class StoreError(FlowmeterError):
    """The DuckDB store cannot be opened or written."""


class StoreDamaged(StoreError):
    """The DuckDB file is corrupt: the way out is a rebuild from Kafka or a snapshot (docs/recovery.md)."""


class StoreFull(StoreError):
    """The disk holding the store is full: temporary, so the CLI exits 75 (EX_TEMPFAIL)."""

    exit_code = EX_TEMPFAIL

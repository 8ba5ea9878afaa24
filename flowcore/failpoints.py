"""Named fault-injection points for resilience tests (and for chaos drills in staging).

A spec string such as ``"store.commit=3+2"`` makes the 4th and 5th calls of the
failpoint ``store.commit`` fail (pass 3, then fail 2); ``"store.commit=3+"``
fails every call after the 3rd. Several specs are separated by ``;``. The
failing code raises the same exception type a real fault would, so the whole
recovery path runs exactly as it would in production. Empty spec = no faults.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flowcore.errors import SettingsError


@dataclass
class _Plan:
    passes: int
    failures: int | None  # None = fail forever
    calls: int = 0


class Failpoints:
    def __init__(self, spec: str = "") -> None:
        self._plans: dict[str, _Plan] = {}
        self._lock = threading.Lock()
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            name, sep, rule = part.partition("=")
            passes, plus, failures = rule.partition("+")
            if not sep or not plus or not passes.isdigit() or (failures and not failures.isdigit()):
                raise SettingsError(f"failpoint '{part}' is not NAME=PASSES+FAILURES, e.g. store.commit=3+2.")
            self._plans[name.strip()] = _Plan(int(passes), int(failures) if failures else None)

    def should_fail(self, name: str) -> bool:
        """Count one call of the failpoint and say whether this call must fail."""
        plan = self._plans.get(name)
        if plan is None:
            return False
        with self._lock:
            plan.calls += 1
            beyond = plan.calls - plan.passes
            return beyond > 0 and (plan.failures is None or beyond <= plan.failures)

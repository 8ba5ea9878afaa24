"""Who may reach a listening part: loopback is private, anything else needs a credential.

The worker, the webhook receiver and the dashboard each refuse to bind beyond loopback
without their credential (query token, webhook secret, dashboard password), unless the
user says so with ``allow_open_access`` (docs/security.md). Ground floor: imports nothing
of ours but the errors.
"""

from __future__ import annotations

import ipaddress

from flowcore.errors import FlowmeterError


class ExposedWithoutCredential(FlowmeterError):
    """A part would listen beyond loopback with nothing guarding it."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'; a name or a wildcard (0.0.0.0, ::) is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(part: str, host: str, guarded: bool, credential: str, allow_open: bool) -> None:
    """Refuse, in one sentence, to bind `part` on a non-loopback `host` when nothing guards it."""
    if guarded or allow_open or is_loopback(host):
        return
    raise ExposedWithoutCredential(
        f"the {part} would listen on {host}, beyond this machine, with nothing guarding it: anyone who reaches "
        f"it could use it. Set {credential}, bind 127.0.0.1, or set FLOWMETER_ALLOW_OPEN_ACCESS=true to accept "
        "that (docs/security.md)."
    )

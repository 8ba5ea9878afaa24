"""The demo's incidents: some caused by production deploys, some not, a few from Alertmanager.

``IncidentDesk`` is the on-call side of the simulated organisation in sources/demo.py. The
traffic tells it about every production deploy; it opens incidents and, where a deploy is to
blame, asks the traffic for the deploy that fixes them. Per service and week, about:

- 1.1 opened a few minutes after a failed or rolled-back production deploy (45% of those),
  fixed by the recovery deploy that follows it (``fixes`` = [the incident]);
- 0.6 from a defect a successful production deploy shipped, found 20 minutes to 6 hours later
  and fixed by a hotfix deploy;
- 1.0 that no deploy caused: capacity (a full disk, a pool running dry) or a third party.

Deploy-caused incidents name their deploy in ``caused_by`` (its event_id) when the on-call
engineer knows it; the others leave it out and are linked by the deploy-incident window
(docs/metrics.md). A defect found after a later deploy always names its culprit, since the
window would pick the wrong one. Severities P1..P4, acknowledged after minutes, resolved after
minutes to hours (P1 fastest); one in ten opens again after it was resolved.

The incidents of ``ALERTMANAGER_SERVICES`` (about a third) are raised by Prometheus Alertmanager instead: they
come out as webhook notifications (firing, then resolved; no acknowledgement, no caused_by),
which the demo posts to the receiver's /webhooks/alertmanager.

All decisions come from a ``Random`` of its own, so adding incidents left the tickets and
deploys of a seed as they were.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

MINUTE = 60.0
HOUR = 3_600.0
WEEK = 7 * 86_400.0

ENVIRONMENT = "production"
ALERTMANAGER_SERVICES = ("auth", "gateway")  # the platform team's services: it runs Prometheus

AFTER_FAILED_DEPLOY = 0.45  # share of failed or rolled-back production deploys that page someone
OPEN_AFTER_FAILURE = (2 * MINUTE, 12 * MINUTE)  # always before the recovery (15 min at the soonest)
DEFECT_SHARE = 0.04  # share of successful production deploys that ship a user-facing defect
DEFECT_FOUND_AFTER = (20 * MINUTE, 6 * HOUR)
INDEPENDENT_PER_WEEK = 1.0  # incidents per service and week that no deploy caused
NAMES_CULPRIT = 0.6  # share of deploy-caused incidents whose caused_by names the deploy
REOPEN = 0.1  # share of resolutions that turn out premature
REOPEN_AFTER = (15 * MINUTE, 3 * HOUR)
FIX_TAKES_EFFECT = (3 * MINUTE, 15 * MINUTE)  # from the fixing deploy to the incident's resolution

SEVERITIES = ("P1", "P2", "P3", "P4")
SEVERITY_WEIGHTS = {
    "failed-deploy": (0.25, 0.45, 0.30, 0.0),
    "defect": (0.0, 0.30, 0.50, 0.20),
    "independent": (0.10, 0.25, 0.40, 0.25),
}
ACK_MINUTES = {"P1": 4.0, "P2": 8.0, "P3": 20.0, "P4": 60.0}  # mean time to acknowledge
ACKNOWLEDGED = {"P1": 1.0, "P2": 1.0, "P3": 0.9, "P4": 0.7}  # low ones are sometimes never acked
RESTORE_HOURS = {"P1": 0.75, "P2": 2.0, "P3": 6.0, "P4": 16.0}  # mean time to restore, no deploy
FIX_HOURS = {"P1": 0.75, "P2": 1.5, "P3": 4.0, "P4": 8.0}  # mean time to a hotfix deploy

TITLES = {
    "failed-deploy": ("Error rate above 5% after deploy {version}", "Health checks failing after {version}"),
    "defect": ("Wrong responses since {version}", "Requests timing out since {version}", "Memory leak since {version}"),
    "capacity": ("Disk nearly full", "Connection pool exhausted", "Latency p99 above objective"),
    "third-party": ("Payment provider timing out", "DNS provider outage", "Cloud region degraded"),
}
ALERT_NAMES = {"failed-deploy": "HighErrorRate", "defect": "HighLatency", "capacity": "SaturationHigh"}


@dataclass
class _Incident:
    id: str
    service: str
    cause: str  # "failed-deploy" | "defect" | "capacity" | "third-party"
    severity: str
    title: str
    caused_by: str | None = None  # the ref of the deploy that caused it (sources/demo.py maps it to an id)
    fingerprint: str | None = None  # set when Alertmanager raises it
    opened_at: float = 0.0
    open: bool = False
    reopened: bool = False


Schedule = Callable[..., None]  # schedule(t, action, *args)
Emit = Callable[[str, dict[str, Any]], None]  # emit(kind, body) at the current sim time
Hotfix = Callable[[str, str], None]  # hotfix(service, incident_id): deploy a fix now


class IncidentDesk:
    """Opens, acknowledges, resolves and reopens the demo's incidents, in sim time."""

    def __init__(
        self,
        seed: int,
        start: float,
        services: list[str],
        clock: Callable[[], float],
        schedule: Schedule,
        emit: Emit,
        hotfix: Hotfix,
    ) -> None:
        self.seed = seed
        self.rng = Random(f"{seed}/incidents")  # a string seed is hashed the same way every run
        self._clock, self._schedule, self._emit, self._hotfix = clock, schedule, emit, hotfix
        self._numbers = itertools.count(1)
        self._awaiting_recovery: dict[str, _Incident] = {}  # service -> incident its recovery fixes
        self._last_production: dict[str, str] = {}  # service -> ref of its latest production deploy
        for service in services:
            self._schedule(start + self._exp(WEEK / INDEPENDENT_PER_WEEK), self._independent, service)

    # -- what the traffic tells the desk --------------------------------------------------------

    def production_deploy(self, service: str, ref: str, status: str, version: str) -> None:
        """A production deploy just finished; it may cause an incident."""
        self._last_production[service] = ref
        now = self._clock()
        if status != "success":
            if self.rng.random() < AFTER_FAILED_DEPLOY and service not in self._awaiting_recovery:
                incident = self._new(service, "failed-deploy", version, ref)
                self._awaiting_recovery[service] = incident
                self._schedule(now + self.rng.uniform(*OPEN_AFTER_FAILURE), self._open_caused, incident, ref)
        elif self.rng.random() < DEFECT_SHARE:
            incident = self._new(service, "defect", version, ref)
            self._schedule(now + self.rng.uniform(*DEFECT_FOUND_AFTER), self._open_caused, incident, ref)

    def recovered(self, service: str) -> list[str]:
        """The ids of incidents a recovery deploy of ``service`` (in production) fixes now."""
        incident = self._awaiting_recovery.pop(service, None)
        if incident is None or not incident.open:
            return []
        self._schedule(self._clock() + self.rng.uniform(*FIX_TAKES_EFFECT), self._resolve, incident)
        return [self._incident_id(incident)]

    # -- incidents ------------------------------------------------------------------------------

    def _exp(self, mean: float) -> float:
        return max(MINUTE, self.rng.expovariate(1.0 / mean))

    def _lognormal(self, mean: float, sigma: float = 0.7) -> float:
        return max(MINUTE, self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))

    def _new(self, service: str, cause: str, version: str = "", culprit: str | None = None) -> _Incident:
        weights = SEVERITY_WEIGHTS["independent" if cause in ("capacity", "third-party") else cause]
        severity = self.rng.choices(SEVERITIES, weights)[0]
        title = self.rng.choice(TITLES[cause]).format(version=version)
        incident = _Incident(f"INC-{next(self._numbers)}", service, cause, severity, title)
        if service in ALERTMANAGER_SERVICES:
            # Alertmanager's fingerprint hashes the alert's labels; each demo alert gets one of
            # its own, so two alerts are two incidents (docs/sources.md).
            incident.fingerprint = hashlib.sha256(f"{self.seed}/{incident.id}".encode()).hexdigest()[:16]
        elif culprit is not None and self.rng.random() < NAMES_CULPRIT:
            incident.caused_by = culprit
        return incident

    def _incident_id(self, incident: _Incident) -> str:
        return f"alertmanager:{incident.fingerprint}" if incident.fingerprint else incident.id

    def _independent(self, service: str) -> None:
        self._schedule(self._clock() + self._exp(WEEK / INDEPENDENT_PER_WEEK), self._independent, service)
        incident = self._new(service, self.rng.choice(("capacity", "third-party")))
        self._open(incident)
        self._schedule(
            self._clock() + self._lognormal(RESTORE_HOURS[incident.severity] * HOUR), self._resolve, incident
        )

    def _open_caused(self, incident: _Incident, culprit: str) -> None:
        if incident.fingerprint is None and self._last_production.get(incident.service) != culprit:
            # Another deploy went out since the culprit: the window would blame that one, so
            # whoever opens the incident names the deploy that broke it.
            incident.caused_by = culprit
        self._open(incident)
        if incident.cause == "defect":
            delay = self._lognormal(FIX_HOURS[incident.severity] * HOUR)
            self._schedule(self._clock() + delay, self._deploy_fix, incident)

    def _deploy_fix(self, incident: _Incident) -> None:
        self._hotfix(incident.service, self._incident_id(incident))
        self._schedule(self._clock() + self.rng.uniform(*FIX_TAKES_EFFECT), self._resolve, incident)

    def _open(self, incident: _Incident) -> None:
        incident.open, incident.opened_at = True, self._clock()
        self._send(incident, "opened")
        if incident.fingerprint is None and self.rng.random() < ACKNOWLEDGED[incident.severity]:
            delay = self._lognormal(ACK_MINUTES[incident.severity] * MINUTE)
            self._schedule(self._clock() + delay, self._acknowledge, incident, incident.opened_at)

    def _acknowledge(self, incident: _Incident, opened_at: float) -> None:
        if incident.open and incident.opened_at == opened_at:  # not resolved (or reopened) since
            self._send(incident, "acknowledged")

    def _resolve(self, incident: _Incident) -> None:
        if not incident.open:
            return
        incident.open = False
        self._send(incident, "resolved")
        if not incident.reopened and self.rng.random() < REOPEN:
            incident.reopened = True
            self._schedule(self._clock() + self.rng.uniform(*REOPEN_AFTER), self._reopen, incident)

    def _reopen(self, incident: _Incident) -> None:
        self._open(incident)
        delay = self._lognormal(RESTORE_HOURS[incident.severity] * HOUR / 2)
        self._schedule(self._clock() + delay, self._resolve, incident)

    def _send(self, incident: _Incident, status: str) -> None:
        if incident.fingerprint is not None:
            self._emit("alertmanager", self._alert(incident, status))
            return
        body: dict[str, Any] = {
            "incident_id": incident.id,
            "service": incident.service,
            "status": status,
            "environment": ENVIRONMENT,
            "severity": incident.severity,
            "title": incident.title,
        }
        if incident.caused_by is not None:
            body["caused_by"] = incident.caused_by  # a deploy ref: sources/demo.py makes it an event_id
        self._emit("incident", body)

    def _alert(self, incident: _Incident, status: str) -> dict[str, Any]:
        """One Alertmanager alert in sim time: starts (and ends, once resolved) are epoch seconds."""
        name = ALERT_NAMES.get(incident.cause, "UpstreamUnavailable")
        return {
            "status": "firing" if status == "opened" else "resolved",
            "labels": {
                "alertname": name,
                "service": incident.service,
                "env": ENVIRONMENT,
                "severity": incident.severity,
            },
            "annotations": {"summary": incident.title},
            "starts": incident.opened_at,
            "ends": None if status == "opened" else self._clock(),
            "fingerprint": incident.fingerprint,
        }

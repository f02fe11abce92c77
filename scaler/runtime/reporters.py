"""What the loop reports: metrics (the observability recorder's interface) and health (what
`scaler.runtime.http.Health` answers the probes from); each with a do-nothing stand-in for a
loop run without `/metrics` and probes.
"""

from __future__ import annotations

from typing import Protocol

from scaler.runtime.observability import NoopRecorder, Recorder

# One interface for the loop's metrics: the observability recorder's (the Prometheus one,
# or the no-op one when the loop runs without `/metrics`).
MetricsRecorder = Recorder
NullMetrics = NoopRecorder


class HealthReporter(Protocol):
    """What the loop tells the probes (`scaler.runtime.http.Health` has these methods): a
    heartbeat from every job run on leader and standby alike, whether
    policies are loaded and caches synced, and the replica's role."""

    def heartbeat(self) -> None: ...

    def set_policies_loaded(self, loaded: bool) -> None: ...

    def set_caches_synced(self, synced: bool) -> None: ...

    def set_role(self, role: str | None) -> None:
        """"leader", "standby", or None while the election has not answered yet."""
        ...


class NullHealth:
    def heartbeat(self) -> None:
        pass

    def set_policies_loaded(self, loaded: bool) -> None:
        pass

    def set_caches_synced(self, synced: bool) -> None:
        pass

    def set_role(self, role: str | None) -> None:
        pass

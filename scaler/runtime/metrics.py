"""What the loop reports for metrics: the subset of the observability recorder it calls.

The method names and signatures are those of `scaler.runtime.observability.Recorder` (the
Prometheus recorder, built on branch issue7h), so that recorder plugs in as it is; the loop
runs without one (`NullMetrics`).
"""

from __future__ import annotations

from typing import Protocol


class MetricsRecorder(Protocol):
    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def observe_scheduling(self, seconds: float, pods: int) -> None: ...

    def set_pending(self, pods: int) -> None: ...

    def set_nodepool_usage(self, nodepool: str, resource: str, value: float) -> None: ...

    def set_nodepool_cost(self, nodepool: str, capacity_type: str, per_hour: float) -> None: ...

    def record_cost(self, nodepool: str, capacity_type: str, dollars: float) -> None: ...

    def record_disruption_decision(self, reason: str, decision: str) -> None:
        """decision: delete | replace | blocked (and dry_run from the loop's dry-run)."""
        ...

    def set_policy_revision(self, revision: str) -> None: ...

    def set_policy_ready(self, ready: bool) -> None: ...

    def mark_price_refresh(self, at: float | None = None) -> None: ...

    def record_cloud_error(self, operation: str, error: str) -> None: ...

    def set_leader(self, leader: bool) -> None: ...


class NullMetrics:
    """Used when no recorder is given: every call does nothing."""

    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None:
        pass

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None:
        pass

    def observe_scheduling(self, seconds: float, pods: int) -> None:
        pass

    def set_pending(self, pods: int) -> None:
        pass

    def set_nodepool_usage(self, nodepool: str, resource: str, value: float) -> None:
        pass

    def set_nodepool_cost(self, nodepool: str, capacity_type: str, per_hour: float) -> None:
        pass

    def record_cost(self, nodepool: str, capacity_type: str, dollars: float) -> None:
        pass

    def record_disruption_decision(self, reason: str, decision: str) -> None:
        pass

    def set_policy_revision(self, revision: str) -> None:
        pass

    def set_policy_ready(self, ready: bool) -> None:
        pass

    def mark_price_refresh(self, at: float | None = None) -> None:
        pass

    def record_cloud_error(self, operation: str, error: str) -> None:
        pass

    def set_leader(self, leader: bool) -> None:
        pass


class HealthReporter(Protocol):
    """What the loop tells the probes (`scaler.runtime.http.Health` on branch issue7h has
    these methods): a heartbeat from every job run on leader and standby alike, whether
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

"""What the loop reports for metrics: a small interface the observability module implements.

The Prometheus implementation (names in Karpenter's spirit) lives in
`scaler.runtime.observability`; the loop only calls these methods, and runs without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class MetricsRecorder(Protocol):
    def node_created(self, node_pool: str, reason: str) -> None: ...

    def node_terminated(self, node_pool: str, reason: str) -> None: ...

    def scheduling_duration(self, seconds: float) -> None: ...

    def pending_pods(self, count: int) -> None: ...

    def node_pool_usage(self, node_pool: str, resources: Mapping[str, float]) -> None: ...

    def node_pool_cost_per_hour(self, node_pool: str, dollars: float) -> None: ...

    def consolidation_decision(self, reason: str, outcome: str) -> None:
        """outcome: performed | blocked | dry_run."""
        ...

    def policy_revision(self, revision: str, ready: bool) -> None: ...

    def price_refreshed(self, at: float) -> None:
        """When prices were last refreshed (seconds since the epoch): the age is derived."""
        ...

    def cloud_api_error(self, operation: str) -> None: ...

    def leader(self, leading: bool) -> None: ...


class NullMetrics:
    """Used when no recorder is given: every call does nothing."""

    def node_created(self, node_pool: str, reason: str) -> None:
        pass

    def node_terminated(self, node_pool: str, reason: str) -> None:
        pass

    def scheduling_duration(self, seconds: float) -> None:
        pass

    def pending_pods(self, count: int) -> None:
        pass

    def node_pool_usage(self, node_pool: str, resources: Mapping[str, float]) -> None:
        pass

    def node_pool_cost_per_hour(self, node_pool: str, dollars: float) -> None:
        pass

    def consolidation_decision(self, reason: str, outcome: str) -> None:
        pass

    def policy_revision(self, revision: str, ready: bool) -> None:
        pass

    def price_refreshed(self, at: float) -> None:
        pass

    def cloud_api_error(self, operation: str) -> None:
        pass

    def leader(self, leading: bool) -> None:
        pass

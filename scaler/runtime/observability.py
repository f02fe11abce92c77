"""The controller's Prometheus metrics: one registry per process and the recorder the control
loop calls.

Names follow Karpenter's where the idea is the same (`karpenter_nodes_created_total`,
`karpenter_provisioner_scheduling_duration_seconds`, `karpenter_nodepools_usage`,
`karpenter_voluntary_disruption_decisions_total`, `karpenter_cloudprovider_errors_total`), with
the `scaler_` prefix, so a Karpenter user's dashboards and alerts translate one to one:

    scaler_build_info{version}                                   always 1
    scaler_nodes_created_total{nodepool,reason}                  provisioning, consolidation,
                                                                 drift, interruption, ...
    scaler_nodes_terminated_total{nodepool,reason}               empty, underutilized, drifted,
                                                                 expired, interrupted, ...
    scaler_scheduler_scheduling_duration_seconds                 histogram, one per batch
    scaler_scheduler_batch_size                                  histogram, pods per batch
    scaler_pods_pending                                          pods waiting for capacity
    scaler_nodepool_usage{nodepool,resource}                     cpu (cores), memory (bytes),
                                                                 pods, nodes
    scaler_nodepool_limit{nodepool,resource}                     the NodePool's limits
    scaler_nodepool_cost_per_hour{nodepool,capacity_type}        USD per hour of the nodes now
    scaler_cost_accrued_dollars_total{nodepool,capacity_type}    USD spent since start
    scaler_disruption_decisions_total{reason,decision}           reason: empty, underutilized,
                                                                 drifted, expired; decision:
                                                                 delete, replace, blocked
    scaler_policy_revision_info{revision}                        1 for the revision in force
    scaler_policy_ready                                          1 once a good bundle is in force
    scaler_price_refresh_age_seconds                             seconds since prices last
                                                                 refreshed (computed at scrape)
    scaler_cloudprovider_errors_total{operation,error}           cloud API errors by call, code
    scaler_cloudprovider_duration_seconds{operation}             histogram of cloud API calls
    scaler_leader_election_is_leader                             1 on the replica that acts

plus the policy source's series (`scaler_policy_condition`, `scaler_policy_reconcile_total`,
...; see scaler/gitops/metrics.py) when a state store is attached, and the client library's
`process_*` and `python_*` series. Counters carry no `_created` samples (Karpenter has none
either and they double the series count).

The control loop talks to a `Recorder`: `PrometheusRecorder` in the process, `NoopRecorder`
in tests and one-shot commands that should not keep a registry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from scaler.gitops.status import StateStore

# Counters with `_created` series double what Prometheus stores for no question a user asks.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = CONTENT_TYPE_LATEST
SCHEDULING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
CLOUD_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Recorder(Protocol):
    """What the control loop reports. Every method is cheap and never raises."""

    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def observe_scheduling(self, seconds: float, pods: int) -> None: ...

    def set_pending(self, pods: int) -> None: ...

    def set_nodepool_usage(self, nodepool: str, resource: str, value: float) -> None: ...

    def set_nodepool_limit(self, nodepool: str, resource: str, value: float) -> None: ...

    def set_nodepool_cost(self, nodepool: str, capacity_type: str, per_hour: float) -> None: ...

    def record_cost(self, nodepool: str, capacity_type: str, dollars: float) -> None: ...

    def forget_nodepool(self, nodepool: str) -> None: ...

    def record_disruption_decision(self, reason: str, decision: str) -> None: ...

    def set_policy_revision(self, revision: str) -> None: ...

    def set_policy_ready(self, ready: bool) -> None: ...

    def mark_price_refresh(self, at: float | None = None) -> None: ...

    def record_cloud_error(self, operation: str, error: str) -> None: ...

    def observe_cloud_call(self, operation: str, seconds: float) -> None: ...

    def set_leader(self, leader: bool) -> None: ...


class NoopRecorder:
    """A recorder that records nothing (one-shot commands, tests that do not look)."""

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

    def set_nodepool_limit(self, nodepool: str, resource: str, value: float) -> None:
        pass

    def set_nodepool_cost(self, nodepool: str, capacity_type: str, per_hour: float) -> None:
        pass

    def record_cost(self, nodepool: str, capacity_type: str, dollars: float) -> None:
        pass

    def forget_nodepool(self, nodepool: str) -> None:
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

    def observe_cloud_call(self, operation: str, seconds: float) -> None:
        pass

    def set_leader(self, leader: bool) -> None:
        pass


class PrometheusRecorder:
    """Every scaler series on its own registry (not the client library's global one, so tests
    and two recorders in one process never collide)."""

    def __init__(
        self,
        *,
        version: str = "",
        clock: Callable[[], float] = time.time,
        process_metrics: bool = True,
    ) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._started = clock()
        self._last_price_refresh: float | None = None
        r = self.registry
        if process_metrics:
            prometheus_client.ProcessCollector(registry=r)
            prometheus_client.PlatformCollector(registry=r)
            prometheus_client.GCCollector(registry=r)
        Gauge("scaler_build_info", "scaler's version; always 1.", ["version"], registry=r).labels(
            version or _version()
        ).set(1)
        self._register_provisioning(r)
        self._register_nodepools(r)
        self._register_policy(r)
        self._register_cloud(r)

    def _register_provisioning(self, r: CollectorRegistry) -> None:
        """Launches, terminations and the scheduling batches."""
        self.nodes_created = Counter(
            "scaler_nodes_created",
            "Nodes launched, by NodePool and the reason for the launch.",
            ["nodepool", "reason"],
            registry=r,
        )
        self.nodes_terminated = Counter(
            "scaler_nodes_terminated",
            "Nodes terminated, by NodePool and the reason for the termination.",
            ["nodepool", "reason"],
            registry=r,
        )
        self.scheduling_duration = Histogram(
            "scaler_scheduler_scheduling_duration_seconds",
            "Time to simulate scheduling one batch of pending pods and choose capacity.",
            buckets=SCHEDULING_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "scaler_scheduler_batch_size",
            "Pending pods in one scheduling batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.pods_pending = Gauge(
            "scaler_pods_pending",
            "Pods the scheduler could not place, waiting for capacity.",
            registry=r,
        )

    def _register_nodepools(self, r: CollectorRegistry) -> None:
        """Each NodePool's usage, limits and cost, and the disruption decisions."""
        self.nodepool_usage = Gauge(
            "scaler_nodepool_usage",
            "Resources of the NodePool's nodes (cpu in cores, memory in bytes, pods, nodes).",
            ["nodepool", "resource"],
            registry=r,
        )
        self.nodepool_limit = Gauge(
            "scaler_nodepool_limit",
            "The NodePool's limits, in the units of scaler_nodepool_usage.",
            ["nodepool", "resource"],
            registry=r,
        )
        self.nodepool_cost = Gauge(
            "scaler_nodepool_cost_per_hour",
            "USD per hour of the NodePool's nodes at current prices, by capacity type.",
            ["nodepool", "capacity_type"],
            registry=r,
        )
        self.cost_accrued = Counter(
            "scaler_cost_accrued_dollars",
            "USD accrued by the NodePool's nodes since this process started.",
            ["nodepool", "capacity_type"],
            registry=r,
        )
        self.disruption_decisions = Counter(
            "scaler_disruption_decisions",
            "Disruption decisions, by reason and decision (delete, replace, blocked).",
            ["reason", "decision"],
            registry=r,
        )

    def _register_policy(self, r: CollectorRegistry) -> None:
        """The policy revision in force and the age of the prices."""
        self.policy_revision = Gauge(
            "scaler_policy_revision_info",
            "1 for the policy revision in force (only the current one is exported).",
            ["revision"],
            registry=r,
        )
        self.policy_ready = Gauge(
            "scaler_policy_ready",
            "1 once a validated policy bundle is in force.",
            registry=r,
        )
        price_age = Gauge(
            "scaler_price_refresh_age_seconds",
            "Seconds since prices were last refreshed (since start if they never were).",
            registry=r,
        )
        price_age.set_function(self._price_age)

    def _register_cloud(self, r: CollectorRegistry) -> None:
        """The cloud provider's API calls and leadership."""
        self.cloud_errors = Counter(
            "scaler_cloudprovider_errors",
            "Errors from the cloud provider's API, by operation and error code.",
            ["operation", "error"],
            registry=r,
        )
        self.cloud_duration = Histogram(
            "scaler_cloudprovider_duration_seconds",
            "Duration of cloud provider API calls, by operation.",
            ["operation"],
            buckets=CLOUD_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "scaler_leader_election_is_leader",
            "1 on the replica that holds the Lease and acts; 0 on a standby.",
            registry=r,
        )

    # -- the Recorder protocol ---------------------------------------------------------------

    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None:
        self.nodes_created.labels(nodepool, reason).inc(count)

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None:
        self.nodes_terminated.labels(nodepool, reason).inc(count)

    def observe_scheduling(self, seconds: float, pods: int) -> None:
        self.scheduling_duration.observe(seconds)
        self.batch_size.observe(pods)

    def set_pending(self, pods: int) -> None:
        self.pods_pending.set(pods)

    def set_nodepool_usage(self, nodepool: str, resource: str, value: float) -> None:
        self.nodepool_usage.labels(nodepool, resource).set(value)

    def set_nodepool_limit(self, nodepool: str, resource: str, value: float) -> None:
        self.nodepool_limit.labels(nodepool, resource).set(value)

    def set_nodepool_cost(self, nodepool: str, capacity_type: str, per_hour: float) -> None:
        self.nodepool_cost.labels(nodepool, capacity_type).set(per_hour)

    def record_cost(self, nodepool: str, capacity_type: str, dollars: float) -> None:
        if dollars > 0:
            self.cost_accrued.labels(nodepool, capacity_type).inc(dollars)

    def forget_nodepool(self, nodepool: str) -> None:
        """Drop the gauges of a NodePool that was deleted, so no stale series lingers."""
        for gauge in (self.nodepool_usage, self.nodepool_limit, self.nodepool_cost):
            for labels in _label_sets(gauge):
                if labels[0] == nodepool:
                    gauge.remove(*labels)

    def record_disruption_decision(self, reason: str, decision: str) -> None:
        self.disruption_decisions.labels(reason, decision).inc()

    def set_policy_revision(self, revision: str) -> None:
        self.policy_revision.clear()  # an info series per revision ever seen would only grow
        self.policy_revision.labels(revision).set(1)

    def set_policy_ready(self, ready: bool) -> None:
        self.policy_ready.set(1 if ready else 0)

    def mark_price_refresh(self, at: float | None = None) -> None:
        self._last_price_refresh = self._clock() if at is None else at

    def record_cloud_error(self, operation: str, error: str) -> None:
        self.cloud_errors.labels(operation, error).inc()

    def observe_cloud_call(self, operation: str, seconds: float) -> None:
        self.cloud_duration.labels(operation).observe(seconds)

    def set_leader(self, leader: bool) -> None:
        self.leader.set(1 if leader else 0)

    # -- helpers -------------------------------------------------------------------------------

    @contextmanager
    def time_scheduling(self, pods: int) -> Iterator[None]:
        """Observe the duration of the `with` body as one scheduling batch of `pods` pods."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe_scheduling(time.perf_counter() - start, pods)

    def attach_policy_source(self, store: StateStore) -> None:
        """Also export the policy source's own series, read from its state store at scrape
        time (the same series `scaler policies status -o prometheus` prints)."""
        from scaler.gitops.metrics import PolicySourceCollector

        self.registry.register(PolicySourceCollector(store))

    def exposition(self) -> bytes:
        """The text a `/metrics` endpoint serves (Prometheus text format 0.0.4)."""
        return generate_latest(self.registry)

    def _price_age(self) -> float:
        last = self._last_price_refresh
        age = self._clock() - (self._started if last is None else last)
        return max(0.0, age) if math.isfinite(age) else 0.0


def _label_sets(metric: Gauge) -> list[tuple[str, ...]]:
    # prometheus_client keeps no public list of a metric's children; collect() reads them.
    out: list[tuple[str, ...]] = []
    names = list(metric._labelnames)
    for family in metric.collect():
        for sample in family.samples:
            out.append(tuple(sample.labels[n] for n in names))
    return out


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scaler")
    except PackageNotFoundError:
        return "unknown"

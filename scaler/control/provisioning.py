"""The provisioning step: decide with the core, then create each node claim, launch it through
the cloud port, record what launched, and send its pods there.

`scaler run` calls it every provisioning pass (behind its fence, reporting to its metrics);
`scaler simulate`, the timeline and the reports call it on the simulated adapters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pricing import InstanceType
from pricing.allocatable import with_node_settings
from scaler.core.model import Node, NodePool, Pod, Snapshot
from scaler.core.overlays import Overlay, apply_overlays
from scaler.core.provisioning import (
    NodeClaimSpec,
    ProvisioningDecision,
    decide_provisioning,
    launched_node,
    node_labels,
)
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.pool_fit import IdlePool, pool_table
from scaler.ports.cloud import (
    CloudError,
    CloudNode,
    CloudProvider,
    InsufficientCapacityError,
    NodeClaimRequest,
)
from scaler.ports.cluster import LABEL_REPLACES, ClaimView, ManagedCluster, ObjectRef
from scaler.ports.fence import Fence

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"


class Reporter(Protocol):
    """What the steps report (the runtime's metrics recorder is one)."""

    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def record_cloud_error(self, operation: str, error: str) -> None: ...

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None: ...

    def record_disruption_decision(self, reason: str, decision: str) -> None: ...


class NullReporter:
    def record_launch(self, nodepool: str, reason: str, count: int = 1) -> None:
        pass

    def record_cloud_error(self, operation: str, error: str) -> None:
        pass

    def record_termination(self, nodepool: str, reason: str, count: int = 1) -> None:
        pass

    def record_disruption_decision(self, reason: str, decision: str) -> None:
        pass


@dataclass(frozen=True)
class Decision:
    """One action taken on the cluster, in order: what the two paths are compared by."""

    at: float
    action: str  # launch | cordon | drain | delete
    target: str  # claim (launch) or node


@dataclass(frozen=True)
class Launched:
    spec: NodeClaimSpec
    cloud_node: CloudNode
    node: Node  # what it becomes once registered


@dataclass
class ProvisioningOutcome:
    decision: ProvisioningDecision
    launched: list[Launched] = field(default_factory=list)
    failed: list[tuple[NodeClaimSpec, CloudError]] = field(default_factory=list)
    dry_run: list[NodeClaimSpec] = field(default_factory=list)


class Provisioner:
    """Launches node claims through the ports; every mutating call passes the fence."""

    def __init__(self, cluster: ManagedCluster, cloud: CloudProvider, fence: Fence,
                 region: str, reporter: Reporter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.cluster = cluster
        self.cloud = cloud
        self.fence = fence
        self.region = region
        self.reporter: Reporter = reporter or NullReporter()
        self.clock = clock
        # What this step and the disruption executor did, in order.
        self.decisions: list[Decision] = []
        # The bundle's NodeOverlays (the controller sets them from the policies in force).
        self.overlays: Sequence[Overlay] = ()

    def decide(self, action: str, target: str, at: float | None = None) -> None:
        """Record (and log) one action taken on the cluster."""
        self.decisions.append(Decision(self.clock() if at is None else at, action, target))
        log.info("decision: %s %s", action, target)

    def catalog(self, pools: Sequence[NodePool]) -> tuple[
            InstanceTypeTable, dict[str, dict[str, InstanceType]], tuple[NodePool, ...]]:
        """The scheduler's table (NodeOverlays applied; each pool's types as its EC2NodeClass
        makes them), each pool's types by name, and the pools pinned to their rows."""
        types = {p.name: list(apply_overlays(self.cloud.instance_types(p), self.overlays))
                 for p in pools}
        table, pinned = pool_table(pools, lambda p: types[p.name])
        by_pool = {p.name: p for p in pools}
        catalogs = {name: {it.name: with_node_settings(it, by_pool[name].node_settings)
                           for it in ts} for name, ts in types.items()}
        return table, catalogs, pinned

    def provision(self, pools: Sequence[NodePool], snapshot: Snapshot, pending: Sequence[Pod],
                  claim_prefix: str, purpose: str = "provisioning",
                  bind: bool = True, idle: Sequence[IdlePool] = ()) -> ProvisioningOutcome:
        """One pass: pods that fit on existing nodes are sent there, the rest get claims."""
        table, catalogs, pinned = self.catalog(pools)
        decision = decide_provisioning(
            table, pinned, snapshot.nodes,
            snapshot.bound_pods, snapshot.daemonsets, pending,
            self.region or "the cloud's region", claim_prefix=claim_prefix, idle=idle)
        outcome = ProvisioningOutcome(decision)
        if bind:
            for node_name, pods in decision.existing.items():
                for pod in pods:
                    self.cluster.bind(pod.key, node_name)
            for pod, reason in decision.unschedulable:
                self.cluster.event(ObjectRef.pod(pod.key), WARNING, "FailedScheduling",
                                   f"Failed to schedule pod, {reason}")
        for spec in decision.claims:
            try:
                launched = self.launch(spec, catalogs.get(spec.node_pool, {}), purpose)
            except CloudError as e:
                outcome.failed.append((spec, e))
                continue
            if launched is None:
                outcome.dry_run.append(spec)
                continue
            outcome.launched.append(launched)
            if bind:
                for pod in spec.pods:
                    self.cluster.bind(pod.key, spec.name)
        return outcome

    def launch(self, spec: NodeClaimSpec, catalog: Mapping[str, InstanceType],
               purpose: str = "provisioning", replaces: str = "") -> Launched | None:
        """Create the claim, launch it, record the launch. None: a dry run. A cloud error is
        reported (events, metrics), the claim deleted, and the error raised. `replaces`: the
        claim a disruption replacement stands in for, kept on the claim (LABEL_REPLACES) so
        that a new leader can finish the disruption."""
        first = spec.options[0] if spec.options else None
        what = (f"launch node claim {spec.name} for {len(spec.pods)} pods "
                f"({first.instance_type} {first.capacity_type} in {first.zone} "
                f"at ${first.price:.4f}/h first)" if first else f"launch {spec.name}")
        if not self.fence.allow(what):
            if purpose == "provisioning":
                for pod in spec.pods:
                    self.cluster.event(ObjectRef.pod(pod.key), NORMAL, "Nominated",
                                       f"dry run: pod would schedule on nodeclaim/{spec.name}")
            return None
        self.cluster.create_claim(spec.name, spec.node_pool, spec.requirements, spec.taints,
                                  spec.requests, {**spec.labels, LABEL_REPLACES: replaces}
                                  if replaces else spec.labels, spec.annotations)
        request = NodeClaimRequest(spec.name, spec.node_pool, spec.requirements, spec.options,
                                   spec.labels, spec.taints)
        ref = ObjectRef.nodeclaim(spec.name)
        try:
            self.fence.allow(f"create instance for node claim {spec.name}")
            cloud_node = self.cloud.create(request)
        except CloudError as e:
            reason = ("InsufficientCapacityError" if isinstance(e, InsufficientCapacityError)
                      else "LaunchFailed")
            self.reporter.record_cloud_error("create", type(e).__name__)
            self.cluster.event(ref, WARNING, reason, str(e))
            for pod in spec.pods:
                self.cluster.event(ObjectRef.pod(pod.key), WARNING, "FailedScheduling",
                                   f"launching nodeclaim/{spec.name} failed: {e}")
            self.cluster.delete_claim(spec.name)
            raise
        node = launched_node(spec, catalog.get(cloud_node.instance_type), cloud_node.zone,
                             cloud_node.capacity_type, self.region)
        self.cluster.claim_launched(spec.name, cloud_node, node.labels, node.allocatable)
        self.decide("launch", spec.name)
        self.reporter.record_launch(spec.node_pool, purpose)
        self.cluster.event(ref, NORMAL, "Launched",
                           f"Launched {cloud_node.instance_type} ({cloud_node.capacity_type}) "
                           f"in {cloud_node.zone} as {cloud_node.provider_id} at "
                           f"${cloud_node.price_per_hour:.4f}/h")
        return Launched(spec, cloud_node, node)

    def finish_launches(self, pools: Sequence[NodePool], now: float,
                        max_age: float) -> tuple[list[str], list[str]]:
        """Claims whose launch was never recorded: (adopted, dropped).

        One whose instance exists (the status write failed, or the process died right after
        CreateFleet) adopts it, found by the claim tag: otherwise its pods, still pending,
        would get a second one. One with no instance was never launched (a failed write, a
        crash before CreateFleet): it goes once older than `max_age` (the nomination TTL),
        so its pods are provisioned again; an instance a previous leader was still launching
        for it is then the garbage collector's."""
        open_claims = [c for c in self.cluster.claims() if not c.launched and not c.deleting]
        if not open_claims:
            return [], []
        by_claim = {n.claim_name: n for n in self.cloud.list() if n.claim_name}
        by_pool = {p.name: p for p in pools}
        catalogs: dict[str, dict[str, InstanceType]] = {}
        adopted: list[str] = []
        dropped: list[str] = []
        for claim in open_claims:
            cloud_node = by_claim.get(claim.name)
            pool = by_pool.get(claim.node_pool)
            if cloud_node is None:
                if now - claim.created_at > max_age and \
                        self.fence.allow(f"drop node claim {claim.name}: never launched"):
                    self.cluster.delete_claim(claim.name)
                    dropped.append(claim.name)
                continue
            if pool is None:
                continue  # its NodePool is gone: the claim times out as launch_ttl says
            if not self.fence.allow(f"adopt {cloud_node.provider_id} for node claim "
                                    f"{claim.name}"):
                continue
            if pool.name not in catalogs:
                catalogs[pool.name] = self.catalog([pool])[1][pool.name]
            it = catalogs[pool.name].get(cloud_node.instance_type)
            labels = node_labels(claim.name, pool.name, pool.labels, it, cloud_node.zone,
                                 cloud_node.capacity_type, self.region)
            self.cluster.claim_launched(claim.name, cloud_node, labels,
                                        Resources(dict(it.allocatable)) if it else Resources({}))
            adopted.append(claim.name)
            self.cluster.event(ObjectRef.nodeclaim(claim.name), NORMAL, "Launched",
                               f"Adopted {cloud_node.provider_id} ({cloud_node.instance_type}, "
                               f"{cloud_node.capacity_type} in {cloud_node.zone}), launched "
                               f"earlier")
        return adopted, dropped


def register_ready(cluster: ManagedCluster) -> list[ClaimView]:
    """Record on each launched claim the node that joined for it, and whether it is Ready
    (Initialized); the claims whose state changed. The live loop's lifecycle pass does this
    with its events and timeouts; the simulations call it as is."""
    changed = []
    for claim in cluster.claims():
        if not claim.launched or claim.initialized or claim.deleting or not claim.provider_id:
            continue
        found = cluster.node_for_provider_id(claim.provider_id)
        if found is None or (claim.registered and not found[1]):
            continue
        cluster.claim_registered(claim.name, found[0], found[1])
        changed.append(claim)
    return changed

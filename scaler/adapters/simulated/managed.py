"""The cluster the control loop drives, simulated: node claims, events, taints, drains.

`scaler run --simulate` and the simulations (`scaler simulate`, its timeline, the reports)
run the loop's provisioning step and disruption executor on it. It plays the kubelet and
kube-scheduler: a launched claim's node joins at once and is Ready `launch_delay` seconds
later by `clock`; a pod sent to a node is bound there. Events are log lines (and kept).
With `adopt`, the snapshot's nodes that a NodePool manages get claims, as if the loop had
launched them (the simulations may disrupt them; `scaler run` leaves others' nodes alone).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from scaler.adapters.simulated.cluster import SimulatedCluster
from scaler.core.model import ANNOTATION_DO_NOT_DISRUPT, Node, Snapshot, Taint
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.ports.cloud import CloudNode
from scaler.ports.cluster import LABEL_REPLACES, ClaimView, ClusterError, DrainResult, ObjectRef

log = logging.getLogger("scaler.simulation")


class SimulatedManagedCluster:
    def __init__(self, snapshot: Snapshot | SimulatedCluster, *,
                 clock: Callable[[], float] = time.time, launch_delay: float = 0.0,
                 adopt: Callable[[Node], float | None] | None = None,
                 keep_events: bool = True) -> None:
        """`adopt`: gives the price per hour of a snapshot node to claim (None: not one)."""
        self.inner = snapshot if isinstance(snapshot, SimulatedCluster) else (
            SimulatedCluster(snapshot))
        self.clock = clock
        self.launch_delay = launch_delay
        self.keep_events = keep_events
        self._claims: dict[str, ClaimView] = {}
        self._taints: dict[str, tuple[Taint, ...]] = {}
        self._annotations: dict[str, dict[str, str]] = {}  # claim -> its NodePool's
        self._provider_nodes: dict[str, str] = {}
        self._ready_at: dict[str, float] = {}
        self.events: list[tuple[ObjectRef, str, str, str]] = []
        # NodePool name -> condition type -> condition (what the live adapter writes to status)
        self.pool_conditions: dict[str, dict[str, Mapping[str, str]]] = {}
        for node in self.inner.snapshot().nodes:
            price = adopt(node) if adopt is not None and node.node_pool else None
            if price is None:
                continue
            pid = f"snapshot:///{node.name}"
            self._provider_nodes[pid] = node.name
            self._claims[node.name] = ClaimView(
                node.name, node.node_pool or "", node.created or 0.0, pid, node.name,
                node.instance_type or "", node.zone or "", node.capacity_type, price,
                launched=True, registered=True, initialized=True)

    def snapshot(self) -> Snapshot:
        return self.inner.snapshot()

    def add_node(self, node: Node) -> None:
        self.inner.add_node(node)

    def bind(self, pod_key: str, node_name: str) -> None:
        self.event(ObjectRef.pod(pod_key), "Normal", "Nominated",
                   f"Pod should schedule on: nodeclaim/{node_name}")
        try:
            self.inner.bind(pod_key, node_name)
        except ClusterError:
            pass

    def cordon(self, node_name: str) -> None:
        self.inner.cordon(node_name)

    def evict(self, pod_key: str) -> None:
        self.inner.evict(pod_key)

    def delete_node(self, node_name: str) -> None:
        """A node already gone is not an error, as with the live adapter (the API server's
        404): a retried interruption deletes it again."""
        try:
            self.inner.delete_node(node_name)
        except ClusterError:
            pass  # not found
        for pid, name in list(self._provider_nodes.items()):
            if name == node_name:
                del self._provider_nodes[pid]

    def event(self, ref: ObjectRef, type_: str, reason: str, message: str) -> None:
        if self.keep_events:
            self.events.append((ref, type_, reason, message))
            log.info("event %s %s %s: %s", ref, type_, reason, message)

    def claims(self) -> Sequence[ClaimView]:
        return list(self._claims.values())

    def create_claim(self, name: str, node_pool: str, requirements: Requirements,
                     taints: Sequence[Taint], requests: Resources,
                     labels: Mapping[str, str],
                     annotations: Mapping[str, str] | None = None) -> None:
        self._claims[name] = ClaimView(name, node_pool, self.clock(),
                                       replaces=labels.get(LABEL_REPLACES, ""))
        self._taints[name] = tuple(taints)
        self._annotations[name] = dict(annotations or {})

    def claim_launched(self, name: str, node: CloudNode, labels: Mapping[str, str],
                       allocatable: Resources) -> None:
        claim = self._claims[name]
        now = self.clock()
        annotations = self._annotations.pop(name, {})
        self.inner.add_node(Node(name=name, labels=dict(labels), allocatable=allocatable,
                                 taints=self._taints.pop(name, ()), source="simulation",
                                 created=now, annotations=annotations,
                                 do_not_disrupt=annotations.get(ANNOTATION_DO_NOT_DISRUPT)
                                 == "true"))
        self._provider_nodes[node.provider_id] = name
        self._ready_at[name] = now + self.launch_delay
        self._claims[name] = dataclasses.replace(
            claim, provider_id=node.provider_id, instance_type=node.instance_type,
            zone=node.zone, capacity_type=node.capacity_type,
            price_per_hour=node.price_per_hour, launched=True)

    def claim_registered(self, name: str, node_name: str, initialized: bool) -> None:
        self._claims[name] = dataclasses.replace(
            self._claims[name], node_name=node_name, registered=True, initialized=initialized)

    def claim_drifted(self, name: str, reason: str | None) -> None:
        if name in self._claims:
            self._claims[name] = dataclasses.replace(self._claims[name],
                                                     drifted=reason is not None)

    def delete_claim(self, name: str) -> None:
        self._claims.pop(name, None)
        self._taints.pop(name, None)
        self._annotations.pop(name, None)

    def ready(self, node_name: str) -> bool:
        return self._ready_at.get(node_name, float("-inf")) <= self.clock()

    def node_for_provider_id(self, provider_id: str) -> tuple[str, bool] | None:
        name = self._provider_nodes.get(provider_id)
        return (name, self.ready(name)) if name else None

    def taint(self, node_name: str, taint: Taint) -> None:
        self._set_taints(node_name, lambda ts: (*[t for t in ts if t.key != taint.key], taint))

    def untaint(self, node_name: str, key: str) -> None:
        self._set_taints(node_name, lambda ts: tuple(t for t in ts if t.key != key))

    def _set_taints(self, node_name: str,
                    change: Callable[[tuple[Taint, ...]], tuple[Taint, ...]]) -> None:
        node = next((n for n in self.inner.snapshot().nodes if n.name == node_name), None)
        if node is not None:
            self.inner.replace_node(dataclasses.replace(node, taints=change(node.taints)))

    def node_pool_condition(self, name: str, condition: Mapping[str, str]) -> None:
        self.pool_conditions.setdefault(name, {})[condition["type"]] = dict(condition)

    def delete_pod(self, pod_key: str) -> None:
        self.inner.evict(pod_key)  # the simulation has no budgets: deleting is evicting

    def drain(self, node_name: str, timeout: float) -> DrainResult:
        """Evicts every pod but DaemonSet pods; a `karpenter.sh/do-not-disrupt` pod stays
        and holds the drain, as in Karpenter (the simulation has no budgets to refuse)."""
        evicted = []
        blocked = {}
        for pod in self.inner.snapshot().pods:
            if pod.node_name != node_name or pod.is_daemonset_pod:
                continue
            if pod.do_not_disrupt:
                blocked[pod.key] = f"pod {pod.key} has {ANNOTATION_DO_NOT_DISRUPT}"
                continue
            self.inner.evict(pod.key)
            evicted.append(pod.key)
        return DrainResult(tuple(evicted), blocked)

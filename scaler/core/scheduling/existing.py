"""Nodes already in the cluster, which own their admission (Karpenter's ExistingNode)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scaler.core.model import HostPort, Node, NodeSelectorTerm, Pod
from scaler.core.resources import Resources
from scaler.core.scheduling.capacity import ONE_POD
from scaler.core.scheduling.claim import (
    CORDONED,
    HOST_PORT,
    NO_ROOM,
    SELECTOR,
    TAINT,
    TOPOLOGY,
    Refused,
    port_clash,
)
from scaler.core.scheduling.predicates import untolerated
from scaler.core.scheduling.preferences import Attempt
from scaler.core.scheduling.topology import Target, Topology


@dataclass
class ExistingNode:
    node: Node
    free: Resources
    pods: list[Pod] = field(default_factory=list)
    ports: list[HostPort] = field(default_factory=list)

    def admits(self, request: Resources, attempt: Attempt,
               alternatives: Sequence[NodeSelectorTerm]) -> Refused | None:
        """Why the node cannot take the pod by its own rules (None: it can)."""
        if self.node.unschedulable:
            return CORDONED
        if not request.fits(self.free):
            return NO_ROOM
        if untolerated(attempt.sched.tolerations, self.node.taints,
                       attempt.avoid_prefer_no_schedule):
            return TAINT
        if port_clash(attempt.sched.host_ports, self.ports):
            return HOST_PORT
        if not any(
            (t.node_names is None or self.node.name in t.node_names)
            and t.requirements.matches_labels(self.node.labels)
            for t in alternatives
        ):
            return SELECTOR
        return None

    def can_add(self, pod: Pod, request: Resources, attempt: Attempt,
                alternatives: Sequence[NodeSelectorTerm], topology: Topology) -> Refused | None:
        """Why the pod cannot go here, its topology rules included (None: it can)."""
        why = self.admits(request, attempt, alternatives)
        if why is not None:
            return why
        if topology.active:
            target = Target(self.node.name, labels=self.node.labels)
            if not any(
                topology.fits_node(pod.namespace, pod.labels, attempt.sched, t.requirements,
                                   target)
                for t in alternatives
                if t.requirements.matches_labels(self.node.labels)
            ):
                return TOPOLOGY
        return None

    def add(self, pod: Pod, request: Resources, attempt: Attempt, topology: Topology) -> None:
        self.free = self.free - request
        self.pods.append(pod)
        self.ports.extend(attempt.sched.host_ports)
        if topology.active:
            topology.record(pod.namespace, pod.labels, attempt.sched,
                            Target(self.node.name, labels=self.node.labels),
                            pod.scheduling.pod_anti_affinity)


def existing_nodes(nodes: Sequence[Node], bound_pods: Sequence[Pod]) -> list[ExistingNode]:
    """The cluster's nodes by name, less what their bound pods already use."""
    by_node: dict[str, list[Pod]] = {}
    for p in bound_pods:
        if p.node_name:
            by_node.setdefault(p.node_name, []).append(p)
    out: list[ExistingNode] = []
    for n in sorted(nodes, key=lambda n: n.name):
        used = Resources({})
        ports: list[HostPort] = []
        for p in by_node.get(n.name, ()):
            used = used + p.requests + ONE_POD
            ports.extend(p.scheduling.host_ports)
        out.append(ExistingNode(n, n.allocatable - used, ports=ports))
    return out

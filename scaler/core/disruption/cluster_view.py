"""The cluster as a pass has changed it so far, and trials of removing nodes from it.

A trial is the provisioning scheduler run again: the nodes to remove are taken away, their
evictable pods become pending, and the Scheduler places them on the remaining nodes (and the
replacements earlier steps of the pass launch) or on new claims. A removal is valid only
when every displaced pod is placed, with every constraint the scheduler honours.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from scaler.core.disruption.candidates import DisruptionInput, node_price
from scaler.core.disruption.safety import evictable
from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_NODEPOOL,
    LABEL_ZONE,
    Node,
    NodePool,
    Pod,
)
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import ClaimPlan, Scheduler


@dataclass(frozen=True)
class Trial:
    removed: tuple[str, ...]
    claims: tuple[ClaimPlan, ...]
    placements: Mapping[str, str]  # displaced pod key -> node or claim name
    unschedulable: tuple[Pod, ...]
    origin: Mapping[str, str]  # displaced pod key -> node it leaves

    @property
    def ok(self) -> bool:
        return not self.unschedulable

    @property
    def replacement_cost(self) -> float:
        return sum(c.options[0].price for c in self.claims if c.options)


def node_from_claim(claim: ClaimPlan, pool: NodePool, table: InstanceTypeTable) -> Node:
    """The node a claim becomes once its cheapest offering launches."""
    opt = claim.options[0]
    it = table.types[table.index[opt.instance_type]]
    labels = dict(it.labels)
    labels.update(pool.labels)
    labels.update({
        LABEL_ZONE: opt.zone,
        LABEL_CAPACITY_TYPE: opt.capacity_type,
        LABEL_NODEPOOL: pool.name,
        LABEL_HOSTNAME: claim.name,
    })
    return Node(name=claim.name, labels=labels, allocatable=Resources(dict(it.allocatable)),
                taints=pool.taints)


class ClusterView:
    def __init__(self, inp: DisruptionInput) -> None:
        self.inp = inp
        self.pools = {p.name: p for p in inp.pools}
        self.nodes: dict[str, Node] = {n.name: n for n in inp.nodes}
        self.pods: dict[str, Pod] = {p.key: p for p in inp.pods if p.node_name}
        self.new_nodes: dict[str, Node] = {}  # replacements launched by the pass
        self.new_prices: dict[str, float] = {}
        self._trials = 0

    def pods_on(self, names: Iterable[str]) -> list[Pod]:
        wanted = set(names)
        return [p for p in self.pods.values() if p.node_name in wanted]

    def price(self) -> float:
        """Price per hour of every node now in the view (unknown prices count 0)."""
        total = sum(node_price(self.inp.table, n) or 0.0 for n in self.nodes.values()
                    if n.name not in self.new_nodes)
        return total + sum(self.new_prices.values())

    def scheduler(self, removed: Sequence[str], prefix: str) -> tuple[Scheduler, list[Pod]]:
        gone = set(removed)
        kept = [n for n in self.nodes.values() if n.name not in gone]
        bound = [p for p in self.pods.values() if p.node_name not in gone]
        displaced = [
            dataclasses.replace(p, node_name=None)
            for p in self.pods.values() if p.node_name in gone and evictable(p)
        ]
        s = Scheduler(self.inp.table, self.inp.pools, kept, bound, self.inp.daemonsets,
                      claim_prefix=prefix, improve=False)
        return s, displaced

    def trial(self, removed: Sequence[str], prefix: str = "") -> Trial:
        self._trials += 1
        tag = prefix or f"d{self._trials}-"
        origin = {p.key: p.node_name or "" for p in self.pods_on(removed) if evictable(p)}
        s, displaced = self.scheduler(removed, tag)
        result = s.solve(displaced)
        placements: dict[str, str] = {}
        for node, pods in result.existing.items():
            for p in pods:
                placements[p.key] = node
        for c in result.claims:
            for p in c.pods:
                placements[p.key] = c.name
        return Trial(tuple(removed), result.claims, placements,
                     tuple(p for p, _ in result.unschedulable), origin)

    def apply(self, trial: Trial) -> None:
        """Make the trial's removal and replacements part of the view."""
        for c in trial.claims:
            node = node_from_claim(c, self.pools[c.node_pool], self.inp.table)
            self.nodes[node.name] = node
            self.new_nodes[node.name] = node
            self.new_prices[node.name] = c.options[0].price
        for name in trial.removed:
            self.nodes.pop(name, None)
            self.new_nodes.pop(name, None)
            self.new_prices.pop(name, None)
        for key in list(self.pods):
            pod = self.pods[key]
            if pod.node_name in trial.removed:
                target = trial.placements.get(key)
                if target is None:
                    del self.pods[key]  # a DaemonSet or mirror pod goes with its node
                else:
                    self.pods[key] = dataclasses.replace(pod, node_name=target)

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

import numpy as np

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
from scaler.core.requirements import IN, Requirement, Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.capacity import ONE_POD
from scaler.core.scheduling.claim import ClaimPlan
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.launch_options import MAX_LAUNCH_OPTIONS
from scaler.core.scheduling.scheduler import Scheduler


@dataclass(frozen=True)
class Planned:
    """A replacement chosen before the trial (by the MILP): offered to the scheduler as an
    existing node, launched only if pods land on it."""

    node: Node  # allocatable net of the pool's DaemonSet overhead
    pool: NodePool
    capacity_type: str
    zone: str
    spare: bool = False  # only for pods that fit nowhere else


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


def _zone_bound(pod: Pod) -> bool:
    """Does the pod's placement depend on its node's zone (spread, affinity by zone)?"""
    s = pod.scheduling
    return (any(t.topology_key == LABEL_ZONE for t in s.topology_spread)
            or any(t.topology_key == LABEL_ZONE for t in (*s.pod_affinity,
                                                          *s.pod_anti_affinity)))


class ClusterView:
    def __init__(self, inp: DisruptionInput, *, ready_room_only: bool = False) -> None:
        """`ready_room_only`: the nodes in `inp.unready` receive no displaced pod (they are
        cordoned in the view, and still count for limits, topology and price)."""
        self.inp = inp
        self.pools = {p.name: p for p in inp.pools}
        self.nodes: dict[str, Node] = {
            n.name: dataclasses.replace(n, unschedulable=True)
            if ready_room_only and n.name in inp.unready else n
            for n in inp.nodes}
        self.pods: dict[str, Pod] = {p.key: p for p in inp.pods if p.node_name}
        self.new_nodes: dict[str, Node] = {}  # replacements launched by the pass
        self.new_prices: dict[str, float] = {}
        self._trials = 0
        self._planned = 0

    def pods_on(self, names: Iterable[str]) -> list[Pod]:
        wanted = set(names)
        return [p for p in self.pods.values() if p.node_name in wanted]

    def price(self) -> float:
        """Price per hour of every node now in the view (unknown prices count 0)."""
        total = sum(node_price(self.inp.table, n) or 0.0 for n in self.nodes.values()
                    if n.name not in self.new_nodes)
        return total + sum(self.new_prices.values())

    def planned(self, pool: NodePool, type_idx: int, capacity_type: str,
                overhead: Resources) -> Planned | None:
        """A replacement of one instance type, in its cheapest zone the pool allows."""
        table = self.inp.table
        reqs = pool.launch_requirements().intersect(
            Requirements([Requirement.of(LABEL_CAPACITY_TYPE, IN, [capacity_type])]))
        options = table.options(np.array([type_idx], dtype=np.int64), reqs, 1)
        if not options:
            return None
        self._planned += 1
        name = f"{pool.name}-{self.inp.claim_prefix}r{self._planned:05d}"
        claim = ClaimPlan(name, pool.name, reqs, (), overhead, options)
        node = node_from_claim(claim, pool, table)
        net = Resources({k: v - overhead.get(k) for k, v in node.allocatable.items()})
        return Planned(dataclasses.replace(node, allocatable=net), pool, capacity_type,
                       options[0].zone)

    def _claim_for(self, planned: Planned, pods: Sequence[Pod], s: Scheduler) -> ClaimPlan:
        """The launch for a planned replacement that received pods: the cheapest type in its
        zone that holds them and that every one of them accepts (alternatives ranked)."""
        table = self.inp.table
        pool = planned.pool
        requests = s.overhead[pool.name]
        for p in pods:
            requests = requests + p.requests + ONE_POD
        # Any type and zone the pods accept (flexibility for the fleet request and the
        # spot-to-spot rule); the zone stays when a pod's placement depends on it.
        extra = [Requirement.of(LABEL_CAPACITY_TYPE, IN, [planned.capacity_type])]
        if any(_zone_bound(p) for p in pods):
            extra.append(Requirement.of(LABEL_ZONE, IN, [planned.zone]))
        reqs = pool.launch_requirements().intersect(Requirements(extra))
        mask = table.mask(reqs).copy()
        for sched in {id(p.scheduling): p.scheduling for p in pods}.values():
            ok = np.zeros(len(table), dtype=np.bool_)
            for term in sched.alternatives():
                ok |= table.mask(reqs.intersect(term.requirements))
            mask &= ok
        row = table.vector(requests)
        if row is not None:
            mask &= (table.allocatable >= np.array(row, dtype=np.int64)).all(axis=1)
        options = table.options(np.flatnonzero(mask), reqs, MAX_LAUNCH_OPTIONS)
        if not options:  # its own type always holds them; keep it
            i = table.index[planned.node.instance_type or ""]
            options = table.options(np.array([i], dtype=np.int64), reqs, 1)
        return ClaimPlan(planned.node.name, pool.name, reqs, tuple(pods), requests, options)

    def scheduler(self, removed: Sequence[str], prefix: str,
                  extra: Sequence[Node] = ()) -> tuple[Scheduler, list[Pod]]:
        gone = set(removed)
        kept = [n for n in self.nodes.values() if n.name not in gone] + list(extra)
        bound = [p for p in self.pods.values() if p.node_name not in gone]
        displaced = [
            dataclasses.replace(p, node_name=None)
            for p in self.pods.values() if p.node_name in gone and evictable(p)
        ]
        s = Scheduler(self.inp.table, self.inp.pools, kept, bound, self.inp.daemonsets,
                      claim_prefix=prefix)
        return s, displaced

    def trial(self, removed: Sequence[str], prefix: str = "",
              planned: Sequence[Planned] = (),
              prefer: Mapping[str, Sequence[str]] | None = None) -> Trial:
        """Remove these nodes and schedule their pods; `planned` replacements are offered
        as nodes first (the ones that receive no pod are not launched)."""
        self._trials += 1
        tag = prefix or f"{self.inp.claim_prefix}d{self._trials}-"
        origin = {p.key: p.node_name or "" for p in self.pods_on(removed) if evictable(p)}
        s, displaced = self.scheduler(removed, tag, [p.node for p in planned])
        if planned:
            # Nodes already paid for fill first; planned ones in the MILP's order after them,
            # so the last of each kind is the partly filled one (`_claim_for` downsizes it).
            # Cheapest capacity first, so pods that may use spot fill spot nodes before
            # the on-demand ones that pinned pods need.
            table = self.inp.table

            def unit_price(p: Planned) -> float:
                i = table.index[p.node.instance_type or ""]
                price = table.price_of(table.types[i].name, p.capacity_type, p.zone) or 0.0
                return price / max(p.node.allocatable.get("cpu"), 1)

            order = sorted(range(len(planned)),
                           key=lambda i: (planned[i].spare, unit_price(planned[i])))
            rank = {planned[i].node.name: r for r, i in enumerate(order)}
            s.existing.sort(key=lambda en: (rank.get(en.node.name, -1), en.node.name))
        if prefer:
            s.preferred = prefer
        result = s.solve(displaced)
        placements: dict[str, str] = {}
        for node, pods in result.existing.items():
            for p in pods:
                placements[p.key] = node
        claims = list(result.claims)
        for c in result.claims:
            for p in c.pods:
                placements[p.key] = c.name
        for pl in planned:
            got = result.existing.get(pl.node.name)
            if got:
                claims.append(self._claim_for(pl, got, s))
        return Trial(tuple(removed), tuple(claims), placements,
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

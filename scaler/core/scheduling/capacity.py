"""What new nodes can be: NodePools by weight, their launch requirements, DaemonSet overhead
and limits, and the capacity model (pod classes x node kinds) built on them.

One model serves the scheduler's whole-node planning, the LP bound (`bound.py`) and the
consolidation MILP (`disruption/optimiser.py`), so the three price the same kinds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.model import DaemonSet, Node, NodePool, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.bound import BoolArray, IntArray, Kinds, PodClass
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.preferences import ladder

ONE_POD = Resources({"pods": 1})

Kind = tuple[NodePool, int, str]  # NodePool, instance type index, capacity type
Limits = dict[str, int]  # what is left of a NodePool's limits, by resource
# `spec.limits.nodes`: a count of nodes, each node one whatever its type.
NODES = "nodes"


@dataclass(frozen=True)
class CapacityModel:
    """Pod classes (identical pods) and new-node kinds, with the pods behind each class."""

    classes: list[PodClass]
    kinds: Kinds
    meta: list[Kind]  # what each kind is
    members: list[list[Pod]]  # the pods of each class


def daemon_overhead(pool: NodePool, daemonsets: Sequence[DaemonSet]) -> Resources:
    """What the DaemonSets that would run on a node of the pool request."""
    total = Resources({})
    for ds in daemonsets:
        if untolerated(ds.scheduling.tolerations, pool.taints):
            continue
        if any(narrow(pool.requirements, t) is not None for t in ds.scheduling.alternatives()):
            total = total + ds.requests + ONE_POD
    return total


def initial_limits(table: InstanceTypeTable, pool: NodePool,
                   nodes: Sequence[Node]) -> Limits | None:
    """What is left of the NodePool's limits after the nodes it already has."""
    if pool.limits is None:
        return None
    left = dict(pool.limits.items())
    for n in nodes:
        if n.node_pool != pool.name:
            continue
        i = table.index.get(n.instance_type or "")
        for name in left:
            if name == NODES:
                left[name] -= 1
                continue
            j = table.dim_index.get(name)
            used = int(table.capacity[i, j]) if i is not None and j is not None else (
                n.allocatable.get(name))
            left[name] -= used
    return left


def limit_mask(table: InstanceTypeTable, left: Mapping[str, int] | None) -> BoolArray | None:
    """Types whose capacity still fits within what is left of a NodePool's limits."""
    if left is None:
        return None
    mask: BoolArray = np.ones(len(table), dtype=np.bool_)
    for name, value in left.items():
        if name == NODES:
            if value < 1:
                mask[:] = False
            continue
        j = table.dim_index.get(name)
        if j is not None:
            mask &= table.capacity[:, j] <= value
    return mask


def reserve(table: InstanceTypeTable, left: Limits | None, idx: IntArray) -> None:
    """As Karpenter does: a claim holds the largest capacity it may still become."""
    if left is None:
        return
    biggest = table.capacity[idx].max(axis=0)
    for name in left:
        if name == NODES:
            left[name] -= 1
            continue
        j = table.dim_index.get(name)
        if j is not None:
            left[name] -= int(biggest[j])


class NewCapacity:
    """The NodePools new nodes come from, heaviest first, and what each launch carries."""

    def __init__(self, table: InstanceTypeTable, node_pools: Sequence[NodePool],
                 daemonsets: Sequence[DaemonSet]) -> None:
        self.table = table
        self.pools = sorted(node_pools, key=lambda p: (-p.weight, p.name))
        self.launch_reqs: dict[str, Requirements] = {
            p.name: p.launch_requirements() for p in self.pools}
        self.overhead = {p.name: daemon_overhead(p, daemonsets) for p in self.pools}

    def overhead_vector(self, pool: NodePool) -> IntArray:
        return np.array(self.table.vector(self.overhead[pool.name]) or
                        (0,) * len(self.table.dims), dtype=np.int64)

    def model(self, pods: Sequence[Pod], pool_of: Mapping[int, str] | None = None,
              split: Callable[[Pod], Hashable] | None = None) -> CapacityModel:
        """Pod classes (with their pods) and node kinds (pool, type, capacity type).

        `pool_of` (id of a pod -> NodePool name) keeps each class to the pool it must use;
        pods `split` tells apart (their part in hostname rules) never share a class.
        """
        table = self.table
        cts = sorted({ct for _, ct, _ in table.pairs})
        n_types = len(table)
        kinds: list[Kind] = [
            (pool, i, ct) for pool in self.pools for ct in cts for i in range(n_types)
        ]
        price = np.full(len(kinds), np.inf)
        capacity = np.zeros((len(kinds), len(table.dims)), dtype=np.int64)
        for p_no, pool in enumerate(self.pools):
            overhead = self.overhead_vector(pool)
            pairs = table.allowed_pairs(self.launch_reqs[pool.name])
            for c_no, ct in enumerate(cts):
                cols = pairs & np.array([c == ct for _, c, _ in table.pairs], dtype=np.bool_)
                start = (p_no * len(cts) + c_no) * n_types
                if cols.any():
                    price[start:start + n_types] = table.price[:, cols].min(axis=1)
                capacity[start:start + n_types] = np.maximum(table.allocatable - overhead, 0)
        # Equal asks share one class (and one key): interned per call.
        interned: dict[Scheduling, Scheduling] = {}
        placed: dict[tuple[object, ...], Scheduling] = {}
        groups: dict[tuple[int, tuple[int, ...], str, Hashable],
                     tuple[Scheduling, list[Pod]]] = {}
        for pod in pods:
            row = table.vector(pod.requests + ONE_POD)
            if row is None:
                continue
            sched = interned.setdefault(pod.scheduling, pod.scheduling)
            if split is not None:
                # Spread and anti-affinity do not choose kinds (the split stands for them):
                # pods that only differ there share a class.
                sched = placed.setdefault(
                    (sched.node_selector, sched.affinity_terms, sched.tolerations), sched)
            home = pool_of.get(id(pod), "") if pool_of is not None else ""
            part = split(pod) if split is not None else None
            groups.setdefault((id(sched), row, home, part), (sched, []))[1].append(pod)
        classes: list[PodClass] = []
        members: list[list[Pod]] = []
        for (_, row, home, _), (sched, group) in groups.items():
            members.append(group)
            allowed = self._allowed(sched, home, cts, len(kinds))
            allowed &= np.isfinite(price)
            # A pod is whole: only kinds where one fits (a tighter bound, still valid).
            allowed &= (capacity >= np.array(row, dtype=np.int64)).all(axis=1)
            classes.append(PodClass(row, len(group), allowed))
        return CapacityModel(classes, Kinds(price, capacity), kinds, members)

    def _allowed(self, sched: Scheduling, home: str, cts: Sequence[str],
                 n_kinds: int) -> BoolArray:
        """The kinds a class may use, with all its preferences given up (still a valid bound;
        the loosest attempt does not depend on PreferNoSchedule taints)."""
        table = self.table
        n_types = len(table)
        loosest = ladder(sched, False)[-1].sched
        allowed = np.zeros(n_kinds, dtype=np.bool_)
        for p_no, pool in enumerate(self.pools):
            if untolerated(loosest.tolerations, pool.taints):
                continue
            if home and pool.name != home:
                continue
            for term in loosest.alternatives():
                reqs = narrow(self.launch_reqs[pool.name], term)
                if reqs is None:
                    continue
                mask = table.mask(reqs)
                pairs = table.allowed_pairs(reqs)
                for c_no, ct in enumerate(cts):
                    if any(pairs[j] for j, (_, c, _) in enumerate(table.pairs) if c == ct):
                        start = (p_no * len(cts) + c_no) * n_types
                        allowed[start:start + n_types] |= mask
        return allowed

"""First-fit scheduling of pending pods: existing nodes, then in-flight claims, then new claims.

The order follows Karpenter's provisioner: pods by priority, then by size (CPU, then memory,
largest first); an existing node is used when the pod fits there, otherwise an in-flight node
claim, otherwise a new claim from the highest-weight NodePool that can take the pod. A claim
keeps every instance type that can still hold all of its pods and launches the cheapest
offering among them, with the others as ranked alternatives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.core.model import DaemonSet, Node, NodePool, NodeSelectorTerm, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.explain import explain_unschedulable
from scaler.core.scheduling.instancetypes import (
    BoolArray,
    InstanceTypeTable,
    IntArray,
    LaunchOption,
)
from scaler.core.scheduling.predicates import narrow, untolerated

ONE_POD = Resources({"pods": 1})
# Alternatives passed with a launch; a real fleet request takes a bounded list (Karpenter: 60).
MAX_LAUNCH_OPTIONS = 60


@dataclass
class ExistingNode:
    node: Node
    free: Resources
    pods: list[Pod] = field(default_factory=list)

    def admits(self, pod: Pod, request: Resources) -> bool:
        if self.node.unschedulable or not request.fits(self.free):
            return False
        if untolerated(pod.scheduling.tolerations, self.node.taints):
            return False
        return any(
            (t.node_names is None or self.node.name in t.node_names)
            and t.requirements.matches_labels(self.node.labels)
            for t in pod.scheduling.alternatives()
        )


@dataclass
class Claim:
    """A node that will be launched: its pods and the instance types that still hold them."""

    name: str
    pool: NodePool
    requirements: Requirements
    type_idx: IntArray
    used: IntArray  # daemon overhead plus pods, in table dims
    max_free: tuple[int, ...]
    pods: list[Pod] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    name: str
    node_pool: str
    requirements: Requirements
    pods: tuple[Pod, ...]
    requests: Resources  # pods plus DaemonSet overhead
    options: tuple[LaunchOption, ...]  # ranked, cheapest first


@dataclass(frozen=True, slots=True)
class SchedulingResult:
    existing: Mapping[str, tuple[Pod, ...]]  # node name -> pods placed there by this pass
    claims: tuple[ClaimPlan, ...]
    unschedulable: tuple[tuple[Pod, str], ...]


def _sort_key(pod: Pod) -> tuple[int, int, int, str, str]:
    return (-pod.priority, -pod.requests.get("cpu"), -pod.requests.get("memory"), pod.namespace,
            pod.name)


class Scheduler:
    def __init__(
        self,
        table: InstanceTypeTable,
        node_pools: Sequence[NodePool],
        nodes: Sequence[Node] = (),
        bound_pods: Sequence[Pod] = (),
        daemonsets: Sequence[DaemonSet] = (),
    ) -> None:
        self.table = table
        self.pools = sorted(node_pools, key=lambda p: (-p.weight, p.name))
        by_node: dict[str, list[Pod]] = {}
        for p in bound_pods:
            if p.node_name:
                by_node.setdefault(p.node_name, []).append(p)
        self.existing: list[ExistingNode] = []
        for n in sorted(nodes, key=lambda n: n.name):
            used = Resources({})
            for p in by_node.get(n.name, ()):
                used = used + p.requests + ONE_POD
            self.existing.append(ExistingNode(n, n.allocatable - used))
        self.overhead = {p.name: self._daemon_overhead(p, daemonsets) for p in self.pools}
        self.remaining = {p.name: self._initial_remaining(p, nodes) for p in self.pools}
        self.claims: list[Claim] = []
        self._narrow_cache: dict[tuple[Requirements, int, int], Requirements | None] = {}
        # Interned so equal asks share one object (and the id-keyed caches stay valid).
        self._interned: dict[Scheduling, Scheduling] = {}
        self._alts: dict[Scheduling, tuple[NodeSelectorTerm, ...]] = {}

    def _daemon_overhead(self, pool: NodePool, daemonsets: Sequence[DaemonSet]) -> Resources:
        total = Resources({})
        for ds in daemonsets:
            if untolerated(ds.scheduling.tolerations, pool.taints):
                continue
            if any(narrow(pool.requirements, t) is not None for t in ds.scheduling.alternatives()):
                total = total + ds.requests + ONE_POD
        return total

    def _initial_remaining(self, pool: NodePool, nodes: Sequence[Node]) -> dict[str, int] | None:
        """What is left of the NodePool's limits after the nodes it already has."""
        if pool.limits is None:
            return None
        left = dict(pool.limits.items())
        for n in nodes:
            if n.node_pool != pool.name:
                continue
            i = self.table.index.get(n.instance_type or "")
            for name in left:
                j = self.table.dim_index.get(name)
                used = int(self.table.capacity[i, j]) if i is not None and j is not None else (
                    n.allocatable.get(name))
                left[name] -= used
        return left

    def _limit_mask(self, pool: NodePool) -> BoolArray | None:
        """Types whose capacity still fits within the NodePool's limits."""
        left = self.remaining[pool.name]
        if left is None:
            return None
        mask: BoolArray = np.ones(len(self.table), dtype=np.bool_)
        for name, value in left.items():
            j = self.table.dim_index.get(name)
            if j is not None:
                mask &= self.table.capacity[:, j] <= value
        return mask

    def _reserve(self, pool: NodePool, idx: IntArray) -> None:
        # As Karpenter does: a claim holds the largest capacity it may still become.
        left = self.remaining[pool.name]
        if left is None:
            return
        biggest = self.table.capacity[idx].max(axis=0)
        for name in left:
            j = self.table.dim_index.get(name)
            if j is not None:
                left[name] -= int(biggest[j])

    # -- placing one pod ------------------------------------------------------------------

    def _alternatives(self, sched: Scheduling) -> tuple[NodeSelectorTerm, ...]:
        alts = self._alts.get(sched)
        if alts is None:
            alts = self._alts[sched] = sched.alternatives()
        return alts

    def _narrow(self, reqs: Requirements, sched: Scheduling, term_no: int,
                term: NodeSelectorTerm) -> Requirements | None:
        key = (reqs, id(sched), term_no)
        if key in self._narrow_cache:
            return self._narrow_cache[key]
        out = narrow(reqs, term)
        self._narrow_cache[key] = out
        return out

    def _fits(self, type_idx: IntArray, need: IntArray) -> IntArray:
        ok = (self.table.allocatable[type_idx] >= need).all(axis=1)
        return type_idx[ok]

    def _try_claim(self, claim: Claim, pod: Pod, vec: IntArray, sched: Scheduling) -> bool:
        if untolerated(sched.tolerations, claim.pool.taints):
            return False
        need = claim.used + vec
        for no, term in enumerate(self._alternatives(sched)):
            reqs = self._narrow(claim.requirements, sched, no, term)
            if reqs is None:
                continue
            idx = claim.type_idx
            if reqs is not claim.requirements:
                idx = idx[self.table.mask(reqs)[idx]]
            idx = self._fits(idx, need)
            if len(idx) == 0:
                continue
            self._commit(claim, pod, reqs, idx, need)
            return True
        return False

    def _commit(self, claim: Claim, pod: Pod, reqs: Requirements, idx: IntArray,
                need: IntArray) -> None:
        claim.requirements = reqs
        claim.type_idx = idx
        claim.used = need
        claim.max_free = tuple(int(v) for v in self.table.allocatable[idx].max(axis=0) - need)
        claim.pods.append(pod)

    def _new_claim(self, pod: Pod, vec: IntArray, sched: Scheduling) -> bool:
        for pool in self.pools:
            if untolerated(sched.tolerations, pool.taints):
                continue
            overhead = self.table.vector(self.overhead[pool.name])
            if overhead is None:
                continue
            base = np.array(overhead, dtype=np.int64)
            limit_mask = self._limit_mask(pool)
            for no, term in enumerate(self._alternatives(sched)):
                reqs = self._narrow(pool.requirements, sched, no, term)
                if reqs is None:
                    continue
                mask = self.table.mask(reqs)
                if limit_mask is not None:
                    mask = mask & limit_mask
                idx = self._fits(np.flatnonzero(mask), base + vec)
                if len(idx) == 0:
                    continue
                claim = Claim(
                    name=f"{pool.name}-{len(self.claims) + 1:05d}",
                    pool=pool,
                    requirements=reqs,
                    type_idx=idx,
                    used=base,
                    max_free=(),
                )
                self._commit(claim, pod, reqs, idx, base + vec)
                self.claims.append(claim)
                self._reserve(pool, idx)
                return True
        return False

    def solve(self, pending: Sequence[Pod]) -> SchedulingResult:
        placed_existing: dict[str, list[Pod]] = {}
        unschedulable: list[tuple[Pod, str]] = []
        for pod in sorted(pending, key=_sort_key):
            sched = self._interned.setdefault(pod.scheduling, pod.scheduling)
            request = pod.requests + ONE_POD
            done = False
            for en in self.existing:
                if en.admits(pod, request):
                    en.free = en.free - request
                    en.pods.append(pod)
                    placed_existing.setdefault(en.node.name, []).append(pod)
                    done = True
                    break
            if done:
                continue
            row = self.table.vector(request)
            if row is not None:
                vec = np.array(row, dtype=np.int64)
                for claim in self.claims:
                    if any(r > f for r, f in zip(row, claim.max_free, strict=True)):
                        continue
                    if self._try_claim(claim, pod, vec, sched):
                        done = True
                        break
                if not done:
                    done = self._new_claim(pod, vec, sched)
            if not done:
                unschedulable.append((pod, explain_unschedulable(self, pod, request)))
        return SchedulingResult(
            existing={k: tuple(v) for k, v in placed_existing.items()},
            claims=tuple(self._plan(c) for c in self.claims),
            unschedulable=tuple(unschedulable),
        )

    def _plan(self, claim: Claim) -> ClaimPlan:
        used = Resources({d: int(v) for d, v in zip(self.table.dims, claim.used, strict=True)})
        return ClaimPlan(
            name=claim.name,
            node_pool=claim.pool.name,
            requirements=claim.requirements,
            pods=tuple(claim.pods),
            requests=used,
            options=self.table.options(claim.type_idx, claim.requirements, MAX_LAUNCH_OPTIONS),
        )

"""A node claim: a node that will be launched, which owns its admission (Karpenter's NodeClaim).

`Claim.can_add` says whether a pod may join and what the claim would become (a `Candidate`),
or why not (a `Refused`, built where the filtering happens); `Claim.add` commits a candidate;
`Claim.widen` lets a claim packed for one offering launch any type that holds it. `Lookups`
holds what every claim of a pass shares: the catalog's answers, cached, and the topology.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.core.model import HostPort, NodePool, NodeSelectorTerm, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import (
    FloatArray,
    InstanceTypeTable,
    IntArray,
    LaunchOption,
)
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.preferences import Attempt
from scaler.core.scheduling.topology import Target, Topology


@dataclass(frozen=True, slots=True)
class Refused:
    """Why a pod may not join a node or claim (cheap: one shared value per reason)."""

    reason: str


TAINT = Refused("a taint the pod does not tolerate")
HOST_PORT = Refused("a host port already taken")
SELECTOR = Refused("the pod's node affinity")
TOPOLOGY = Refused("the pod's topology rules")
RESOURCES = Refused("no instance type that holds the pods")
CORDONED = Refused("the node is cordoned")
NO_ROOM = Refused("not enough free resources")


def port_clash(ports: Sequence[HostPort], taken: Sequence[HostPort]) -> bool:
    return any(p.conflicts(t) for p in ports for t in taken)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A claim's state if a pod were added to it (or opened for it)."""

    pool: NodePool
    requirements: Requirements
    type_idx: IntArray
    used: IntArray
    price: float  # the cheapest launch it allows


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    name: str
    node_pool: str
    requirements: Requirements
    pods: tuple[Pod, ...]
    requests: Resources  # pods plus DaemonSet overhead
    options: tuple[LaunchOption, ...]  # ranked, cheapest first


class Lookups:
    """The catalog's answers every claim of a pass asks for, cached, and the topology."""

    def __init__(self, table: InstanceTypeTable, topology: Topology) -> None:
        self.table = table
        self.topology = topology
        self._narrow_cache: dict[tuple[Requirements, int, int], Requirements | None] = {}
        self._alts: dict[Scheduling, tuple[NodeSelectorTerm, ...]] = {}
        self._priced_cache: dict[Requirements, tuple[IntArray, FloatArray]] = {}

    def alternatives(self, sched: Scheduling) -> tuple[NodeSelectorTerm, ...]:
        alts = self._alts.get(sched)
        if alts is None:
            alts = self._alts[sched] = sched.alternatives()
        return alts

    def narrow(self, reqs: Requirements, sched: Scheduling, term_no: int,
               term: NodeSelectorTerm) -> Requirements | None:
        """`reqs` narrowed by one of an (interned) ask's terms; None: they conflict."""
        key = (reqs, id(sched), term_no)
        if key in self._narrow_cache:
            return self._narrow_cache[key]
        out = narrow(reqs, term)
        self._narrow_cache[key] = out
        return out

    def fits(self, type_idx: IntArray, need: IntArray) -> IntArray:
        ok = (self.table.allocatable[type_idx] >= need).all(axis=1)
        return type_idx[ok]

    def cheapest(self, idx: IntArray, reqs: Requirements) -> float:
        """What a claim would launch at now: its cheapest type and allowed offering."""
        allowed, price = self.priced(reqs)
        if len(idx) == 0 or len(allowed) == 0:
            return float("inf")
        return float(price[np.searchsorted(allowed, idx)].min())

    def priced(self, reqs: Requirements) -> tuple[IntArray, FloatArray]:
        """Types the requirements allow (sorted) and their cheapest allowed price."""
        hit = self._priced_cache.get(reqs)
        if hit is None:
            allowed = np.flatnonzero(self.table.mask(reqs))
            pairs = self.table.allowed_pairs(reqs)
            price = (self.table.price[allowed][:, pairs].min(axis=1) if pairs.any()
                     else np.full(len(allowed), np.inf))
            hit = self._priced_cache[reqs] = (allowed, price)
        return hit

    def flexible_enough(self, reqs: Requirements, idx: IntArray) -> bool:
        """NodePool `minValues`: the claim must keep that many distinct values per key."""
        for key, req in reqs.items():
            if req.min_values is not None and self.table.distinct(key, idx) < req.min_values:
                return False
        return True

    def topology_narrow(self, pod: Pod, attempt: Attempt, term: NodeSelectorTerm,
                        reqs: Requirements, name: str) -> Requirements | None:
        """Claim requirements narrowed by the pod's topology rules; None: no domain left.

        Spread counts look at the domains the pod itself may reach (`term`), not the claim's.
        """
        if not self.topology.active:
            return reqs
        return self.topology.narrow_claim(
            pod.namespace, pod.labels, attempt.sched, term.requirements,
            Target(name, requirements=reqs),
        )


@dataclass(eq=False)  # identity: claims are compared and looked up as objects
class Claim:
    """A node that will be launched: its pods and the instance types that still hold them."""

    name: str
    pool: NodePool
    requirements: Requirements
    type_idx: IntArray
    used: IntArray  # daemon overhead plus pods, in table dims
    max_free: tuple[int, ...]
    pods: list[Pod] = field(default_factory=list)
    ports: list[HostPort] = field(default_factory=list)
    price: float = 0.0  # the cheapest launch it allows now
    cheap_free: tuple[int, ...] = ()  # room left on that cheapest type

    def can_add(self, pod: Pod, vec: IntArray, attempt: Attempt,
                lk: Lookups) -> Candidate | Refused:
        """The claim as it would be with the pod on it, or why the pod cannot join."""
        sched = attempt.sched
        if untolerated(sched.tolerations, self.pool.taints, attempt.avoid_prefer_no_schedule):
            return TAINT
        if port_clash(sched.host_ports, self.ports):
            return HOST_PORT
        need = self.used + vec
        why = SELECTOR
        for no, term in enumerate(lk.alternatives(sched)):
            reqs = lk.narrow(self.requirements, sched, no, term)
            if reqs is None:
                continue
            reqs = lk.topology_narrow(pod, attempt, term, reqs, self.name)
            if reqs is None:
                why = TOPOLOGY
                continue
            idx = self.type_idx
            if reqs != self.requirements:
                idx = idx[lk.table.mask(reqs)[idx]]
            idx = lk.fits(idx, need)
            if len(idx) and lk.flexible_enough(reqs, idx):
                return Candidate(self.pool, reqs, idx, need, lk.cheapest(idx, reqs))
            why = RESOURCES
        return why

    def add(self, pod: Pod, c: Candidate, attempt: Attempt, lk: Lookups) -> None:
        """Commit a candidate `can_add` returned for this pod."""
        self.requirements = c.requirements
        self.type_idx = c.type_idx
        self.used = c.used
        self.price = c.price
        self.refresh_room(lk)
        self.pods.append(pod)
        self.ports.extend(attempt.sched.host_ports)
        if lk.topology.active:
            target = Target(self.name, requirements=self.requirements)
            lk.topology.settle(target)
            lk.topology.record(pod.namespace, pod.labels, attempt.sched, target,
                               pod.scheduling.pod_anti_affinity)

    def refresh_room(self, lk: Lookups) -> None:
        """The claim's room on its largest type and on its cheapest one."""
        alloc = lk.table.allocatable[self.type_idx]
        self.max_free = tuple(int(v) for v in alloc.max(axis=0) - self.used)
        allowed, price = lk.priced(self.requirements)
        if len(allowed):
            cheapest = int(np.argmin(price[np.searchsorted(allowed, self.type_idx)]))
            self.cheap_free = tuple(int(v) for v in alloc[cheapest] - self.used)
        else:
            self.cheap_free = self.max_free

    def widen(self, launch_reqs: Requirements, scheds: Sequence[Scheduling],
              lk: Lookups) -> tuple[Requirements, IntArray, float] | None:
        """What the claim, packed for one offering, becomes when it may launch any type and
        capacity type that holds it; None when it cannot widen. Not applied here.

        The pin to one type served the packing; the launch wants alternatives (a spot fleet
        most of all), the on-demand share may need to move it, and the cheapest of them is
        never dearer than what was packed for. The requirements are rebuilt from the
        NodePool's and each pod's loosest ask (`scheds`, one per pod), without the pin.
        """
        wide = self.widened(launch_reqs, scheds, lk)
        return self.widen_to(wide, lk) if wide is not None else None

    def widened(self, launch_reqs: Requirements, scheds: Sequence[Scheduling],
                lk: Lookups) -> Requirements | None:
        """The requirements `widen` rebuilds (they depend on the packed type and the asks,
        not on how full the claim is)."""
        wide: Requirements | None = launch_reqs
        for sched in scheds:
            for term in lk.alternatives(sched):
                narrowed = narrow(wide, term) if wide is not None else None
                # The term that kept the claim's packed type is the one its pod used.
                if narrowed is not None and lk.table.mask(narrowed)[self.type_idx].any():
                    wide = narrowed
                    break
            else:
                return None
        return wide

    def widen_to(self, wide: Requirements,
                 lk: Lookups) -> tuple[Requirements, IntArray, float] | None:
        """What the claim becomes under the requirements `widened` gave; None: no type."""
        idx = lk.fits(np.flatnonzero(lk.table.mask(wide)), self.used)
        if not len(idx) or not lk.flexible_enough(wide, idx):
            return None
        return wide, idx, lk.cheapest(idx, wide)

    def apply(self, reqs: Requirements, idx: IntArray, price: float, lk: Lookups) -> None:
        """Take new launch requirements (from `widen`)."""
        self.requirements, self.type_idx, self.price = reqs, idx, price
        self.refresh_room(lk)

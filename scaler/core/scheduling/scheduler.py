"""First-fit scheduling of pending pods: existing nodes, then in-flight claims, then new claims.

The order follows Karpenter's provisioner: pods by priority, then by size (CPU, then memory,
largest first); an existing node is used when the pod fits there, otherwise an in-flight node
claim, otherwise a new claim from the highest-weight NodePool that can take the pod. A claim
keeps every instance type that can still hold all of its pods and launches the cheapest
offering among them, with the others as ranked alternatives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_INSTANCE_TYPE,
    LABEL_ZONE,
    ON_DEMAND,
    PREFER_NO_SCHEDULE,
    DaemonSet,
    HostPort,
    Node,
    NodePool,
    NodeSelectorTerm,
    Pod,
    Scheduling,
)
from scaler.core.requirements import IN, Requirement, Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.bound import Bound, Kinds, PodClass, lower_bound
from scaler.core.scheduling.explain import explain_unschedulable
from scaler.core.scheduling.instancetypes import (
    BoolArray,
    FloatArray,
    InstanceTypeTable,
    IntArray,
    LaunchOption,
)
from scaler.core.scheduling.patterns import Pattern, plan_patterns
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.preferences import Attempt, ladder
from scaler.core.scheduling.topology import NEW_NODE, Target, Topology

ONE_POD = Resources({"pods": 1})
STRATEGIES = ("scaler", "ffd")
# Alternatives passed with a launch; a real fleet request takes a bounded list (Karpenter: 60).
MAX_LAUNCH_OPTIONS = 60
# How much dearer a pod's share may get by joining an in-flight claim (see _place_on_claims).
JOIN_TOLERANCE = 0.10
# A join may raise a claim's price by up to this much over a node of the pod's own.
MARGINAL_TOLERANCE = 0.10
# Only the most recent claims are tried (pods come largest first, so older claims are full);
# this keeps a pass linear in pods rather than pods x claims.
CLAIM_WINDOW = 48
# Joins that would move a claim to a bigger type, weighed per pod at most.
MAX_UPGRADE_CHECKS = 4
# Claims a deferred pod tries (and fails to join) for free room before it is planned anew.
GAP_TRIES = 8
# Join checks per pending pod the first-fit fallback may spend before it gives up.
FFD_JOINS_PER_POD = 64
# Seconds the pattern search (column generation, then a MIP) may take in one pass: a safety
# net; its round limit (patterns.MAX_ROUNDS) normally ends it first, so plans do not depend
# on how busy the machine is.
PATTERN_BUDGET = 5.0


def _port_clash(ports: Sequence[HostPort], taken: Sequence[HostPort]) -> bool:
    return any(p.conflicts(t) for p in ports for t in taken)


@dataclass
class ExistingNode:
    node: Node
    free: Resources
    pods: list[Pod] = field(default_factory=list)
    ports: list[HostPort] = field(default_factory=list)

    def admits(self, request: Resources, attempt: Attempt,
               alternatives: Sequence[NodeSelectorTerm]) -> bool:
        if self.node.unschedulable or not request.fits(self.free):
            return False
        if untolerated(attempt.sched.tolerations, self.node.taints,
                       attempt.avoid_prefer_no_schedule):
            return False
        if _port_clash(attempt.sched.host_ports, self.ports):
            return False
        return any(
            (t.node_names is None or self.node.name in t.node_names)
            and t.requirements.matches_labels(self.node.labels)
            for t in alternatives
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


@dataclass(frozen=True, slots=True)
class _Candidate:
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


@dataclass(frozen=True, slots=True)
class SchedulingResult:
    existing: Mapping[str, tuple[Pod, ...]]  # node name -> pods placed there by this pass
    claims: tuple[ClaimPlan, ...]
    unschedulable: tuple[tuple[Pod, str], ...]


def _sort_key(pod: Pod) -> tuple[int, int, int, str, str]:
    return (-pod.priority, -pod.requests.get("cpu"), -pod.requests.get("memory"), pod.namespace,
            pod.name)


class _OverBudget(Exception):
    """The first-fit fallback spent its join checks."""


def _launch_cost(result: SchedulingResult) -> float:
    return sum(c.options[0].price for c in result.claims if c.options)


class Scheduler:
    def __init__(
        self,
        table: InstanceTypeTable,
        node_pools: Sequence[NodePool],
        nodes: Sequence[Node] = (),
        bound_pods: Sequence[Pod] = (),
        daemonsets: Sequence[DaemonSet] = (),
        claim_prefix: str = "",
        improve: bool = True,
        strategy: str = "scaler",
    ) -> None:
        self.table = table
        # Claim names must be unique for the cluster's life (the AWS provider finds a retried
        # launch by its claim's tag); a controller passes a fresh prefix per pass.
        self.claim_prefix = claim_prefix
        # Plan movable pods by whole-node patterns and check against first fit (see _solve).
        self.improve = improve
        # "ffd": Karpenter's first-fit decreasing, the baseline our packing is measured
        # against: each pod joins the first in-flight claim that can hold it, whatever it
        # costs, and nothing is repacked afterwards.
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self._inputs = (node_pools, nodes, bound_pods, daemonsets)
        self._join_budget: int | None = None  # ffd as a fallback: give up past this many joins
        self._ffd_ceiling: float | None = None  # ... or once its claims cost more than this
        self._ffd_cost = 0.0
        # _room's array and the claims list it describes
        self._room_rows = np.zeros((0, len(table.dims)), dtype=np.int64)
        self._room_n = 0
        self._room_for: list[Claim] | None = None
        self._free = np.zeros((0, len(table.dims)), dtype=np.int64)  # ffd: claims' max_free
        self.pools = sorted(node_pools, key=lambda p: (-p.weight, p.name))
        self.launch_reqs = {p.name: p.launch_requirements() for p in self.pools}
        by_node: dict[str, list[Pod]] = {}
        for p in bound_pods:
            if p.node_name:
                by_node.setdefault(p.node_name, []).append(p)
        self.existing: list[ExistingNode] = []
        for n in sorted(nodes, key=lambda n: n.name):
            used = Resources({})
            ports: list[HostPort] = []
            for p in by_node.get(n.name, ()):
                used = used + p.requests + ONE_POD
                ports.extend(p.scheduling.host_ports)
            self.existing.append(ExistingNode(n, n.allocatable - used, ports=ports))
        self.bound = tuple(p for p in bound_pods if p.node_name)
        self.remaining = {p.name: self._initial_remaining(p, nodes) for p in self.pools}
        # A NodePool whose limits are used up launches nothing, so it opens no domain.
        launching = [
            p for p in self.pools
            if all(v > 0 for v in (self.remaining[p.name] or {}).values())
        ]

        # Domains new nodes can take: what the catalog offers and some NodePool allows.
        def offered(key: str, values: set[str]) -> set[str]:
            return {
                v for v in values
                if any(p.requirements.get(key) is None or p.requirements[key].matches(v)
                       for p in launching)
            }

        self.topology = Topology(
            {
                LABEL_ZONE: offered(LABEL_ZONE, {z for z, _, _ in table.pairs}),
                LABEL_CAPACITY_TYPE: offered(LABEL_CAPACITY_TYPE, {ct for _, ct, _ in table.pairs}),
            }
        )
        for n in nodes:
            self.topology.add_node(n.labels, n.name)
        self.prefer_taints = any(
            t.effect == PREFER_NO_SCHEDULE
            for taints in [*(n.taints for n in nodes), *(p.taints for p in node_pools)]
            for t in taints
        )
        self._ladders: dict[Scheduling, tuple[Attempt, ...]] = {}
        self.overhead = {p.name: self._daemon_overhead(p, daemonsets) for p in self.pools}
        self.claims: list[Claim] = []
        self._narrow_cache: dict[tuple[Requirements, int, int], Requirements | None] = {}
        # Interned so equal asks share one object (and the id-keyed caches stay valid).
        self._interned: dict[Scheduling, Scheduling] = {}
        self._alts: dict[Scheduling, tuple[NodeSelectorTerm, ...]] = {}
        self._unit_cache: dict[tuple[Requirements, tuple[int, ...]], float] = {}
        self._priced_cache: dict[Requirements, tuple[IntArray, FloatArray]] = {}
        # Hook for the disruption optimiser: pod key -> existing nodes to try first.
        self.preferred: Mapping[str, Sequence[str]] = {}
        self._by_name: dict[str, ExistingNode] = {}
        self._bulk_cache: dict[tuple[int, tuple[int, ...]], int | None] = {}
        # A pool's launch requirements pinned to one offering, by (pool, type, capacity type).
        self._only: dict[tuple[str, int, str], Requirements] = {}
        self._widened: dict[tuple[str, int, tuple[int, ...], bytes],
                            tuple[Requirements, IntArray, float] | None] = {}

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

    def _cheapest(self, idx: IntArray, reqs: Requirements) -> float:
        """What the claim would launch at now: its cheapest type and allowed offering."""
        allowed, price = self._priced(reqs)
        if len(idx) == 0 or len(allowed) == 0:
            return float("inf")
        return float(price[np.searchsorted(allowed, idx)].min())

    def _priced(self, reqs: Requirements) -> tuple[IntArray, FloatArray]:
        """Types the requirements allow (sorted) and their cheapest allowed price."""
        hit = self._priced_cache.get(reqs)
        if hit is None:
            allowed = np.flatnonzero(self.table.mask(reqs))
            pairs = self.table.allowed_pairs(reqs)
            price = (self.table.price[allowed][:, pairs].min(axis=1) if pairs.any()
                     else np.full(len(allowed), np.inf))
            hit = self._priced_cache[reqs] = (allowed, price)
        return hit

    def _flexible_enough(self, reqs: Requirements, idx: IntArray) -> bool:
        """NodePool `minValues`: the claim must keep that many distinct values per key."""
        for key, req in reqs.items():
            if req.min_values is not None and self.table.distinct(key, idx) < req.min_values:
                return False
        return True

    def _topology(self, pod: Pod, attempt: Attempt, term: NodeSelectorTerm, reqs: Requirements,
                  name: str) -> Requirements | None:
        """Claim requirements narrowed by the pod's topology rules; None: no domain left.

        Spread counts look at the domains the pod itself may reach (`term`), not the claim's.
        """
        if not self.topology.active:
            return reqs
        return self.topology.narrow_claim(
            pod.namespace, pod.labels, attempt.sched, term.requirements,
            Target(name, requirements=reqs),
        )

    def _join(self, claim: Claim, pod: Pod, vec: IntArray, attempt: Attempt) -> _Candidate | None:
        """The claim as it would be with the pod on it, or None when the pod cannot join."""
        sched = attempt.sched
        if untolerated(sched.tolerations, claim.pool.taints, attempt.avoid_prefer_no_schedule):
            return None
        if _port_clash(sched.host_ports, claim.ports):
            return None
        need = claim.used + vec
        for no, term in enumerate(self._alternatives(sched)):
            reqs = self._narrow(claim.requirements, sched, no, term)
            if reqs is None:
                continue
            reqs = self._topology(pod, attempt, term, reqs, claim.name)
            if reqs is None:
                continue
            idx = claim.type_idx
            if reqs != claim.requirements:
                idx = idx[self.table.mask(reqs)[idx]]
            idx = self._fits(idx, need)
            if len(idx) and self._flexible_enough(reqs, idx):
                return _Candidate(claim.pool, reqs, idx, need, self._cheapest(idx, reqs))
        return None

    def _fresh(self, pod: Pod, vec: IntArray, attempt: Attempt) -> _Candidate | None:
        """A new claim for the pod alone, from the first NodePool (by weight) that can take it."""
        sched = attempt.sched
        for pool in self.pools:
            if untolerated(sched.tolerations, pool.taints, attempt.avoid_prefer_no_schedule):
                continue
            overhead = self.table.vector(self.overhead[pool.name])
            if overhead is None:
                continue
            need = np.array(overhead, dtype=np.int64) + vec
            limit_mask = self._limit_mask(pool)
            for no, term in enumerate(self._alternatives(sched)):
                reqs = self._narrow(self.launch_reqs[pool.name], sched, no, term)
                if reqs is None:
                    continue
                reqs = self._topology(pod, attempt, term, reqs, NEW_NODE)
                if reqs is None:
                    continue
                mask = self.table.mask(reqs)
                if limit_mask is not None:
                    mask = mask & limit_mask
                idx = self._fits(np.flatnonzero(mask), need)
                if len(idx) and self._flexible_enough(reqs, idx):
                    return _Candidate(pool, reqs, idx, need, self._cheapest(idx, reqs))
        return None

    def _refresh_room(self, claim: Claim) -> None:
        """The claim's room on its largest type and on its cheapest one."""
        alloc = self.table.allocatable[claim.type_idx]
        claim.max_free = tuple(int(v) for v in alloc.max(axis=0) - claim.used)
        allowed, price = self._priced(claim.requirements)
        if len(allowed):
            cheapest = int(np.argmin(price[np.searchsorted(allowed, claim.type_idx)]))
            claim.cheap_free = tuple(int(v) for v in alloc[cheapest] - claim.used)
        else:
            claim.cheap_free = claim.max_free

    def _commit(self, claim: Claim, pod: Pod, c: _Candidate, attempt: Attempt) -> None:
        claim.requirements = c.requirements
        claim.type_idx = c.type_idx
        claim.used = c.used
        claim.price = c.price
        self._refresh_room(claim)
        claim.pods.append(pod)
        claim.ports.extend(attempt.sched.host_ports)
        if self.topology.active:
            target = Target(claim.name, requirements=claim.requirements)
            self.topology.settle(target)
            self.topology.record(pod.namespace, pod.labels, attempt.sched, target,
                                 pod.scheduling.pod_anti_affinity)

    def _open(self, pod: Pod, c: _Candidate, attempt: Attempt) -> None:
        claim = Claim(
            name=f"{c.pool.name}-{self.claim_prefix}{len(self.claims) + 1:05d}",
            pool=c.pool,
            requirements=c.requirements,
            type_idx=c.type_idx,
            used=c.used,
            max_free=(),
        )
        self.claims.append(claim)
        self._commit(claim, pod, c, attempt)
        self._reserve(c.pool, c.type_idx)

    def _unit_cost(self, reqs: Requirements, vec: IntArray, row: tuple[int, ...]) -> float:
        """What the pod's share of a node costs at best under `reqs`.

        min over allowed types of price x the largest fraction of the type the pod uses: a
        size-free measure, so it compares capacity types, arches and families, not node sizes.
        """
        key = (reqs, row)
        cached = self._unit_cache.get(key)
        if cached is not None:
            return cached
        pairs = self.table.allowed_pairs(reqs)
        idx = np.flatnonzero(self.table.mask(reqs))
        cost = float("inf")
        if len(idx) and pairs.any():
            alloc = self.table.allocatable[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(vec > 0, vec / np.maximum(alloc, 1), 0.0)
                frac = np.where((alloc == 0) & (vec > 0), np.inf, frac).max(axis=1)
                cost = float((self.table.price[idx][:, pairs].min(axis=1) * frac).min())
        self._unit_cache[key] = cost
        return cost

    def _place_on_claims(self, pod: Pod, row: tuple[int, ...], attempt: Attempt) -> bool:
        """Join the first in-flight claim that fits, unless that costs more than going alone.

        Karpenter joins the first claim that fits, and a claim keeps growing into whatever
        type can still hold it all. Here a pod skips a claim when
        - the claim's requirements make the pod's share cost more than `JOIN_TOLERANCE` above
          its own (a spot-friendly pod on a claim an on-demand pod has pinned, say), or
        - joining raises the claim's launch price by more than a node of the pod's own
          would cost (`MARGINAL_TOLERANCE`): that keeps a claim from outgrowing what its pods
          fill (a 3 TB machine half empty).
        """
        vec = np.array(row, dtype=np.int64)
        fresh = self._fresh(pod, vec, attempt)
        own = self._unit_cost(fresh.requirements, vec, row) if fresh else float("inf")
        upgrades = 0
        # The most recent claims that still have room for the pod (one numpy step over all
        # of them), not just the most recent claims: under topology rules many claims keep
        # room that only some pods may use.
        room = self._room()
        window = np.flatnonzero((room >= vec).all(axis=1))[-CLAIM_WINDOW:].tolist()
        for i in window:
            claim = self.claims[i]
            if any(r > f for r, f in zip(row, claim.cheap_free, strict=True)):
                # Joining needs a bigger type: rarely worth it, and the check is the costly
                # part of a pass, so only a few are weighed per pod.
                if upgrades >= MAX_UPGRADE_CHECKS:
                    continue
                upgrades += 1
            joined = self._join(claim, pod, vec, attempt)
            if joined is None:
                continue
            if self._unit_cost(joined.requirements, vec, row) > own * (1 + JOIN_TOLERANCE):
                continue
            if fresh is not None and (
                joined.price - claim.price > fresh.price * (1 + MARGINAL_TOLERANCE)
            ):
                continue
            self._commit(claim, pod, joined, attempt)
            room[i] = claim.max_free
            return True
        if fresh is None:
            return False
        self._open(pod, fresh, attempt)
        return True

    def _existing_for(self, pod: Pod) -> Sequence[ExistingNode]:
        names = self.preferred.get(pod.key) if self.preferred else None
        if not names:
            return self.existing
        if len(self._by_name) != len(self.existing):
            self._by_name = {en.node.name: en for en in self.existing}
        # The rest follow in the usual order (a preferred node seen twice is harmless).
        return [self._by_name[n] for n in names if n in self._by_name] + self.existing

    def _room(self) -> IntArray:
        """Each claim's room on its largest type (`max_free`) as rows of one array.

        Kept for the current claims list: rows are added for new claims; a list replaced
        (a repack) or claims changed elsewhere (`_stale_room`) rebuild it.
        """
        n = len(self.claims)
        if self._room_for is not self.claims or self._room_n > n:
            self._room_rows = np.zeros((max(64, 2 * n), len(self.table.dims)), dtype=np.int64)
            self._room_n = 0
            self._room_for = self.claims
        if self._room_n < n:
            if n > len(self._room_rows):
                grown = np.zeros((2 * n, self._room_rows.shape[1]), dtype=np.int64)
                grown[: self._room_n] = self._room_rows[: self._room_n]
                self._room_rows = grown
            for j in range(self._room_n, n):
                self._room_rows[j] = self.claims[j].max_free
            self._room_n = n
        return self._room_rows[:n]

    def _stale_room(self) -> None:
        self._room_for = None

    def _spend(self, amount: float) -> None:
        """As a fallback, first fit stops once its claims cost more than the plan to beat:
        a claim's cheapest launch only rises as pods join, so it cannot win any more."""
        self._ffd_cost += amount
        if self._ffd_ceiling is not None and self._ffd_cost > self._ffd_ceiling + 1e-9:
            raise _OverBudget

    def _place_first_fit(self, pod: Pod, row: tuple[int, ...], attempt: Attempt) -> bool:
        """Karpenter's way: the first claim (oldest first) the pod can join, else a new one.

        The claims' room is kept as one array so the scan over every claim is one numpy
        step; only claims with room are asked whether the pod may join.
        """
        vec = np.array(row, dtype=np.int64)
        n = len(self.claims)
        for i in np.flatnonzero((self._free[:n] >= vec).all(axis=1)).tolist():
            claim = self.claims[i]
            if self._join_budget is not None:
                self._join_budget -= 1
                if self._join_budget < 0:
                    raise _OverBudget
            joined = self._join(claim, pod, vec, attempt)
            if joined is not None:
                self._spend(joined.price - claim.price)
                self._commit(claim, pod, joined, attempt)
                self._free[i] = claim.max_free
                return True
        fresh = self._fresh(pod, vec, attempt)
        if fresh is None:
            return False
        self._spend(fresh.price)
        self._open(pod, fresh, attempt)
        if len(self._free) < len(self.claims):
            grown = np.zeros((max(64, 2 * len(self._free)), self._free.shape[1]), np.int64)
            grown[: len(self._free)] = self._free
            self._free = grown
        self._free[len(self.claims) - 1] = self.claims[-1].max_free
        return True

    def _place_on_existing(self, pod: Pod, request: Resources, attempt: Attempt) -> str | None:
        alternatives = self._alternatives(attempt.sched)
        for en in self._existing_for(pod):
            if not en.admits(request, attempt, alternatives):
                continue
            target = Target(en.node.name, labels=en.node.labels)
            if self.topology.active and not any(
                self.topology.fits_node(
                    pod.namespace, pod.labels, attempt.sched, t.requirements, target
                )
                for t in alternatives
                if t.requirements.matches_labels(en.node.labels)
            ):
                continue
            en.free = en.free - request
            en.pods.append(pod)
            en.ports.extend(attempt.sched.host_ports)
            if self.topology.active:
                self.topology.record(pod.namespace, pod.labels, attempt.sched, target,
                                     pod.scheduling.pod_anti_affinity)
            return en.node.name
        return None

    def _ladder(self, sched: Scheduling) -> tuple[Attempt, ...]:
        attempts = self._ladders.get(sched)
        if attempts is None:
            attempts = self._ladders[sched] = ladder(sched, self.prefer_taints)
        return attempts

    def _start_topology(self, pending: Sequence[Pod]) -> None:
        """Make every group the pass can need, then count the bound pods into them."""
        for p in (*self.bound, *pending):
            self.topology.prepare(p.namespace, p.scheduling)
        if not self.topology.active:
            return
        nodes = {en.node.name: en.node for en in self.existing}
        for p in self.bound:
            node = nodes.get(p.node_name or "")
            if node is not None:
                self.topology.record(p.namespace, p.labels, p.scheduling,
                                     Target(node.name, labels=node.labels),
                                     p.scheduling.pod_anti_affinity)

    def solve(self, pending: Sequence[Pod]) -> SchedulingResult:
        result = self._solve(pending)
        if self.strategy == "ffd" or not self.improve or not result.claims:
            return result
        # Never dearer than Karpenter's first fit: run it too and keep it when it is cheaper
        # and places as many pods. Its scan is quadratic where pods keep refusing claims
        # (anti-affinity), so it gives up after a fixed number of join checks.
        pools, nodes, bound, daemonsets = self._inputs
        ffd = Scheduler(self.table, pools, nodes, bound, daemonsets, self.claim_prefix,
                        strategy="ffd")
        ffd._join_budget = FFD_JOINS_PER_POD * len(pending)
        ffd._ffd_ceiling = _launch_cost(result)
        try:
            baseline = ffd._solve(pending)
        except _OverBudget:
            return result
        if (len(baseline.unschedulable) <= len(result.unschedulable)
                and _launch_cost(baseline) < _launch_cost(result) - 1e-9):
            return baseline
        return result

    def _solve(self, pending: Sequence[Pod]) -> SchedulingResult:
        placed_existing: dict[str, list[Pod]] = {}
        unschedulable: list[tuple[Pod, str]] = []
        self._start_topology(pending)
        # Pods no other pod's placement depends on, bound for a NodePool without limits, are
        # planned together by whole-node patterns once the others are placed (one LP per
        # class of identical pods, not one decision per pod).
        by_patterns = (self.strategy == "scaler" and self.improve and not self.prefer_taints)
        deferred: dict[int, list[Pod]] = {}  # NodePool index -> pods
        for pod in sorted(pending, key=_sort_key):
            sched = self._interned.setdefault(pod.scheduling, pod.scheduling)
            request = pod.requests + ONE_POD
            row = self.table.vector(request)
            attempts = self._ladder(sched)
            done = False
            for attempt in attempts:
                node = self._place_on_existing(pod, request, attempt)
                if node is not None:
                    placed_existing.setdefault(node, []).append(pod)
                    done = True
                elif row is not None:
                    if self.strategy == "ffd":
                        done = self._place_first_fit(pod, row, attempt)
                    elif by_patterns and (pool := self._bulk_pool(pod, row, attempt)) is not None:
                        deferred.setdefault(pool, []).append(pod)
                        done = True
                    else:
                        done = self._place_on_claims(pod, row, attempt)
                if done:
                    break
            if not done:
                reason = explain_unschedulable(self, pod, request, attempts[-1])
                unschedulable.append((pod, reason))
        if deferred:
            unschedulable.extend(self._plan_deferred(deferred))
        self._keep_on_demand_share()
        if deferred:
            for n, c in enumerate(self.claims, start=1):
                c.name = f"{c.pool.name}-{self.claim_prefix}{n:05d}"
        return SchedulingResult(
            existing={k: tuple(v) for k, v in placed_existing.items()},
            claims=tuple(self._plan(c) for c in self.claims),
            unschedulable=tuple(unschedulable),
        )

    def _fill_gaps(self, pods: Sequence[Pod]) -> list[Pod]:
        """Seat deferred pods in room the greedy's claims have left on the type they would
        launch as now (free: the price does not move); return the pods still to plan.

        The claims of pods with topology rules are often far from full (one pod per node
        under hostname anti-affinity); first fit would fill them, so this does too.
        """
        if not self.claims:
            return list(pods)
        room = np.array([c.cheap_free for c in self.claims], dtype=np.int64)
        left: list[Pod] = []
        for pod in sorted(pods, key=_sort_key):
            row = self.table.vector(pod.requests + ONE_POD)
            if row is None:
                left.append(pod)
                continue
            vec = np.array(row, dtype=np.int64)
            attempt = self._ladder(self._interned[pod.scheduling])[0]
            seated = False
            tries = 0
            for i in np.flatnonzero((room >= vec).all(axis=1)).tolist():
                claim = self.claims[i]
                joined = self._join(claim, pod, vec, attempt)
                if joined is not None and joined.price <= claim.price + 1e-12:
                    self._commit(claim, pod, joined, attempt)
                    room[i] = claim.cheap_free
                    seated = True
                    break
                tries += 1
                if tries >= GAP_TRIES:
                    break
            if not seated:
                left.append(pod)
        self._stale_room()
        return left

    def _bulk_pool(self, pod: Pod, row: tuple[int, ...], attempt: Attempt) -> int | None:
        """The NodePool (index) a pod to plan by patterns would launch in, else None."""
        if attempt is not self._ladder(attempt.sched)[0] or not self._movable(pod):
            return None
        key = (id(attempt.sched), row)
        if key not in self._bulk_cache:
            fresh = self._fresh(pod, np.array(row, dtype=np.int64), attempt)
            pool = None if fresh is None or fresh.pool.limits is not None else fresh.pool
            self._bulk_cache[key] = None if pool is None else self.pools.index(pool)
        return self._bulk_cache[key]

    def _plan_deferred(self, deferred: Mapping[int, list[Pod]]) -> list[tuple[Pod, str]]:
        """New nodes for the deferred pods; the pods that cannot have any, with the reason.

        Two whole-node plans are tried and the cheaper kept: node patterns (column
        generation, then a MIP) and the LP bound's own plan packed first-fit per kind; the
        pods either leaves over go through the greedy. If neither seats every pod, the
        greedy places them all (and explains what it cannot place).
        """
        pods = [p for i in sorted(deferred) for p in deferred[i]]
        home = {id(p): self.pools[i].name for i, group in deferred.items() for p in group}
        pods = self._fill_gaps(pods)
        if not pods:
            return []
        pool_of = {id(p): home[id(p)] for p in pods}
        classes, kinds, meta, members = self._lp_model(pods, pool_of)
        repacks: list[Callable[[], float | None]] = []
        plan = plan_patterns(classes, kinds, PATTERN_BUDGET)
        if plan is not None:
            repacks.append(lambda: self._pack_patterns(plan.nodes, members, meta))
        bound = lower_bound(classes, kinds, PATTERN_BUDGET)
        if bound.assignment is not None:
            assignment = bound.assignment
            repacks.append(
                lambda: self._pack(*self._whole_from_lp(assignment, members), meta))
        kept = self.claims
        best: list[Claim] | None = None
        best_cost = float("inf")
        for repack in repacks:
            self.claims = []  # leftovers join only this plan's claims (kept ones stay as they are)
            cost = repack()
            if cost is not None and cost < best_cost:
                best_cost, best = cost, self.claims
        self.claims = kept + (best or [])
        if best is not None:
            return []
        failed: list[tuple[Pod, str]] = []
        for pod in sorted(pods, key=_sort_key):
            request = pod.requests + ONE_POD
            row = self.table.vector(request)
            attempts = self._ladder(self._interned[pod.scheduling])
            if row is None or not any(self._place_on_claims(pod, row, a) for a in attempts):
                failed.append((pod, explain_unschedulable(self, pod, request, attempts[-1])))
        return failed

    def lower_bound(self, pods: Sequence[Pod], time_limit: float = 10.0) -> Bound:
        """The LP lower bound on new capacity for these pending pods (see `bound`)."""
        classes, kinds, _, _ = self._lp_model(pods)
        return lower_bound(classes, kinds, time_limit)

    def capacity_model(
        self, pods: Sequence[Pod]
    ) -> tuple[list[PodClass], Kinds, list[tuple[NodePool, int, str]], list[list[Pod]]]:
        """The LP's pod classes and new-node kinds, for models built elsewhere (disruption)."""
        return self._lp_model(pods)

    def _lp_model(
        self, pods: Sequence[Pod], pool_of: Mapping[int, str] | None = None
    ) -> tuple[list[PodClass], Kinds, list[tuple[NodePool, int, str]], list[list[Pod]]]:
        """Pod classes (with their pods) and node kinds (pool, type, capacity type).

        `pool_of` (id of a pod -> NodePool name) keeps each class to the pool it must use.
        """
        table = self.table
        cts = sorted({ct for _, ct, _ in table.pairs})
        n_types = len(table)
        kinds: list[tuple[NodePool, int, str]] = [
            (pool, i, ct) for pool in self.pools for ct in cts for i in range(n_types)
        ]
        price = np.full(len(kinds), np.inf)
        capacity = np.zeros((len(kinds), len(table.dims)), dtype=np.int64)
        for p_no, pool in enumerate(self.pools):
            overhead = np.array(table.vector(self.overhead[pool.name]) or
                                (0,) * len(table.dims), dtype=np.int64)
            pairs = table.allowed_pairs(self.launch_reqs[pool.name])
            for c_no, ct in enumerate(cts):
                cols = pairs & np.array([c == ct for _, c, _ in table.pairs], dtype=np.bool_)
                start = (p_no * len(cts) + c_no) * n_types
                if cols.any():
                    price[start:start + n_types] = table.price[:, cols].min(axis=1)
                capacity[start:start + n_types] = np.maximum(table.allocatable - overhead, 0)
        groups: dict[tuple[int, tuple[int, ...], str], tuple[Scheduling, list[Pod]]] = {}
        for pod in pods:
            row = table.vector(pod.requests + ONE_POD)
            if row is None:
                continue
            sched = self._interned.setdefault(pod.scheduling, pod.scheduling)
            home = pool_of.get(id(pod), "") if pool_of is not None else ""
            groups.setdefault((id(sched), row, home), (sched, []))[1].append(pod)
        classes: list[PodClass] = []
        members: list[list[Pod]] = []
        for (_, row, home), (sched, group) in groups.items():
            count = len(group)
            members.append(group)
            attempt = self._ladder(sched)[-1]  # the loosest: still a valid bound
            allowed = np.zeros(len(kinds), dtype=np.bool_)
            for p_no, pool in enumerate(self.pools):
                if untolerated(attempt.sched.tolerations, pool.taints):
                    continue
                if home and pool.name != home:
                    continue
                for term in self._alternatives(attempt.sched):
                    reqs = narrow(self.launch_reqs[pool.name], term)
                    if reqs is None:
                        continue
                    mask = table.mask(reqs)
                    pairs = table.allowed_pairs(reqs)
                    for c_no, ct in enumerate(cts):
                        if any(pairs[j] for j, (_, c, _) in enumerate(table.pairs) if c == ct):
                            start = (p_no * len(cts) + c_no) * n_types
                            allowed[start:start + n_types] |= mask
            allowed &= np.isfinite(price)
            # A pod is whole: only kinds where one fits (a tighter bound, still valid).
            allowed &= (capacity >= np.array(row, dtype=np.int64)).all(axis=1)
            classes.append(PodClass(row, count, allowed))
        return classes, Kinds(price, capacity), kinds, members

    # -- packing after the LP -------------------------------------------------------------

    def _movable(self, pod: Pod) -> bool:
        """A pod whose node nothing else cares about: no topology, ports or preferences."""
        s = pod.scheduling
        if (s.topology_spread or s.pod_affinity or s.pod_anti_affinity or s.host_ports
                or s.preferred_terms or s.preferred_pod_affinity
                or s.preferred_pod_anti_affinity):
            return False
        if not self.topology.active:
            return True
        if self.topology._groups_picking(pod.namespace, pod.labels):
            return False
        return not any(t.selects(pod.namespace, pod.labels) for t in self.topology.owners)

    @staticmethod
    def _whole_from_lp(
        assignment: Mapping[tuple[int, int], float], members: Sequence[Sequence[Pod]]
    ) -> tuple[dict[int, list[Pod]], list[Pod]]:
        """The LP's whole pods per kind, and the pods its fractions leave over."""
        whole: dict[int, list[Pod]] = {}
        taken = [0] * len(members)
        for (k, o), amount in sorted(assignment.items()):
            n = int(amount + 1e-6)
            whole.setdefault(o, []).extend(members[k][taken[k]:taken[k] + n])
            taken[k] += n
        left = [p for k, group in enumerate(members) for p in group[taken[k]:]]
        return whole, left

    def _pack(self, whole: Mapping[int, list[Pod]], left: Sequence[Pod],
              meta: Sequence[tuple[NodePool, int, str]]) -> float | None:
        """Pack whole pods by kind, then the rest greedily; the new claims' price, or None."""
        for o, group in sorted(whole.items()):
            pool, i, ct = meta[o]
            open_claims: list[Claim] = []
            for pod in sorted(group, key=_sort_key):
                if not self._pack_on_kind(pod, pool, i, ct, open_claims):
                    return None
            for claim in open_claims:
                self._widen(claim)
        for pod in sorted(left, key=_sort_key):
            attempt = self._ladder(self._interned[pod.scheduling])[-1]
            row = self.table.vector(pod.requests + ONE_POD)
            if row is None or not self._place_on_claims(pod, row, attempt):
                return None
        return sum(c.price for c in self.claims)

    def _pack_patterns(self, nodes: Sequence[tuple[Pattern, int]],
                       members: Sequence[Sequence[Pod]],
                       meta: Sequence[tuple[NodePool, int, str]]) -> float | None:
        """One claim per node of the pattern plan, then the pods it could not seat greedily."""
        for pod in sorted(self._seat_patterns(nodes, members, meta), key=_sort_key):
            attempt = self._ladder(self._interned[pod.scheduling])[-1]
            row = self.table.vector(pod.requests + ONE_POD)
            if row is None or not self._place_on_claims(pod, row, attempt):
                return None
        return sum(c.price for c in self.claims)

    def _seat_patterns(self, nodes: Sequence[tuple[Pattern, int]],
                       members: Sequence[Sequence[Pod]],
                       meta: Sequence[tuple[NodePool, int, str]]) -> list[Pod]:
        """A claim per node of the pattern plan; the pods it does not seat."""
        taken = [0] * len(members)
        left: list[Pod] = []
        for pattern, count in nodes:
            pool, i, ct = meta[pattern.kind]
            for _ in range(count):
                group: list[Pod] = []
                for k, n in pattern.counts:
                    seat = members[k][taken[k]:taken[k] + n]
                    group.extend(seat)
                    taken[k] += len(seat)
                if not group:
                    continue  # the plan covers more than there is: this node is not needed
                open_claims: list[Claim] = []
                for pod in sorted(group, key=_sort_key):
                    if not self._pack_on_kind(pod, pool, i, ct, open_claims):
                        left.append(pod)
                for claim in open_claims:
                    self._widen(claim)
        left.extend(p for k, group in enumerate(members) for p in group[taken[k]:])
        return left

    def _widen(self, claim: Claim) -> None:
        """Let a claim packed for one offering launch any type and capacity type that holds it.

        The pin to one type served the packing; the launch wants alternatives (a spot fleet
        most of all), the on-demand share may need to move it, and the cheapest of them is
        never dearer than what was packed for. The requirements are rebuilt from the
        NodePool's and each pod's, without the pin.
        """
        scheds = tuple(dict.fromkeys(id(self._interned[p.scheduling]) for p in claim.pods))
        key = (claim.pool.name, int(claim.type_idx[0]), scheds, claim.used.tobytes())
        if key in self._widened:
            hit = self._widened[key]
            if hit is not None:
                claim.requirements, claim.type_idx, claim.price = hit
                self._refresh_room(claim)
                self._stale_room()
            return
        self._widened[key] = None
        wide: Requirements | None = self.launch_reqs[claim.pool.name]
        for pod in claim.pods:
            sched = self._ladder(self._interned[pod.scheduling])[-1].sched
            for term in self._alternatives(sched):
                narrowed = narrow(wide, term) if wide is not None else None
                # The term that kept the claim's packed type is the one its pod used.
                if narrowed is not None and self.table.mask(narrowed)[claim.type_idx].any():
                    wide = narrowed
                    break
            else:
                return
        if wide is None:
            return
        idx = self._fits(np.flatnonzero(self.table.mask(wide)), claim.used)
        if not len(idx) or not self._flexible_enough(wide, idx):
            return
        claim.requirements, claim.type_idx = wide, idx
        claim.price = self._cheapest(idx, wide)
        self._widened[key] = (wide, idx, claim.price)
        self._refresh_room(claim)
        self._stale_room()

    def _pack_on_kind(self, pod: Pod, pool: NodePool, i: int, ct: str,
                      open_claims: list[Claim]) -> bool:
        """First fit of the pod onto nodes of type i at capacity type ct in the pool."""
        sched = self._ladder(self._interned[pod.scheduling])[-1].sched
        if untolerated(sched.tolerations, pool.taints):
            return False
        row = self.table.vector(pod.requests + ONE_POD)
        if row is None:
            return False
        vec = np.array(row, dtype=np.int64)
        alloc = self.table.allocatable[i]
        window = open_claims[-CLAIM_WINDOW:]
        if len(window) > 2:
            # One numpy step for the window instead of one per claim.
            room = (np.array([c.used for c in window]) + vec <= alloc).all(axis=1)
            window = [c for c, ok in zip(window, room.tolist(), strict=True) if ok]
        for claim in window:
            need = claim.used + vec
            if not (alloc >= need).all():
                continue
            for no, term in enumerate(self._alternatives(sched)):
                reqs = self._narrow(claim.requirements, sched, no, term)
                if reqs is not None and self.table.mask(reqs)[i]:
                    if reqs != claim.requirements:
                        claim.requirements = reqs
                        claim.price = self._cheapest(claim.type_idx, reqs)
                    claim.used = need
                    claim.max_free = claim.cheap_free = tuple(int(v) for v in alloc - need)
                    claim.pods.append(pod)
                    self._stale_room()
                    return True
        only = self._only.get((pool.name, i, ct))
        if only is None:
            pin = Requirements([
                Requirement.of(LABEL_INSTANCE_TYPE, IN, [self.table.types[i].name]),
                Requirement.of(LABEL_CAPACITY_TYPE, IN, [ct]),
            ])
            only = self._only[(pool.name, i, ct)] = self.launch_reqs[pool.name].intersect(pin)
        overhead = np.array(self.table.vector(self.overhead[pool.name]) or
                            (0,) * len(self.table.dims), dtype=np.int64)
        need = overhead + vec
        if not (self.table.allocatable[i] >= need).all():
            return False
        for no, term in enumerate(self._alternatives(sched)):
            reqs = self._narrow(only, sched, no, term)
            if reqs is None or not self.table.mask(reqs)[i]:
                continue
            idx = np.array([i], dtype=np.int64)
            claim = Claim(name=f"{pool.name}-{self.claim_prefix}p{len(self.claims) + 1:05d}",
                          pool=pool, requirements=reqs, type_idx=idx,
                          used=need, max_free=(), pods=[pod])
            claim.price = self._cheapest(idx, reqs)
            free = self.table.allocatable[i] - need
            claim.max_free = claim.cheap_free = tuple(int(v) for v in free)
            open_claims.append(claim)
            self.claims.append(claim)
            return True
        return False

    def _keep_on_demand_share(self) -> None:
        """Move the cheapest-to-move claims to on-demand until each pool's share is met.

        The share is of the new nodes' vCPU (the pods' requests), per NodePool with
        `min_on_demand_pct`; a claim moves only if some of its types is offered on-demand.
        """
        cpu = self.table.dim_index["cpu"]
        od = Requirements([Requirement.of(LABEL_CAPACITY_TYPE, IN, [ON_DEMAND])])
        for pool in self.pools:
            if not pool.min_on_demand_pct:
                continue
            mine = [c for c in self.claims if c.pool.name == pool.name]
            total = sum(int(c.used[cpu]) for c in mine)
            on_demand = sum(int(c.used[cpu]) for c in mine if self._only_on_demand(c))
            # Cheapest extra cost per vCPU moved first.
            movable: list[tuple[float, Claim, Requirements, IntArray]] = []
            for c in mine:
                if self._only_on_demand(c):
                    continue
                reqs = c.requirements.intersect(od)
                idx = c.type_idx[self.table.mask(reqs)[c.type_idx]]
                if len(idx):
                    extra = self._cheapest(idx, reqs) - c.price
                    movable.append((extra / max(int(c.used[cpu]), 1), c, reqs, idx))
            for _, c, reqs, idx in sorted(movable, key=lambda m: (m[0], m[1].name)):
                if on_demand * 100 >= pool.min_on_demand_pct * total:
                    break
                c.requirements, c.type_idx = reqs, idx
                c.price = self._cheapest(idx, reqs)
                on_demand += int(c.used[cpu])

    def _only_on_demand(self, claim: Claim) -> bool:
        ct = claim.requirements.get(LABEL_CAPACITY_TYPE)
        return ct is not None and not ct.complement and ct.values == frozenset({ON_DEMAND})

    def _plan(self, claim: Claim) -> ClaimPlan:
        used = Resources({d: int(v) for d, v in zip(self.table.dims, claim.used, strict=True)})
        options = self.table.options(
            claim.type_idx, claim.requirements, MAX_LAUNCH_OPTIONS, claim.pool.min_spot_types
        )
        prefer = claim.pool.prefer_arch
        if prefer and options:
            # The preferred architecture goes first while within its price premium.
            ceiling = options[0].price * (1 + claim.pool.prefer_arch_premium_pct / 100)
            first = [o for o in options if o.arch == prefer and o.price <= ceiling + 1e-12]
            options = tuple(first) + tuple(o for o in options if o not in first)
        return ClaimPlan(
            name=claim.name,
            node_pool=claim.pool.name,
            requirements=claim.requirements,
            pods=tuple(claim.pods),
            requests=used,
            options=options,
        )

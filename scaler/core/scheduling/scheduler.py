"""First-fit scheduling of pending pods: existing nodes, then in-flight claims, then new claims.

The order follows Karpenter's provisioner: pods by priority, then by size (CPU, then memory,
largest first); an existing node is used when the pod fits there, otherwise an in-flight node
claim, otherwise a new claim from the highest-weight NodePool that can take the pod. A claim
keeps every instance type that can still hold all of its pods and launches the cheapest
offering among them, with the others as ranked alternatives.

Nodes and claims own their admission (`existing.py`, `claim.py`); what new nodes can be is
`capacity.py`; whole-node plans for pods nothing else cares about are `whole_nodes.py`; the
launch's ranking and the on-demand share are `launch_options.py`. This module only runs the
loop and the choices between those parts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_ZONE,
    PREFER_NO_SCHEDULE,
    DaemonSet,
    Node,
    NodePool,
    Pod,
    Scheduling,
)
from scaler.core.resources import Resources
from scaler.core.scheduling.balanced import lp_patterns
from scaler.core.scheduling.bound import Bound, lower_bound
from scaler.core.scheduling.capacity import (
    ONE_POD,
    NewCapacity,
    initial_limits,
    limit_mask,
    reserve,
)
from scaler.core.scheduling.claim import Candidate, Claim, ClaimPlan, Lookups, Refused
from scaler.core.scheduling.existing import ExistingNode, existing_nodes
from scaler.core.scheduling.explain import ExplainContext, explain_unschedulable
from scaler.core.scheduling.host_caps import HostCaps, NodeCaps
from scaler.core.scheduling.instancetypes import InstanceTypeTable, IntArray
from scaler.core.scheduling.launch_options import (
    ShareCost,
    keep_on_demand_share,
    plan_of,
)
from scaler.core.scheduling.patterns import plan_patterns
from scaler.core.scheduling.predicates import untolerated
from scaler.core.scheduling.preferences import Attempt, ladder
from scaler.core.scheduling.tails import merge_tails
from scaler.core.scheduling.topology import NEW_NODE, Target, Topology
from scaler.core.scheduling.whole_nodes import (
    CLAIM_WINDOW,
    WholeNodes,
    movable,
    sort_key,
)
from scaler.core.scheduling.zonal_affinity import ZonePicker, pin_zonal_self_affinity
from scaler.core.scheduling.zonal_spread import split_zonal_spread

STRATEGIES = ("scaler", "ffd")
# How much dearer a pod's share may get by joining an in-flight claim (see _place_on_claims).
JOIN_TOLERANCE = 0.10
# A join may raise a claim's price by up to this much over a node of the pod's own.
MARGINAL_TOLERANCE = 0.10
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


@dataclass(frozen=True, slots=True)
class SchedulingResult:
    existing: Mapping[str, tuple[Pod, ...]]  # node name -> pods placed there by this pass
    claims: tuple[ClaimPlan, ...]
    unschedulable: tuple[tuple[Pod, str], ...]


class _OverBudget(Exception):
    """The first-fit fallback spent its join checks."""


def _restored(result: SchedulingResult, originals: Mapping[int, Pod]) -> SchedulingResult:
    """The result with each pod planned under a stand-in ask (a pinned zone) as given."""
    def back(pods: Sequence[Pod]) -> tuple[Pod, ...]:
        return tuple(originals.get(id(p), p) for p in pods)

    return SchedulingResult(
        existing={k: back(v) for k, v in result.existing.items()},
        claims=tuple(dataclasses.replace(c, pods=back(c.pods)) for c in result.claims),
        unschedulable=tuple((originals.get(id(p), p), why) for p, why in result.unschedulable),
    )


def _spreads_per_node(claim: Claim) -> bool:
    """Whether a pod on the claim owns a hostname topology spread constraint."""
    return any(c.topology_key == LABEL_HOSTNAME for p in claim.pods
               for c in p.scheduling.topology_spread)


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
        join_budget: int | None = None,
        cost_ceiling: float | None = None,
    ) -> None:
        self.table = table
        # Claim names must be unique for the cluster's life (the AWS provider finds a retried
        # launch by its claim's tag); a controller passes a fresh prefix per pass.
        self.claim_prefix = claim_prefix
        # Plan movable pods by whole-node patterns and check against first fit (see solve).
        self.improve = improve
        # "ffd": Karpenter's first-fit decreasing, the baseline our packing is measured
        # against: each pod joins the first in-flight claim that can hold it, whatever it
        # costs, and nothing is repacked afterwards.
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self._inputs = (node_pools, nodes, bound_pods, daemonsets)
        # First fit as a fallback gives up past this many join checks (_OverBudget) ...
        self._join_budget = join_budget
        # ... or once its claims cost more than this (the plan it would have to beat).
        self._ffd_ceiling = cost_ceiling
        self._ffd_cost = 0.0
        # _room's array and the claims list it describes
        self._room_rows = np.zeros((0, len(table.dims)), dtype=np.int64)
        self._room_n = 0
        self._room_for: list[Claim] | None = None
        self._free = np.zeros((0, len(table.dims)), dtype=np.int64)  # ffd: claims' max_free
        self.capacity = NewCapacity(table, node_pools, daemonsets)
        self.pools = self.capacity.pools
        self.launch_reqs = self.capacity.launch_reqs
        self.overhead = self.capacity.overhead
        self.existing: list[ExistingNode] = existing_nodes(nodes, bound_pods)
        self.bound = tuple(p for p in bound_pods if p.node_name)
        self.remaining = {p.name: initial_limits(table, p, nodes) for p in self.pools}
        self.topology = self._new_topology(nodes)
        self.prefer_taints = any(
            t.effect == PREFER_NO_SCHEDULE
            for taints in [*(n.taints for n in nodes), *(p.taints for p in node_pools)]
            for t in taints
        )
        self.lookups = Lookups(table, self.topology)
        self._share_cost = ShareCost(table)
        self._ladders: dict[Scheduling, tuple[Attempt, ...]] = {}
        self.claims: list[Claim] = []
        # Interned so equal asks share one object (and the id-keyed caches stay valid).
        self._interned: dict[Scheduling, Scheduling] = {}
        # Hook for the disruption optimiser: pod key -> existing nodes to try first.
        self.preferred: Mapping[str, Sequence[str]] = {}
        self._by_name: dict[str, ExistingNode] = {}
        self._bulk_cache: dict[tuple[int, tuple[int, ...]], int | None] = {}
        self.whole = WholeNodes(self.capacity, self.lookups, claim_prefix, self._loosest)

    def _new_topology(self, nodes: Sequence[Node]) -> Topology:
        # A NodePool whose limits are used up launches nothing, so it opens no domain.
        launching = [
            p for p in self.pools
            if all(v > 0 for v in (self.remaining[p.name] or {}).values())
        ]

        # Domains new nodes can take: where some NodePool has a type it may launch now. A
        # zone whose offerings are all out of capacity (or that the pool's types are not
        # offered in) is no domain, as in Karpenter, whose zone requirement of an instance
        # type lists its available offerings: pods spread over the zones that can hold them.
        pairs = {pair for p in launching
                 for pair in self.table.available_pairs(self.launch_reqs[p.name])}
        topology = Topology(
            {
                LABEL_ZONE: {z for z, _, _ in pairs},
                LABEL_CAPACITY_TYPE: {ct for _, ct, _ in pairs},
            }
        )
        for n in nodes:
            topology.add_node(n.labels, n.name, n.taints)
        return topology

    def _ladder(self, sched: Scheduling) -> tuple[Attempt, ...]:
        attempts = self._ladders.get(sched)
        if attempts is None:
            attempts = self._ladders[sched] = ladder(sched, self.prefer_taints)
        return attempts

    def _loosest(self, pod: Pod) -> Scheduling:
        """The pod's ask with every preference given up (one object per equal ask)."""
        return self._ladder(self._interned[pod.scheduling])[-1].sched

    def _explain(self, pod: Pod, request: Resources, attempt: Attempt) -> str:
        ctx = ExplainContext(
            self.table, tuple(self.pools), self.launch_reqs, self.overhead,
            {k: (dict(v) if v is not None else None) for k, v in self.remaining.items()},
            existing=self.existing, topology=self.topology,
        )
        return explain_unschedulable(ctx, pod, request, attempt)

    # -- the pass -------------------------------------------------------------------------

    def solve(self, pending: Sequence[Pod]) -> SchedulingResult:
        result = self.plan(pending)
        if self.strategy == "ffd" or not self.improve or not result.claims:
            return result
        # Never dearer than Karpenter's first fit: run it too and keep it when it is cheaper
        # and places as many pods. Its scan is quadratic where pods keep refusing claims
        # (anti-affinity), so it gives up after a fixed number of join checks.
        pools, nodes, bound, daemonsets = self._inputs
        ffd = Scheduler(self.table, pools, nodes, bound, daemonsets, self.claim_prefix,
                        strategy="ffd", join_budget=FFD_JOINS_PER_POD * len(pending),
                        cost_ceiling=_launch_cost(result))
        try:
            baseline = ffd.plan(pending)
        except _OverBudget:
            return result
        if (len(baseline.unschedulable) <= len(result.unschedulable)
                and _launch_cost(baseline) < _launch_cost(result) - 1e-9):
            return baseline
        return result

    def plan(self, pending: Sequence[Pod]) -> SchedulingResult:
        """This scheduler's own plan, without `solve`'s comparison with first fit."""
        # Pods no other pod's placement depends on, bound for a NodePool without limits, are
        # planned together by whole-node patterns once the others are placed (one LP per
        # class of identical pods, not one decision per pod). Zonal self-affinity groups
        # join them, pinned to one zone each (zonal_affinity.py), and so do zonal spread
        # groups, split over the zones (zonal_spread.py).
        by_patterns = (self.strategy == "scaler" and self.improve and not self.prefer_taints)
        originals: dict[int, Pod] = {}
        if by_patterns:
            picker = ZonePicker(self.table, self.pools, self.launch_reqs)
            zones = self.topology.universes.get(LABEL_ZONE, ())
            pending, originals = pin_zonal_self_affinity(
                pending, self.bound, self.table, picker, zones)
            # Zonal spread groups split over the zones up front (zonal_spread.py).
            pending, split = split_zonal_spread(
                pending, self.bound, [en.node for en in self.existing], self.table, picker,
                zones)
            originals = {k: originals.get(id(v), v) for k, v in split.items()} | originals
        result = self._place_all(pending)
        return _restored(result, originals) if originals else result

    def _place_all(self, pending: Sequence[Pod]) -> SchedulingResult:
        placed_existing: dict[str, list[Pod]] = {}
        unschedulable: list[tuple[Pod, str]] = []
        self._start_topology(pending)
        by_patterns = (self.strategy == "scaler" and self.improve and not self.prefer_taints)
        deferred: dict[int, list[Pod]] = {}  # NodePool index -> pods
        for pod in sorted(pending, key=sort_key):
            sched = self._interned.setdefault(pod.scheduling, pod.scheduling)
            request = pod.requests + ONE_POD
            row = self.table.vector(request)
            attempts = self._ladder(sched)
            done = False
            for attempt in attempts:
                # Existing nodes, then in-flight claims, then a new one.
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
                unschedulable.append((pod, self._explain(pod, request, attempts[-1])))
        if deferred:
            unschedulable.extend(self._plan_deferred(deferred))
        keep_on_demand_share(self.claims, self.pools, self.lookups)
        if deferred:
            for n, c in enumerate(self.claims, start=1):
                c.name = f"{c.pool.name}-{self.claim_prefix}{n:05d}"
        return SchedulingResult(
            existing={k: tuple(v) for k, v in placed_existing.items()},
            claims=tuple(plan_of(c, self.table) for c in self.claims),
            unschedulable=tuple(unschedulable),
        )

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

    # -- existing nodes -------------------------------------------------------------------

    def _existing_for(self, pod: Pod) -> Sequence[ExistingNode]:
        names = self.preferred.get(pod.key) if self.preferred else None
        if not names:
            return self.existing
        if len(self._by_name) != len(self.existing):
            self._by_name = {en.node.name: en for en in self.existing}
        # The rest follow in the usual order (a preferred node seen twice is harmless).
        return [self._by_name[n] for n in names if n in self._by_name] + self.existing

    def _place_on_existing(self, pod: Pod, request: Resources, attempt: Attempt) -> str | None:
        alternatives = self.lookups.alternatives(attempt.sched)
        for en in self._existing_for(pod):
            if en.can_add(pod, request, attempt, alternatives, self.topology) is None:
                en.add(pod, request, attempt, self.topology)
                return en.node.name
        return None

    # -- in-flight and new claims ---------------------------------------------------------

    def _fresh(self, pod: Pod, vec: IntArray, attempt: Attempt) -> Candidate | None:
        """A new claim for the pod alone, from the first NodePool (by weight) that can take it."""
        sched = attempt.sched
        lk = self.lookups
        for pool in self.pools:
            if untolerated(sched.tolerations, pool.taints, attempt.avoid_prefer_no_schedule):
                continue
            overhead = self.table.vector(self.overhead[pool.name])
            if overhead is None:
                continue
            need = np.array(overhead, dtype=np.int64) + vec
            within = limit_mask(self.table, self.remaining[pool.name])
            for no, term in enumerate(lk.alternatives(sched)):
                reqs = lk.narrow(self.launch_reqs[pool.name], sched, no, term)
                if reqs is None:
                    continue
                reqs = lk.topology_narrow(pod, attempt, term, reqs, NEW_NODE)
                if reqs is None:
                    continue
                mask = self.table.mask(reqs)
                if within is not None:
                    mask = mask & within
                idx = lk.fits(np.flatnonzero(mask), need)
                if len(idx) and lk.flexible_enough(reqs, idx):
                    return Candidate(pool, reqs, idx, need, lk.cheapest(idx, reqs))
        return None

    def _open(self, pod: Pod, c: Candidate, attempt: Attempt) -> None:
        claim = Claim(
            name=f"{c.pool.name}-{self.claim_prefix}{len(self.claims) + 1:05d}",
            pool=c.pool,
            requirements=c.requirements,
            type_idx=c.type_idx,
            used=c.used,
            max_free=(),
        )
        self.claims.append(claim)
        claim.add(pod, c, attempt, self.lookups)
        reserve(self.table, self.remaining[c.pool.name], c.type_idx)

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
        own = self._share_cost(fresh.requirements, vec, row) if fresh else float("inf")
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
            joined = claim.can_add(pod, vec, attempt, self.lookups)
            if isinstance(joined, Refused):
                continue
            if self._share_cost(joined.requirements, vec, row) > own * (1 + JOIN_TOLERANCE):
                continue
            if fresh is not None and (
                joined.price - claim.price > fresh.price * (1 + MARGINAL_TOLERANCE)
            ):
                continue
            claim.add(pod, joined, attempt, self.lookups)
            room[i] = claim.max_free
            return True
        if fresh is None:
            return False
        self._open(pod, fresh, attempt)
        return True

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

    # -- first fit (Karpenter's way; the baseline and the fallback) -----------------------

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
            joined = claim.can_add(pod, vec, attempt, self.lookups)
            if not isinstance(joined, Refused):
                self._spend(joined.price - claim.price)
                claim.add(pod, joined, attempt, self.lookups)
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

    # -- pods planned by whole nodes ------------------------------------------------------

    def _bulk_pool(self, pod: Pod, row: tuple[int, ...], attempt: Attempt) -> int | None:
        """The NodePool (index) a pod to plan by patterns would launch in, else None."""
        if attempt is not self._ladder(attempt.sched)[0] or not movable(pod, self.topology):
            return None
        key = (id(attempt.sched), row)
        if key not in self._bulk_cache:
            fresh = self._fresh(pod, np.array(row, dtype=np.int64), attempt)
            pool = None if fresh is None or fresh.pool.limits is not None else fresh.pool
            self._bulk_cache[key] = None if pool is None else self.pools.index(pool)
        return self._bulk_cache[key]

    def _fill_gaps(self, pods: Sequence[Pod]) -> list[Pod]:
        """Seat deferred pods in room the greedy's claims have left on the type they would
        launch as now (free: the price does not move); return the pods still to plan.

        The claims of pods with topology rules are often far from full (one pod per node
        under hostname anti-affinity); first fit would fill them, so this does too. A pod
        some hostname spread counts stays off claims that hold a hostname spread owner: the
        owner was checked without it. Elsewhere it raises only its own node's count, which
        no owner's check looks at.
        """
        if not self.claims:
            return list(pods)
        room = np.array([c.cheap_free for c in self.claims], dtype=np.int64)
        owners = np.array([_spreads_per_node(c) for c in self.claims], dtype=np.bool_)
        left: list[Pod] = []
        for pod in sorted(pods, key=sort_key):
            row = self.table.vector(pod.requests + ONE_POD)
            if row is None:
                left.append(pod)
                continue
            vec = np.array(row, dtype=np.int64)
            open_to = (room >= vec).all(axis=1)
            if self.topology.counted(pod.namespace, pod.labels):
                open_to &= ~owners
            attempt = self._ladder(self._interned[pod.scheduling])[0]
            seated = False
            tries = 0
            for i in np.flatnonzero(open_to).tolist():
                claim = self.claims[i]
                joined = claim.can_add(pod, vec, attempt, self.lookups)
                if not isinstance(joined, Refused) and joined.price <= claim.price + 1e-12:
                    claim.add(pod, joined, attempt, self.lookups)
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

    def _plan_deferred(self, deferred: Mapping[int, list[Pod]]) -> list[tuple[Pod, str]]:
        """New nodes for the deferred pods; the pods that cannot have any, with the reason.

        Two whole-node plans are tried and the cheaper kept: node patterns (column
        generation, then a MIP) and the LP bound's own plan, each kind's whole pods spread
        evenly over the nodes they fill (`balanced.py`); the
        pods either leaves over go through the greedy. If neither seats every pod, the
        greedy places them all (and explains what it cannot place).
        """
        pods = [p for i in sorted(deferred) for p in deferred[i]]
        home = {id(p): self.pools[i].name for i, group in deferred.items() for p in group}
        pods = self._fill_gaps(pods)
        if not pods:
            return []
        pool_of = {id(p): home[id(p)] for p in pods}
        # Hostname spread and anti-affinity: caps on what a node holding their pods carries.
        host = HostCaps(pods)
        m = self.capacity.model(pods, pool_of, host.signature if host else None)
        caps = host.caps(m.members) if host else []
        repacks: list[Callable[[], float | None]] = []
        plan = plan_patterns(m.classes, m.kinds, PATTERN_BUDGET, caps,
                             self.whole.zone_bits(m.members))
        if plan is not None:
            repacks.append(lambda: self._place_leftovers(self.whole.seat_patterns(
                plan.nodes, m.members, m.meta, self.claims, NodeCaps(host) if host else None),
                host))
        # The LP's plan ignores the caps: its whole pods are seated within them, but every
        # fraction a cap binds gets a node of its own, so with caps it is only the fallback.
        bound = lower_bound(m.classes, m.kinds, PATTERN_BUDGET) if plan is None or not caps \
            else None
        if bound is not None and bound.assignment is not None:
            balanced = lp_patterns(bound.assignment, m.classes, m.kinds)
            repacks.append(lambda: self._place_leftovers(self.whole.seat_patterns(
                balanced.nodes, m.members, m.meta, self.claims,
                NodeCaps(host) if host else None), host))
        kept = self.claims
        best: list[Claim] | None = None
        best_cost = float("inf")
        for repack in repacks:
            self.claims = []  # leftovers join only this plan's claims (kept ones stay as they are)
            cost = repack()
            if cost is not None and cost < best_cost:
                best_cost, best = cost, self.claims
        self.claims = kept + (best or [])
        self._stale_room()
        if best is not None:
            return []
        # Pods some hostname rule counts, and that have none of their own, go to claims of
        # their own (see _fill_gaps): an owner on a claim was checked without them.
        kept = self.claims
        apart: list[Claim] = []
        failed: list[tuple[Pod, str]] = []
        for pod in sorted(pods, key=sort_key):
            s = pod.scheduling
            counted = (self.topology.counted(pod.namespace, pod.labels)
                       and not (s.topology_spread or s.pod_anti_affinity))
            self.claims = apart if counted else kept
            self._stale_room()
            request = pod.requests + ONE_POD
            row = self.table.vector(request)
            attempts = self._ladder(self._interned[pod.scheduling])
            if row is None or not any(self._place_on_claims(pod, row, a) for a in attempts):
                failed.append((pod, self._explain(pod, request, attempts[-1])))
        self.claims = kept + apart
        self._stale_room()
        return failed

    def _place_leftovers(self, pods: Sequence[Pod], host: HostCaps) -> float | None:
        """What a whole-node plan did not seat, by the greedy onto its claims (or new ones),
        then its part-filled nodes merged (`tails.py`); the plan's price, or None when a pod
        fits nowhere.

        A pod some hostname cap binds gets a node of its own: the greedy does not see the
        pods the plan seated (they are not counted in the topology), and alone on a node
        every hostname rule holds.
        """
        self._stale_room()  # the packing changed claims behind `_room`
        for pod in sorted(pods, key=sort_key):
            attempt = self._ladder(self._interned[pod.scheduling])[-1]
            row = self.table.vector(pod.requests + ONE_POD)
            if row is None:
                return None
            if host.involved(pod):
                fresh = self._fresh(pod, np.array(row, dtype=np.int64), attempt)
                if fresh is None:
                    return None
                self._open(pod, fresh, attempt)
                self._stale_room()
            elif not self._place_on_claims(pod, row, attempt):
                return None
        merge_tails(self.claims, self.capacity, self.lookups, self._loosest,
                    NodeCaps(host) if host else None)
        self._stale_room()
        return sum(c.price for c in self.claims)

    # -- the LP bound ---------------------------------------------------------------------

    def lower_bound(self, pods: Sequence[Pod], time_limit: float = 10.0) -> Bound:
        """The LP lower bound on new capacity for these pending pods (see `bound`)."""
        m = self.capacity.model(pods)
        return lower_bound(m.classes, m.kinds, time_limit)

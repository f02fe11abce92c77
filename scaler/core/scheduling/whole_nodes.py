"""Whole-node packing: a plan of node patterns (`patterns.py`, or the LP bound's assignment
made whole by `balanced.py`) turned into claims, one offering per node, then widened for the
launch.

Only pods whose node nothing else cares about, or only through hostname rules (`movable`),
are planned this way; the hostname rules hold as per-node caps (`host_caps.py`) in the
patterns and while pods are seated. The scheduler places what a plan leaves over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_HOSTNAME,
    LABEL_INSTANCE_TYPE,
    NodePool,
    Pod,
    Scheduling,
)
from scaler.core.requirements import IN, Requirement, Requirements
from scaler.core.scheduling.capacity import ONE_POD, Kind, NewCapacity
from scaler.core.scheduling.claim import Claim, Lookups
from scaler.core.scheduling.host_caps import NodeCaps, host_rules_only
from scaler.core.scheduling.instancetypes import IntArray
from scaler.core.scheduling.patterns import Pattern
from scaler.core.scheduling.predicates import narrow, untolerated
from scaler.core.scheduling.topology import Topology

# Only the most recent claims are tried (pods come largest first, so older claims are full);
# this keeps a pass linear in pods rather than pods x claims.
CLAIM_WINDOW = 48


def sort_key(pod: Pod) -> tuple[int, int, int, str, str]:
    """Karpenter's order: priority, then CPU, then memory, largest first."""
    return (-pod.priority, -pod.requests.get("cpu"), -pod.requests.get("memory"), pod.namespace,
            pod.name)


def movable(pod: Pod, topology: Topology) -> bool:
    """A pod whole-node planning can place: no ports, pod affinity or preferences of its
    own, its spread and anti-affinity rules all hostname ones (caps), and counted by no
    one's rule but hostname spread and anti-affinity (see `counted_only_per_node`)."""
    s = pod.scheduling
    if (s.pod_affinity or s.host_ports or s.preferred_terms or s.preferred_pod_affinity
            or s.preferred_pod_anti_affinity or not host_rules_only(s)):
        return False
    if not topology.active:
        return True
    if not topology.counted_only_per_node(pod.namespace, pod.labels):
        return False
    return not any(t.topology_key != LABEL_HOSTNAME and t.selects(pod.namespace, pod.labels)
                   for t in topology.owners)


# Pods of a class looked at for one node beyond those that would break a hostname rule.
PICK_LOOKAHEAD = 64


def _pick(pattern: Pattern, rest: list[list[Pod]], caps: NodeCaps) -> list[Pod]:
    """A pattern node's pods, taken from what is left of each class: the first ones the
    exact hostname rules let share the node (a class's pods differ in which rules count
    them); fewer when not enough do."""
    state = caps.fresh()
    group: list[Pod] = []
    for k, n in pattern.counts:
        pods = rest[k]
        got = 0
        i = 0
        while got < n and i < len(pods) and i < n + PICK_LOOKAHEAD:
            if caps.admit(state, pods[i]):
                group.append(pods.pop(i))
                got += 1
            else:
                i += 1
    return group


class WholeNodes:
    """Packs pods onto claims pinned to one kind (pool, type, capacity type) each."""

    def __init__(self, capacity: NewCapacity, lk: Lookups, claim_prefix: str,
                 loosest: Callable[[Pod], Scheduling]) -> None:
        self.capacity = capacity
        self.lk = lk
        self.claim_prefix = claim_prefix
        self.loosest = loosest  # a pod's ask with every preference given up (interned)
        # A pool's launch requirements pinned to one offering, by (pool, type, capacity type).
        self._only: dict[tuple[str, int, str], Requirements] = {}
        self._widened: dict[tuple[str, int, tuple[int, ...], bytes],
                            tuple[Requirements, IntArray, float] | None] = {}
        self._wide_reqs: dict[tuple[str, int, tuple[int, ...]], Requirements | None] = {}
        self._zone_bits: dict[int, int] = {}  # by id of an interned ask

    def zone_bits(self, members: Sequence[Sequence[Pod]]) -> list[int]:
        """Per class (its first pod stands for it), the zones its pods may launch in as bits
        (bit z: the table's z-th zone), for `plan_patterns` to keep pinned classes apart."""
        table = self.lk.table
        zones = sorted({z for z, _, _ in table.pairs})
        bit = {z: 1 << n for n, z in enumerate(zones)}
        out: list[int] = []
        for group in members:
            if not group:
                out.append(-1)
                continue
            sched = self.loosest(group[0])
            hit = self._zone_bits.get(id(sched))
            if hit is None:
                hit = 0
                for pool in self.capacity.pools:
                    for term in sched.alternatives():
                        reqs = narrow(self.capacity.launch_reqs[pool.name], term)
                        if reqs is None:
                            continue
                        for j in np.flatnonzero(table.allowed_pairs(reqs)).tolist():
                            hit |= bit[table.pairs[j][0]]
                self._zone_bits[id(sched)] = hit
            out.append(hit)
        return out

    def seat_patterns(self, nodes: Sequence[tuple[Pattern, int]],
                      members: Sequence[Sequence[Pod]], meta: Sequence[Kind],
                      claims: list[Claim], caps: NodeCaps | None = None) -> list[Pod]:
        """A claim per node of the pattern plan; the pods it does not seat."""
        taken = [0] * len(members)
        left: list[Pod] = []
        rest = [list(group) for group in members] if caps is not None else []
        for pattern, count in nodes:
            pool, i, ct = meta[pattern.kind]
            for _ in range(count):
                group: list[Pod] = []
                if caps is not None:
                    group = _pick(pattern, rest, caps)
                for k, n in pattern.counts if caps is None else ():
                    seat = members[k][taken[k]:taken[k] + n]
                    group.extend(seat)
                    taken[k] += len(seat)
                if not group:
                    continue  # the plan covers more than there is: this node is not needed
                group.sort(key=sort_key)
                whole = self._seat_node(group, pool, i, ct, claims, caps)
                open_claims: list[Claim] = [whole] if whole is not None else []
                for pod in group if whole is None else ():
                    if not self.pack_on_kind(pod, pool, i, ct, open_claims, claims, caps):
                        left.append(pod)
                for claim in open_claims:
                    self.widen(claim)
        if caps is not None:
            left.extend(p for group in rest for p in group)
        else:
            left.extend(p for k, group in enumerate(members) for p in group[taken[k]:])
        return left

    def _seat_node(self, group: list[Pod], pool: NodePool, i: int, ct: str,
                   claims: list[Claim], caps: NodeCaps | None) -> Claim | None:
        """One claim holding a pattern node's pods (sorted), as `pack_on_kind` would build
        it pod by pod when they all fit together; None (nothing changed) when they do not:
        pods pinned to different zones, say."""
        table = self.lk.table
        if caps is not None and not caps.admits_all(group):
            return None
        reqs = self._pinned(pool, i, ct)
        need = self.capacity.overhead_vector(pool)
        for pod in group:
            sched = self.loosest(pod)
            row = table.vector(pod.requests + ONE_POD)
            if row is None or untolerated(sched.tolerations, pool.taints):
                return None
            need = need + np.array(row, dtype=np.int64)
            for no, term in enumerate(self.lk.alternatives(sched)):
                narrowed = self.lk.narrow(reqs, sched, no, term)
                if narrowed is not None and table.mask(narrowed)[i]:
                    reqs = narrowed
                    break
            else:
                return None
        alloc = table.allocatable[i]
        if not (alloc >= need).all():
            return None
        idx = np.array([i], dtype=np.int64)
        claim = Claim(name=f"{pool.name}-{self.claim_prefix}p{len(claims) + 1:05d}",
                      pool=pool, requirements=reqs, type_idx=idx, used=need, max_free=(),
                      pods=list(group))
        claim.price = self.lk.cheapest(idx, reqs)
        claim.max_free = claim.cheap_free = tuple(int(v) for v in alloc - need)
        claims.append(claim)
        if caps is not None:
            for pod in group:
                caps.add(claim, pod)
        return claim

    def widen(self, claim: Claim) -> None:
        """Let a claim packed for one offering launch any type that holds it (cached)."""
        # One ask per kind of pod, in order (narrowing by an ask again changes nothing).
        scheds = list({id(s): s for s in map(self.loosest, claim.pods)}.values())
        ids = tuple(id(s) for s in scheds)
        key = (claim.pool.name, int(claim.type_idx[0]), ids, claim.used.tobytes())
        if key not in self._widened:
            reqs_key = key[:3]
            if reqs_key not in self._wide_reqs:
                self._wide_reqs[reqs_key] = claim.widened(
                    self.capacity.launch_reqs[claim.pool.name], scheds, self.lk)
            wide = self._wide_reqs[reqs_key]
            self._widened[key] = claim.widen_to(wide, self.lk) if wide is not None else None
        hit = self._widened[key]
        if hit is not None:
            claim.apply(*hit, self.lk)

    def pack_on_kind(self, pod: Pod, pool: NodePool, i: int, ct: str,
                     open_claims: list[Claim], claims: list[Claim],
                     caps: NodeCaps | None = None) -> bool:
        """First fit of the pod onto nodes of type i at capacity type ct in the pool, within
        the hostname caps."""
        sched = self.loosest(pod)
        if untolerated(sched.tolerations, pool.taints):
            return False
        table = self.lk.table
        row = table.vector(pod.requests + ONE_POD)
        if row is None:
            return False
        vec = np.array(row, dtype=np.int64)
        alloc = table.allocatable[i]
        if self._join_open(pod, sched, i, vec, alloc, open_claims[-CLAIM_WINDOW:], caps):
            return True
        need = self.capacity.overhead_vector(pool) + vec
        if not (alloc >= need).all():
            return False
        only = self._pinned(pool, i, ct)
        for no, term in enumerate(self.lk.alternatives(sched)):
            reqs = self.lk.narrow(only, sched, no, term)
            if reqs is None or not table.mask(reqs)[i]:
                continue
            idx = np.array([i], dtype=np.int64)
            claim = Claim(name=f"{pool.name}-{self.claim_prefix}p{len(claims) + 1:05d}",
                          pool=pool, requirements=reqs, type_idx=idx,
                          used=need, max_free=(), pods=[pod])
            claim.price = self.lk.cheapest(idx, reqs)
            free = alloc - need
            claim.max_free = claim.cheap_free = tuple(int(v) for v in free)
            open_claims.append(claim)
            claims.append(claim)
            if caps is not None:
                caps.add(claim, pod)
            return True
        return False

    def _join_open(self, pod: Pod, sched: Scheduling, i: int, vec: IntArray, alloc: IntArray,
                   window: list[Claim], caps: NodeCaps | None) -> bool:
        """The pod onto the first open claim of the kind with room that its ask allows."""
        if len(window) > 2:
            # One numpy step for the window instead of one per claim.
            room = np.asarray((np.array([c.used for c in window]) + vec <= alloc).all(axis=1),
                              dtype=np.bool_)
            window = [c for c, ok in zip(window, room.tolist(), strict=True) if ok]
        for claim in window:
            need = claim.used + vec
            if not (alloc >= need).all() or (caps is not None and not caps.admits(claim, pod)):
                continue
            for no, term in enumerate(self.lk.alternatives(sched)):
                reqs = self.lk.narrow(claim.requirements, sched, no, term)
                if reqs is not None and self.lk.table.mask(reqs)[i]:
                    if reqs != claim.requirements:
                        claim.requirements = reqs
                        claim.price = self.lk.cheapest(claim.type_idx, reqs)
                    claim.used = need
                    claim.max_free = claim.cheap_free = tuple(int(v) for v in alloc - need)
                    claim.pods.append(pod)
                    if caps is not None:
                        caps.add(claim, pod)
                    return True
        return False

    def _pinned(self, pool: NodePool, i: int, ct: str) -> Requirements:
        only = self._only.get((pool.name, i, ct))
        if only is None:
            pin = Requirements([
                Requirement.of(LABEL_INSTANCE_TYPE, IN, [self.lk.table.types[i].name]),
                Requirement.of(LABEL_CAPACITY_TYPE, IN, [ct]),
            ])
            only = self._only[(pool.name, i, ct)] = (
                self.capacity.launch_reqs[pool.name].intersect(pin))
        return only

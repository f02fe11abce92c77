"""The part-filled last nodes of a whole-node plan, merged two by two where one node that
holds both costs less than the two.

A whole-node plan rounds each kind's last node up (`balanced.py`), and the greedy that
places its leftovers opens nodes sized for a pod or two. Several such tails of one NodePool
often fit one node of a larger type. Only pods nothing else cares about are planned this way
(`whole_nodes.movable`); two claims merge only where the hostname rules (spread and
anti-affinity caps, checked exactly) let all their pods share one node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from scaler.core.model import LABEL_HOSTNAME, Pod, Scheduling
from scaler.core.requirements import Requirements
from scaler.core.scheduling.capacity import NewCapacity
from scaler.core.scheduling.claim import Claim, Lookups
from scaler.core.scheduling.host_caps import NodeCaps
from scaler.core.scheduling.instancetypes import IntArray

# A claim whose cheapest type it fills to less than this share (in its fullest resource)
# is a tail worth merging.
TAIL_FILL = 0.95
# At most this many tails are paired (the pairs are checked one by one).
MAX_TAILS = 48
# Merged claims may merge again, this many passes at most.
MAX_PASSES = 3


def _fill(claim: Claim, lk: Lookups) -> float:
    alloc = lk.table.allocatable[claim.type_idx]
    allowed, price = lk.priced(claim.requirements)
    cheapest = int(np.argmin(price[np.searchsorted(allowed, claim.type_idx)]))
    cap = np.maximum(alloc[cheapest], 1)
    return float((claim.used / cap).max())


def _owns_host_rule(claim: Claim) -> bool:
    """A pod on the claim has a hostname spread or hostname anti-affinity: its check (or
    its cap) counted the pods on this node, so another claim's pods may not join them."""
    return any(c.topology_key == LABEL_HOSTNAME for p in claim.pods
               for c in p.scheduling.topology_spread) or any(
        t.topology_key == LABEL_HOSTNAME for p in claim.pods
        for t in p.scheduling.pod_anti_affinity)


def merge_tails(claims: list[Claim], capacity: NewCapacity, lk: Lookups,
                loosest: Callable[[Pod], Scheduling], caps: NodeCaps | None = None) -> None:
    """Merge pairs of part-filled claims of one NodePool, biggest saving first, in place;
    again on the merged ones while a pass merges any (at most `MAX_PASSES`).

    With `caps` (the hostname rules of the pods planned), two claims merge only when the
    exact rules let all their pods share a node; without, claims holding a hostname rule's
    owner never merge."""
    fills: dict[int, float] = {}  # by claim id; only a merged claim's fill changes
    for _ in range(MAX_PASSES):
        if not _merge_pass(claims, capacity, lk, loosest, caps, fills):
            return


def _merge_pass(claims: list[Claim], capacity: NewCapacity, lk: Lookups,
                loosest: Callable[[Pod], Scheduling], caps: NodeCaps | None,
                fills: dict[int, float]) -> bool:
    for c in claims:
        if id(c) not in fills:
            fills[id(c)] = _fill(c, lk)
    tails = [c for c in claims
             if fills[id(c)] < TAIL_FILL and (caps is not None or not _owns_host_rule(c))]
    tails = sorted(tails, key=lambda c: fills[id(c)])[:MAX_TAILS]
    # Each tail's distinct loosest asks, so a pair's check does not walk every pod.
    asks = {id(c): {id(s): s for s in map(loosest, c.pods)} for c in tails}
    gone: set[int] = set()
    for i, a in enumerate(tails):
        if id(a) in gone:
            continue
        best: tuple[float, Claim, tuple[Requirements, IntArray, float, IntArray]] | None = None
        for b in tails[i + 1:]:
            if id(b) in gone or b.pool.name != a.pool.name:
                continue
            if caps is not None and not caps.admits_all([*a.pods, *b.pods]):
                continue
            merged = _merged(a, b, capacity, lk, [*(asks[id(a)] | asks[id(b)]).values()])
            if merged is not None:
                saving = a.price + b.price - merged[2]
                if saving > 1e-9 and (best is None or saving > best[0]):
                    best = (saving, b, merged)
        if best is None:
            continue
        _, b, (reqs, idx, price, used) = best
        a.pods.extend(b.pods)
        a.ports.extend(b.ports)
        a.used = used
        a.apply(reqs, idx, price, lk)
        asks[id(a)] |= asks[id(b)]
        gone.add(id(b))
        del fills[id(a)], fills[id(b)]
    if gone:
        claims[:] = [c for c in claims if id(c) not in gone]
    return bool(gone)


def _merged(a: Claim, b: Claim, capacity: NewCapacity, lk: Lookups,
            scheds: Sequence[Scheduling]
            ) -> tuple[Requirements, IntArray, float, IntArray] | None:
    """What one claim holding both claims' pods (whose loosest asks are `scheds`) would
    launch as, or None."""
    if any(p.conflicts(q) for p in a.ports for q in b.ports):
        return None
    used = a.used + b.used - capacity.overhead_vector(a.pool)
    # No saving is possible when even the pool's cheapest type that holds both (whatever
    # the pods ask) costs as much as the two: one numpy step before the costly widening.
    types, prices = lk.priced(capacity.launch_reqs[a.pool.name])
    holds = (lk.table.allocatable[types] >= used).all(axis=1)
    if not holds.any() or float(prices[holds].min()) >= a.price + b.price - 1e-9:
        return None
    probe = Claim(a.name, a.pool, a.requirements, a.type_idx, used, ())
    wide = probe.widen(capacity.launch_reqs[a.pool.name], scheds, lk)
    if wide is None:
        return None
    reqs, idx, price = wide
    return reqs, idx, price, used

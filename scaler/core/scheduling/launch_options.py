"""What a claim launches as: a pod's share of a node's price, the NodePools' on-demand share,
and the ranked offerings (preferred architecture first) a launch carries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scaler.core.model import LABEL_CAPACITY_TYPE, ON_DEMAND, NodePool
from scaler.core.requirements import IN, Requirement, Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.claim import Claim, ClaimPlan, Lookups
from scaler.core.scheduling.instancetypes import InstanceTypeTable, IntArray

# Alternatives passed with a launch; a real fleet request takes a bounded list (Karpenter: 60).
MAX_LAUNCH_OPTIONS = 60


class ShareCost:
    """What a pod's share of a node costs at best under some requirements (cached)."""

    def __init__(self, table: InstanceTypeTable) -> None:
        self.table = table
        self._cache: dict[tuple[Requirements, tuple[int, ...]], float] = {}

    def __call__(self, reqs: Requirements, vec: IntArray, row: tuple[int, ...]) -> float:
        """min over allowed types of price x the largest fraction of the type the pod uses: a
        size-free measure, so it compares capacity types, arches and families, not node sizes.
        """
        key = (reqs, row)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        table = self.table
        pairs = table.allowed_pairs(reqs)
        idx = np.flatnonzero(table.mask(reqs))
        cost = float("inf")
        if len(idx) and pairs.any():
            alloc = table.allocatable[idx]
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(vec > 0, vec / np.maximum(alloc, 1), 0.0)
                frac = np.where((alloc == 0) & (vec > 0), np.inf, frac).max(axis=1)
                cost = float((table.price[idx][:, pairs].min(axis=1) * frac).min())
        self._cache[key] = cost
        return cost


def only_on_demand(claim: Claim) -> bool:
    ct = claim.requirements.get(LABEL_CAPACITY_TYPE)
    return ct is not None and not ct.complement and ct.values == frozenset({ON_DEMAND})


def keep_on_demand_share(claims: Sequence[Claim], pools: Sequence[NodePool],
                         lk: Lookups) -> None:
    """Move the cheapest-to-move claims to on-demand until each pool's share is met.

    The share is of the new nodes' vCPU (the pods' requests), per NodePool with
    `min_on_demand_pct`; a claim moves only if some of its types is offered on-demand.
    """
    table = lk.table
    cpu = table.dim_index["cpu"]
    od = Requirements([Requirement.of(LABEL_CAPACITY_TYPE, IN, [ON_DEMAND])])
    for pool in pools:
        if not pool.min_on_demand_pct:
            continue
        mine = [c for c in claims if c.pool.name == pool.name]
        total = sum(int(c.used[cpu]) for c in mine)
        on_demand = sum(int(c.used[cpu]) for c in mine if only_on_demand(c))
        # Cheapest extra cost per vCPU moved first.
        movable: list[tuple[float, Claim, Requirements, IntArray]] = []
        for c in mine:
            if only_on_demand(c):
                continue
            reqs = c.requirements.intersect(od)
            idx = c.type_idx[table.mask(reqs)[c.type_idx]]
            if len(idx):
                extra = lk.cheapest(idx, reqs) - c.price
                movable.append((extra / max(int(c.used[cpu]), 1), c, reqs, idx))
        for _, c, reqs, idx in sorted(movable, key=lambda m: (m[0], m[1].name)):
            if on_demand * 100 >= pool.min_on_demand_pct * total:
                break
            c.requirements, c.type_idx = reqs, idx
            c.price = lk.cheapest(idx, reqs)
            on_demand += int(c.used[cpu])


def plan_of(claim: Claim, table: InstanceTypeTable) -> ClaimPlan:
    """The claim as a launch: its offerings ranked, the preferred architecture first while
    within its price premium."""
    used = Resources({d: int(v) for d, v in zip(table.dims, claim.used, strict=True)})
    options = table.options(
        claim.type_idx, claim.requirements, MAX_LAUNCH_OPTIONS, claim.pool.min_spot_types
    )
    prefer = claim.pool.prefer_arch
    if prefer and options:
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

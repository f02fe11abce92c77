"""The catalog as arrays, so that filtering hundreds of instance types is one numpy step.

Rows are instance types, columns are resources (`dims`). Requirement masks are cached by
`Requirements` value: pods of one workload ask the same thing, so each distinct ask is
computed once per run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pricing import InstanceType, Offering
from scaler.core.model import (
    LABEL_CAPACITY_TYPE,
    LABEL_INTERRUPTION,
    LABEL_ZONE,
    OFFERING_LABELS,
    is_well_known,
)
from scaler.core.requirements import Requirements
from scaler.core.resources import Resources

BASE_DIMS = ("cpu", "memory", "pods", "ephemeral-storage")
# Amounts are Python ints (no wrap-around) until they enter the int64 arrays here. Any amount
# at or above SATURATED (2^53: 9 PB of memory, 9 billion cores) is stored as SATURATED: no
# instance type holds that much, so such a request stays unschedulable with its reason,
# and sums of thousands of saturated amounts still fit an int64 (no wrap to a negative
# request that then "fits" a t3.nano).
SATURATED = 2**53


def _saturate(value: int) -> int:
    return value if value < SATURATED else SATURATED

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def _column(o: Offering) -> tuple[str, str, int]:
    if o.capacity_type != "spot":
        return (o.zone, o.capacity_type, 0)
    return (o.zone, o.capacity_type, o.interruption_max_pct or 100)


@dataclass(frozen=True, slots=True)
class LaunchOption:
    """One way to launch a node claim: an instance type in a zone at a capacity type."""

    instance_type: str
    zone: str
    capacity_type: str
    price: float
    price_estimated: bool
    interruption_band: str | None
    arch: str


class InstanceTypeTable:
    def __init__(self, types: Sequence[InstanceType]) -> None:
        self.types = tuple(types)
        extended = sorted(
            {k for t in self.types for k in t.allocatable if k not in BASE_DIMS}
            | {k for t in self.types for k in t.capacity if k not in BASE_DIMS}
        )
        self.dims: tuple[str, ...] = BASE_DIMS + tuple(extended)
        self.dim_index = {d: i for i, d in enumerate(self.dims)}
        n, m = len(self.types), len(self.dims)
        self.allocatable: IntArray = np.zeros((n, m), dtype=np.int64)
        self.capacity: IntArray = np.zeros((n, m), dtype=np.int64)
        for i, t in enumerate(self.types):
            for d, j in self.dim_index.items():
                self.allocatable[i, j] = _saturate(t.allocatable.get(d, 0))
                self.capacity[i, j] = _saturate(t.capacity.get(d, t.allocatable.get(d, 0)))
        # Offerings as a (type x (zone, capacity type, interruption band)) price matrix; inf
        # where there is none. The band (the Spot Advisor's upper bound in percent; 0 for
        # on-demand) is a column key so that a NodePool's band cap is one more requirement.
        pairs = sorted({_column(o) for t in self.types for o in t.offerings})
        self.pairs: tuple[tuple[str, str, int], ...] = tuple(pairs)
        pair_index = {p: j for j, p in enumerate(pairs)}
        self.price: FloatArray = np.full((n, len(pairs)), np.inf)
        self._offering: list[dict[int, Offering]] = [{} for _ in range(n)]
        for i, t in enumerate(self.types):
            for o in t.offerings:
                if o.available:
                    j = pair_index[_column(o)]
                    if o.price < self.price[i, j]:
                        self.price[i, j] = o.price
                        self._offering[i][j] = o
        self._spot_cols: BoolArray = np.array([ct == "spot" for _, ct, _ in pairs],
                                              dtype=np.bool_)
        self._options_cache: dict[tuple[Requirements, bytes, int | None, int],
                                  tuple[LaunchOption, ...]] = {}
        self._label_codes: dict[str, tuple[list[str | None], IntArray]] = {}
        self._mask_cache: dict[Requirements, BoolArray] = {}
        self._pair_cache: dict[Requirements, BoolArray] = {}
        self.index = {t.name: i for i, t in enumerate(self.types)}

    def __len__(self) -> int:
        return len(self.types)

    def available_pairs(self, reqs: Requirements) -> tuple[tuple[str, str, int], ...]:
        """The (zone, capacity type, band) columns that some type the requirements allow can
        launch in now: offerings that are unavailable (out of capacity) have no price."""
        cols = self.allowed_pairs(reqs) & np.isfinite(self.price[self.mask(reqs)]).any(axis=0)
        return tuple(self.pairs[j] for j in np.flatnonzero(cols))

    def vector(self, resources: Resources) -> tuple[int, ...] | None:
        """Resources as a row in `dims`; None when it asks for a resource no type has."""
        out = [0] * len(self.dims)
        for name, value in resources.items():
            j = self.dim_index.get(name)
            if j is None:
                if value > 0:
                    return None
                continue
            out[j] = value if value < SATURATED else SATURATED
        return tuple(out)

    def _codes(self, key: str) -> tuple[list[str | None], IntArray]:
        cached = self._label_codes.get(key)
        if cached is None:
            uniques: dict[str | None, int] = {}
            codes = np.fromiter(
                (uniques.setdefault(t.labels.get(key), len(uniques)) for t in self.types),
                dtype=np.int64,
                count=len(self.types),
            )
            cached = (list(uniques), codes)
            self._label_codes[key] = cached
        return cached

    def distinct(self, key: str, idx: IntArray) -> int:
        """How many distinct values of a label (or offering key) these types span."""
        if key in OFFERING_LABELS:
            col = 0 if key == LABEL_ZONE else 1
            values = {self.pairs[j][col] for j in np.flatnonzero(
                np.isfinite(self.price[idx]).any(axis=0))}
            return len(values)
        uniques, codes = self._codes(key)
        return sum(1 for c in np.unique(codes[idx]) if uniques[int(c)] is not None)

    def allowed_pairs(self, reqs: Requirements) -> BoolArray:
        """Which (zone, capacity type, band) columns the requirements allow."""
        cached = self._pair_cache.get(reqs)
        if cached is None:
            zone, ct = reqs.get(LABEL_ZONE), reqs.get(LABEL_CAPACITY_TYPE)
            band = reqs.get(LABEL_INTERRUPTION)
            cached = np.array(
                [
                    (zone is None or zone.matches(z)) and (ct is None or ct.matches(c))
                    and (band is None or band.matches(str(b)))
                    for z, c, b in self.pairs
                ],
                dtype=np.bool_,
            )
            self._pair_cache[reqs] = cached
        return cached

    def mask(self, reqs: Requirements) -> BoolArray:
        """Instance types whose labels and offerings satisfy the requirements."""
        cached = self._mask_cache.get(reqs)
        if cached is not None:
            return cached
        mask: BoolArray = np.ones(len(self.types), dtype=np.bool_)
        for key, req in reqs.items():
            if key in OFFERING_LABELS or not is_well_known(key):
                continue  # offering keys below; custom labels come from the NodePool
            uniques, codes = self._codes(key)
            ok = np.array([req.matches(u) for u in uniques], dtype=np.bool_)
            mask &= ok[codes]
        pairs = self.allowed_pairs(reqs)
        mask &= np.isfinite(self.price[:, pairs]).any(axis=1) if pairs.any() else False
        self._mask_cache[reqs] = mask
        return mask

    def options(
        self,
        type_idx: IntArray,
        reqs: Requirements,
        limit: int | None = None,
        min_spot_types: int = 0,
    ) -> tuple[LaunchOption, ...]:
        """Offerings of these types allowed by `reqs`, cheapest first.

        At most `limit` offerings, except that when spot is among them the list is widened
        to hold at least `min_spot_types` distinct instance types with a spot offering (each
        by its cheapest spot offering), where that many fit: a spot fleet request with few
        types has few pools to fall back on when one is reclaimed.
        """
        key = (reqs, type_idx.tobytes(), limit, min_spot_types)
        hit = self._options_cache.get(key)
        if hit is None:
            hit = self._options_cache[key] = self._options(type_idx, reqs, limit,
                                                           min_spot_types)
        return hit

    def _options(self, type_idx: IntArray, reqs: Requirements, limit: int | None,
                 min_spot_types: int) -> tuple[LaunchOption, ...]:
        pairs = np.flatnonzero(self.allowed_pairs(reqs))
        if len(type_idx) == 0 or len(pairs) == 0:
            return ()
        sub = self.price[np.ix_(type_idx, pairs)]
        ncols = len(pairs)
        flat_prices = sub.ravel()
        n_finite = int(np.isfinite(flat_prices).sum())
        if limit is not None and limit < n_finite:
            # Only the cheapest `limit` need sorting (inf sorts last either way).
            head = np.argpartition(flat_prices, limit - 1)[:limit]
            head = head[np.lexsort((head, flat_prices[head]))]
        else:
            finite = np.argsort(flat_prices, kind="stable")[:n_finite]
            head = finite
        chosen = head
        is_spot = self._spot_cols[pairs]
        if min_spot_types and is_spot.any():
            have = np.unique(chosen[is_spot[chosen % ncols]] // ncols)
            if len(have) < min_spot_types:
                # Each missing type by its cheapest spot offering, cheapest types first.
                spot_sub = np.where(is_spot, sub, np.inf)
                best_col = spot_sub.argmin(axis=1)
                best = spot_sub[np.arange(len(sub)), best_col]
                rows = np.flatnonzero(np.isfinite(best))
                rows = rows[~np.isin(rows, have)]
                rows = rows[np.lexsort((rows, best[rows]))][: min_spot_types - len(have)]
                chosen = np.concatenate([chosen, rows * ncols + best_col[rows]])
                chosen = chosen[np.lexsort((chosen, flat_prices[chosen]))]
        out: list[LaunchOption] = []
        for f in chosen.tolist():
            r, c = divmod(f, ncols)
            i = int(type_idx[r])
            t = self.types[i]
            j = int(pairs[c])
            zone, ct, _ = self.pairs[j]
            offering = self._offering[i][j]
            out.append(
                LaunchOption(
                    t.name,
                    zone,
                    ct,
                    float(flat_prices[f]),
                    offering.price_estimated,
                    offering.interruption_band,
                    t.arch,
                )
            )
        return tuple(out)

    def price_of(self, instance_type: str, capacity_type: str, zone: str | None) -> float | None:
        i = self.index.get(instance_type)
        if i is None:
            return None
        best: float | None = None
        for j, (z, ct, _) in enumerate(self.pairs):
            if ct != capacity_type or (zone is not None and z != zone):
                continue
            p = float(self.price[i, j])
            if np.isfinite(p) and (best is None or p < best):
                best = p
        return best

    def labels_of(self, instance_type: str) -> Mapping[str, str]:
        i = self.index.get(instance_type)
        return {} if i is None else self.types[i].labels

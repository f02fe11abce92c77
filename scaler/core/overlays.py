"""Karpenter's NodeOverlays: changes to the instance types the simulation sees.

An overlay selects instance types (and, through `karpenter.sh/capacity-type` and the zone,
their offerings) by requirements, then sets an offering's price, adjusts it (`+10%`,
`-0.05`), or adds extended resources to the type's capacity. Where several overlays select
the same thing, the highest weight wins (ties: the name first in order), per offering price
and per resource, as Karpenter resolves them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from pricing import InstanceType, Offering
from scaler.core.model import LABEL_CAPACITY_TYPE, LABEL_ZONE
from scaler.core.requirements import Requirements


@dataclass(frozen=True, slots=True)
class Overlay:
    name: str
    requirements: Requirements
    weight: int = 0
    price: float | None = None  # USD per hour, replaces the offering's
    adjustment: float | None = None  # added to the price (absolute) ...
    adjustment_percent: bool = False  # ... or, when True, a percentage of it
    capacity: Mapping[str, int] = field(default_factory=dict)

    @property
    def changes_price(self) -> bool:
        return self.price is not None or self.adjustment is not None

    def priced(self, price: float) -> float:
        if self.price is not None:
            return self.price
        if self.adjustment is None:
            return price
        if self.adjustment_percent:
            return max(0.0, price * (1 + self.adjustment / 100))
        return max(0.0, price + self.adjustment)


def _type_match(reqs: Requirements, labels: Mapping[str, str]) -> bool:
    """The requirements on the type's own labels (zone and capacity type are offerings')."""
    return all(reqs[k].matches(labels.get(k)) for k in reqs
               if k not in (LABEL_ZONE, LABEL_CAPACITY_TYPE))


def _order(overlays: Sequence[Overlay]) -> list[Overlay]:
    return sorted(overlays, key=lambda o: (-o.weight, o.name))


def apply_overlays(types: Sequence[InstanceType],
                   overlays: Sequence[Overlay]) -> tuple[InstanceType, ...]:
    """The instance types with the overlays applied (unchanged when there are none)."""
    if not overlays:
        return tuple(types)
    ordered = _order(overlays)
    out: list[InstanceType] = []
    for it in types:
        labels = dict(it.labels)
        type_level = [o for o in ordered if _type_match(o.requirements, labels)]
        if not type_level:
            out.append(it)
            continue
        offerings: list[Offering] = []
        for off in it.offerings:
            full = {**labels, LABEL_ZONE: off.zone, LABEL_CAPACITY_TYPE: off.capacity_type}
            winner = next((o for o in type_level if o.changes_price
                           and o.requirements.matches_labels(full)), None)
            offerings.append(off if winner is None
                             else dataclasses.replace(off, price=winner.priced(off.price)))
        capacity = dict(it.capacity)
        allocatable = dict(it.allocatable)
        claimed: set[str] = set()
        for o in type_level:
            if not o.capacity:
                continue
            for name, amount in o.capacity.items():
                if name in claimed:
                    continue  # a higher-weight overlay set it already
                claimed.add(name)
                capacity[name] = amount
                allocatable[name] = amount
        out.append(dataclasses.replace(
            it, offerings=tuple(offerings), capacity=MappingProxyType(capacity),
            allocatable=MappingProxyType(allocatable)))
    return tuple(out)

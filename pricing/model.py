"""Value types of the catalog: offerings, instance types and the per-region catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SPOT = "spot"
ON_DEMAND = "on-demand"
CAPACITY_TYPES = (ON_DEMAND, SPOT)


class CatalogError(ValueError):
    """A region or zone the catalog cannot serve.

    `param` names the input at fault ("region" or "zones") so a CLI can point at its flag.
    """

    def __init__(self, message: str, *, param: str = "region") -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Offering:
    """One way to buy an instance type: a zone and a capacity type, at a price."""

    zone: str
    capacity_type: str  # SPOT | ON_DEMAND
    price: float  # USD per hour
    # True for every spot price (derived from the Spot Advisor saving) and for on-demand
    # prices borrowed from us-east-1 in regions without a price table.
    price_estimated: bool
    interruption_band: str | None  # spot only: "<5%", "5-10%", "10-15%", "15-20%", ">20%"
    interruption_max_pct: int | None  # spot only: 5, 11, 16, 22, 100
    available: bool = True


@dataclass(frozen=True, slots=True)
class InstanceType:
    """An EC2 instance type as Karpenter models it (AL2023, default settings).

    Units in `capacity` and `allocatable`: cpu in millicores, memory and ephemeral-storage in
    bytes, pods and extended resources as counts. `capacity["memory"]` is Karpenter's
    capacity, i.e. after the VM overhead; `memory_mib` is the raw EC2 figure.
    """

    name: str
    arch: str  # "amd64" | "arm64"
    vcpu: int
    memory_mib: int
    bare_metal: bool
    labels: Mapping[str, str]
    capacity: Mapping[str, int]
    allocatable: Mapping[str, int]
    offerings: tuple[Offering, ...]
    max_pods: int

    def cheapest(self, capacity_type: str | None = None) -> Offering | None:
        """The cheapest available offering, optionally of one capacity type."""
        best: Offering | None = None
        for o in self.offerings:
            if not o.available or (capacity_type is not None and o.capacity_type != capacity_type):
                continue
            if best is None or o.price < best.price:
                best = o
        return best


@dataclass(frozen=True)
class Catalog:
    """The instance types one can buy in a region, with their offerings per zone."""

    region: str
    zones: tuple[str, ...]
    instance_types: tuple[InstanceType, ...]  # sorted by name; each has >= 1 offering
    on_demand_estimated: bool  # no On-Demand table for the region: us-east-1 prices used
    # Built once so `get` is O(1); excluded from eq/repr because it mirrors instance_types.
    _by_name: Mapping[str, InstanceType] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        # Frozen dataclass: object.__setattr__ is the sanctioned way to fill a derived field.
        object.__setattr__(self, "_by_name", {it.name: it for it in self.instance_types})

    def get(self, name: str) -> InstanceType | None:
        return self._by_name.get(name)

"""What a node costs per hour, and how that hour splits into CPU, RAM and GPU.

* The base is the price of the node's capacity type: on-demand list price, or the spot price
  (the cloud's when the runtime has it, else the catalog's estimate).
* Reserved Instances: an on-demand node of a reserved type holds one of the reservation's
  `count` slots if one is free when it starts (earliest nodes first, a slot is freed when its
  node ends) and is priced at the reservation's hourly rate.
* Savings Plans: the best discount among the plans that cover the node's family applies to
  on-demand nodes no reservation covers. `commitmentPerHour` is not a cap here (it is
  informational in the policy): a plan whose commitment is exceeded would bill the excess at
  on-demand rates, which a report from the cloud's bill would show and this one does not.
* The enterprise discount applies last, to everything.

OpenCost's split: when the cloud gives one price per node, fixed per-unit ratios (its
defaults: $0.031611 per core-hour, $0.004237 per GiB-hour, $0.95 per GPU-hour) are scaled so
that the parts add up to the node's price. Where a GPU price is known it is taken first (never
above the node's price) and the rest is split between CPU and RAM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from scaler.core.allocation.money import accrued, split, to_micros

GIB = 1024**3
DEFAULT_CPU_PER_CORE_HOUR = Fraction("0.031611")
DEFAULT_RAM_PER_GIB_HOUR = Fraction("0.004237")
DEFAULT_GPU_PER_HOUR = Fraction("0.95")

ON_DEMAND = "on-demand"
SPOT = "spot"


@dataclass(frozen=True, slots=True)
class ResourceRatios:
    """Relative prices of a core-hour, a GiB-hour and a GPU-hour (only their ratios count)."""

    cpu_per_core_hour: Fraction = DEFAULT_CPU_PER_CORE_HOUR
    ram_per_gib_hour: Fraction = DEFAULT_RAM_PER_GIB_HOUR
    gpu_per_hour: Fraction = DEFAULT_GPU_PER_HOUR


@dataclass(frozen=True, slots=True)
class SavingsPlanRate:
    name: str
    discount_percent: float
    families: frozenset[str] | None = None  # None: every family (a Compute Savings Plan)

    def covers(self, family: str | None) -> bool:
        return self.families is None or (family is not None and family in self.families)


@dataclass(frozen=True, slots=True)
class ReservedRate:
    instance_type: str
    count: int
    price_per_hour: float


@dataclass(frozen=True, slots=True)
class PricingRules:
    discount_percent: float = 0.0
    savings_plans: tuple[SavingsPlanRate, ...] = ()
    reserved: tuple[ReservedRate, ...] = ()


@dataclass(frozen=True, slots=True)
class ListPrice:
    """A node's price before adjustments, as the catalog or the cloud gives it."""

    node: str
    instance_type: str | None
    family: str | None
    capacity_type: str
    per_hour: float | None  # None: unknown (the node is then free, and flagged)
    estimated: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class NodePrice:
    list_per_hour: float | None
    per_hour_micros: int  # what the account pays per hour, in micro-dollars
    basis: str  # "on-demand", "spot", "reserved", "savings-plan:<name>", "unpriced"
    estimated: bool


def effective_prices(prices: Sequence[ListPrice], rules: PricingRules) -> dict[str, NodePrice]:
    """Each node's effective hourly price under the policy's discounts and reservations."""
    slots: dict[str, list[int]] = {r.instance_type: [] for r in rules.reserved}
    by_type = {r.instance_type: r for r in rules.reserved}
    keep = Fraction(100) - Fraction(rules.discount_percent)
    out: dict[str, NodePrice] = {}
    for p in sorted(prices, key=lambda p: (p.start, p.node)):
        if p.per_hour is None:
            out[p.node] = NodePrice(None, 0, "unpriced", True)
            continue
        price = Fraction(p.per_hour)
        basis = p.capacity_type
        if p.capacity_type == ON_DEMAND:
            reserved = by_type.get(p.instance_type or "")
            holders = slots.get(p.instance_type or "")
            if reserved is not None and holders is not None:
                holders[:] = [end for end in holders if end > p.start]
                if len(holders) < reserved.count:
                    holders.append(p.end)
                    price, basis = Fraction(reserved.price_per_hour), "reserved"
            if basis == ON_DEMAND:
                plans = [sp for sp in rules.savings_plans if sp.covers(p.family)]
                if plans:
                    best = max(plans, key=lambda sp: (sp.discount_percent, sp.name))
                    price = price * (100 - Fraction(best.discount_percent)) / 100
                    basis = f"savings-plan:{best.name}"
        out[p.node] = NodePrice(p.per_hour, to_micros(price * keep / 100), basis, p.estimated)
    return out


def split_node_cost(
    cost: int,
    seconds: int,
    cpu_cores: float,
    ram_bytes: float,
    gpus: float,
    ratios: ResourceRatios,
    gpu_per_hour_micros: int | None = None,
) -> tuple[int, int, int]:
    """A node's cost over `seconds` as (cpu, ram, gpu) micro-dollars summing to `cost`."""
    cpu_w = Fraction(cpu_cores) * ratios.cpu_per_core_hour
    ram_w = Fraction(ram_bytes) / GIB * ratios.ram_per_gib_hour
    if cpu_w == 0 and ram_w == 0 and gpus <= 0:
        return cost, 0, 0  # capacity unknown: call it all CPU rather than lose it
    if gpus > 0 and gpu_per_hour_micros is not None:
        gpu = min(cost, accrued(Fraction(gpus) * gpu_per_hour_micros, seconds))
        if cpu_w == 0 and ram_w == 0:
            return 0, 0, cost
        cpu, ram = split(cost - gpu, [cpu_w, ram_w])
        return cpu, ram, gpu
    gpu_w = Fraction(max(gpus, 0)) * ratios.gpu_per_hour
    cpu, ram, gpu = split(cost, [cpu_w, ram_w, gpu_w])
    return cpu, ram, gpu

"""What a request costs: a price per vCPU-hour and per GiB-hour derived from the catalog.

Like OpenCost's split of a node's price into CPU and RAM, but fitted: on-demand prices of
the current general-purpose, compute- and memory-optimised families (2, 4 and 8 GiB per
vCPU) are regressed on vCPUs and GiB, which separates the two unit prices.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pricing import ON_DEMAND, InstanceType
from scaler.core.plan import HOURS_PER_MONTH
from scaler.core.rightsizing.model import CurrentResources, GiB, Recommendation

FAMILIES = ("c5", "m5", "r5", "c6i", "m6i", "r6i", "c7i", "m7i", "r7i")


@dataclass(frozen=True, slots=True)
class UnitPrices:
    cpu_core_hour: float  # USD per vCPU-hour
    memory_gib_hour: float  # USD per GiB-hour
    basis: str  # what the fit used

    def per_hour(self, cores: float, memory_bytes: float) -> float:
        return cores * self.cpu_core_hour + memory_bytes / GiB * self.memory_gib_hour


def unit_prices(types: Iterable[InstanceType]) -> UnitPrices:
    rows: list[tuple[float, float, float]] = []
    for it in types:
        family = it.name.split(".", 1)[0]
        if family not in FAMILIES or it.bare_metal or it.arch != "amd64":
            continue
        offer = it.cheapest(ON_DEMAND)
        if offer is None:
            continue
        rows.append((float(it.vcpu), it.memory_mib / 1024, offer.price))
    if len(rows) < 3:
        # OpenCost's defaults when there is nothing to fit.
        return UnitPrices(0.031611, 0.004237, "OpenCost default prices")
    a = np.asarray([(c, m) for c, m, _ in rows])
    y = np.asarray([p for _, _, p in rows])
    (cpu, mem), *_ = np.linalg.lstsq(a, y, rcond=None)
    if cpu <= 0 or mem <= 0:
        return UnitPrices(0.031611, 0.004237, "OpenCost default prices")
    return UnitPrices(
        float(cpu), float(mem), f"on-demand fit over {len(rows)} c/m/r 5th-7th gen types"
    )


def monthly_saving(
    current: CurrentResources, rec: Recommendation, replicas: int, prices: UnitPrices
) -> float:
    """USD a month saved by the changed requests (negative: it costs more), all replicas."""
    cores = 0.0
    memory = 0.0
    if rec.change_cpu and rec.cpu_request is not None and current.cpu_request is not None:
        cores = current.cpu_request - rec.cpu_request
    if rec.change_memory and rec.memory_request is not None and current.memory_request is not None:
        memory = current.memory_request - rec.memory_request
    return prices.per_hour(cores, memory) * HOURS_PER_MONTH * max(replicas, 0)

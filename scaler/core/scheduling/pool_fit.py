"""Which NodePools can launch anything at all, and why the others stay idle.

Karpenter does not stop provisioning when one NodePool asks for something the cloud does not
offer (a Windows pool where only Linux types are known, a label no type carries): that pool
launches nothing, its status says why, and the other pools go on. This module makes that
split; callers warn and publish the condition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from scaler.core.model import LABEL_NODEPOOL, NodePool
from scaler.core.scheduling.instancetypes import InstanceTypeTable

# The NodePool status condition an idle pool carries (metav1.Condition shape).
CONDITION_TYPE = "Ready"
CONDITION_REASON = "NoCompatibleInstanceTypes"


@dataclass(frozen=True, slots=True)
class IdlePool:
    """A NodePool that no instance type satisfies: it launches nothing."""

    name: str
    source: str
    message: str

    def condition(self) -> Mapping[str, str]:
        return {
            "type": CONDITION_TYPE,
            "status": "False",
            "reason": CONDITION_REASON,
            "message": self.message,
        }

    def warning(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}NodePool {self.name} stays idle: {self.message}"


def unfit_message(pool: NodePool, region: str) -> str:
    reqs = "; ".join(r.describe() for k, r in pool.requirements.items() if k != LABEL_NODEPOOL)
    return f"no instance type in region {region} satisfies the requirements ({reqs})"


def split_pools(
    pools: Sequence[NodePool],
    table_for: Callable[[NodePool], InstanceTypeTable],
    region: str,
) -> tuple[tuple[NodePool, ...], tuple[IdlePool, ...]]:
    """(the pools some instance type satisfies, in order; the idle ones, with why)."""
    fit: list[NodePool] = []
    idle: list[IdlePool] = []
    for pool in pools:
        if table_for(pool).mask(pool.launch_requirements()).any():
            fit.append(pool)
        else:
            idle.append(IdlePool(pool.name, pool.source, unfit_message(pool, region)))
    return tuple(fit), tuple(idle)

"""Which NodePools can launch anything at all, and why the others stay idle.

Karpenter does not stop provisioning when one NodePool asks for something the cloud does not
offer (a Windows pool where only Linux types are known, a label no type carries): that pool
launches nothing, its status says why, and the other pools go on. This module makes that
split; callers warn and publish the condition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pricing import InstanceType
from pricing.allocatable import NodeSettings, with_node_settings
from scaler.core.model import LABEL_NODE_SETTINGS, LABEL_NODEPOOL, NodePool
from scaler.core.requirements import IN, Requirement, Requirements
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


def idle_note(idle: Sequence[IdlePool]) -> str:
    """What an unschedulable reason adds about pools that launch nothing."""
    return "".join(f"; NodePool {i.name} is idle: {i.message}" for i in idle)


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


def pool_table(
    pools: Sequence[NodePool], types_for: Callable[[NodePool], Sequence[InstanceType]]
) -> tuple[InstanceTypeTable, tuple[NodePool, ...]]:
    """One table for the scheduler, with each pool's instance types as its EC2NodeClass
    makes them (maxPods, reservations, disks).

    When the pools' node settings differ, the table holds one copy of the types per distinct
    setting, told apart by `LABEL_NODE_SETTINGS`, and each pool gets a requirement on it, so
    a pool only ever sees its own copies. With one setting nothing changes.
    """
    if not pools:
        return InstanceTypeTable(()), ()
    distinct: list[NodeSettings] = []
    for p in pools:
        if p.node_settings not in distinct:
            distinct.append(p.node_settings)
    if len(distinct) == 1:
        s = distinct[0]
        return InstanceTypeTable([with_node_settings(t, s) for t in types_for(pools[0])]), tuple(
            pools
        )
    rows: list[InstanceType] = []
    seen: set[int] = set()
    out: list[NodePool] = []
    for p in pools:
        n = distinct.index(p.node_settings)
        if n not in seen:
            seen.add(n)
            rows.extend(
                dataclasses.replace(with_node_settings(t, p.node_settings),
                                    labels={**t.labels, LABEL_NODE_SETTINGS: str(n)})
                for t in types_for(p)
            )
        pin = Requirements([Requirement.of(LABEL_NODE_SETTINGS, IN, [str(n)])])
        out.append(dataclasses.replace(p, requirements=p.requirements.intersect(pin)))
    return InstanceTypeTable(rows), tuple(out)

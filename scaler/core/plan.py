"""The provisioning plan: where every pod goes, which nodes exist or launch, and the cost."""

from __future__ import annotations

from dataclasses import dataclass

from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import LaunchOption

HOURS_PER_MONTH = 730  # the convention AWS and Kubecost use for monthly prices


@dataclass(frozen=True, slots=True)
class PlannedNode:
    name: str
    existing: bool
    instance_type: str | None
    capacity_type: str
    zone: str | None
    arch: str | None
    node_pool: str | None
    price_per_hour: float | None  # None: an existing node whose type the catalog lacks
    price_estimated: bool
    pods: tuple[str, ...]  # every pod on the node after the plan, bound ones included
    requests: Resources  # sum of those pods' requests (plus DaemonSet overhead on new nodes)
    allocatable: Resources
    alternatives: tuple[LaunchOption, ...] = ()  # new nodes: the ranked offerings passed on


@dataclass(frozen=True, slots=True)
class Placement:
    pod: str
    node: str
    new: bool  # placed by this plan (False: already bound)


@dataclass(frozen=True, slots=True)
class Unschedulable:
    pod: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    region: str
    placements: tuple[Placement, ...]
    nodes: tuple[PlannedNode, ...]
    unschedulable: tuple[Unschedulable, ...]
    # LP lower bound on the new nodes' price for the pods they hold (None: not computed).
    new_lower_bound_per_hour: float | None = None
    # Existing nodes a disruption pass removes: gone from `nodes`, still in today's cost.
    removed: tuple[PlannedNode, ...] = ()

    @property
    def new_per_hour(self) -> float:
        return sum(n.price_per_hour or 0.0 for n in self.nodes if not n.existing)

    @property
    def current_per_hour(self) -> float:
        return sum(n.price_per_hour or 0.0 for n in (*self.nodes, *self.removed) if n.existing)

    @property
    def planned_per_hour(self) -> float:
        return sum(n.price_per_hour or 0.0 for n in self.nodes)

    @property
    def new_nodes(self) -> tuple[PlannedNode, ...]:
        return tuple(n for n in self.nodes if not n.existing)

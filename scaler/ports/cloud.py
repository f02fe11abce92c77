"""The cloud-provider port, shaped like Karpenter's `cloudprovider.CloudProvider`."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pricing import InstanceType
from scaler.core.model import NodePool, Taint
from scaler.core.requirements import Requirements
from scaler.core.scheduling.instancetypes import LaunchOption


class CloudError(Exception):
    """The cloud refused or failed a call."""


class InsufficientCapacityError(CloudError):
    """None of the offered instance types could be launched."""


class NodeNotFoundError(CloudError):
    pass


class ThrottledError(CloudError):
    """The cloud kept throttling the call past the retry budget; try again later."""


@dataclass(frozen=True, slots=True)
class NodeClaimRequest:
    """What to launch: the claim's requirements and its ranked offerings, cheapest first."""

    name: str
    node_pool: str
    requirements: Requirements
    options: tuple[LaunchOption, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True, slots=True)
class CloudNode:
    """A launched instance as the cloud reports it."""

    provider_id: str
    claim_name: str
    node_pool: str
    instance_type: str
    zone: str
    capacity_type: str
    arch: str
    price_per_hour: float
    price_estimated: bool
    # When the cloud launched it (seconds since the epoch), if it says; garbage collection
    # spares instances younger than its grace period.
    launched_at: float | None = None
    # The instance's state as the cloud reports it (EC2: pending, running, stopping, stopped,
    # shutting-down); "" when the cloud does not say (then it is taken as running).
    state: str = ""
    # What the instance was launched with, as far as its NodeClass decides it: the cloud's
    # drift check compares them with what the NodeClass selects now (EC2: AMI, subnet,
    # security groups, and the digest of the fields only a new instance picks up).
    image_id: str = ""
    subnet_id: str = ""
    security_groups: tuple[str, ...] = ()
    node_class_hash: str = ""


# States of an instance that will not run its node again unless someone starts it: a node
# on one is replaced (Karpenter acts on EC2's state-change events for the same states).
STOPPED_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})


class CloudProvider(Protocol):
    name: str

    def create(self, request: NodeClaimRequest) -> CloudNode:
        """Launch one node from the first option that has capacity."""
        ...

    def delete(self, provider_id: str) -> None: ...

    def get(self, provider_id: str) -> CloudNode: ...

    def list(self) -> Sequence[CloudNode]: ...

    def instance_types(self, node_pool: NodePool) -> Sequence[InstanceType]:
        """Instance types with their offerings (prices, zones, capacity types)."""
        ...

    def is_drifted(self, node: CloudNode, node_pool: NodePool) -> str | None:
        """Why the node no longer matches the cloud-side settings its NodePool launches with
        (EC2: its EC2NodeClass), or None; Karpenter's `CloudProvider.IsDrifted`. The NodePool
        itself (requirements, template labels and taints) is the core's to judge
        (`scaler.core.disruption.drift`), not the cloud's."""
        ...

    def mark_unavailable(self, instance_type: str, zone: str, capacity_type: str,
                         reason: str) -> None:
        """Keep this offering out of the choices for a while (an instance of it stopped
        under its node, as a Spot interruption does for Spot offerings)."""
        ...

    def garbage_collect(self, live_claims: Collection[str]) -> Sequence[CloudNode]:
        """Delete this cluster's nodes that no live node claim owns; return those deleted.

        A node launched for a claim that was never registered (a crash between launch and
        registration) is one; providers may spare nodes younger than a grace period.
        """
        ...

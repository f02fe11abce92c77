"""A cloud priced from the bundled catalog; launches succeed unless an offering is marked out."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from pricing import Catalog, InstanceType
from scaler.core.model import NodePool
from scaler.ports.cloud import (
    CloudNode,
    InsufficientCapacityError,
    NodeClaimRequest,
    NodeNotFoundError,
)


class SimulatedCloud:
    name = "simulated"

    def __init__(
        self, catalog: Catalog, unavailable: Iterable[tuple[str, str, str]] = ()
    ) -> None:
        self.catalog = catalog
        # (instance type, zone, capacity type) that fail with insufficient capacity.
        self.unavailable = set(unavailable)
        self._nodes: dict[str, CloudNode] = {}
        self._next_id = 1

    def instance_types(self, node_pool: NodePool) -> Sequence[InstanceType]:
        return self.catalog.instance_types

    def create(self, request: NodeClaimRequest) -> CloudNode:
        for opt in request.options:
            if (opt.instance_type, opt.zone, opt.capacity_type) in self.unavailable:
                continue
            provider_id = f"sim:///{opt.zone}/i-{self._next_id:017x}"
            self._next_id += 1
            node = CloudNode(
                provider_id=provider_id,
                claim_name=request.name,
                node_pool=request.node_pool,
                instance_type=opt.instance_type,
                zone=opt.zone,
                capacity_type=opt.capacity_type,
                arch=opt.arch,
                price_per_hour=opt.price,
                price_estimated=opt.price_estimated,
            )
            self._nodes[provider_id] = node
            return node
        raise InsufficientCapacityError(
            f"no capacity for node claim {request.name} among {len(request.options)} offerings"
        )

    def delete(self, provider_id: str) -> None:
        if self._nodes.pop(provider_id, None) is None:
            raise NodeNotFoundError(provider_id)

    def get(self, provider_id: str) -> CloudNode:
        try:
            return self._nodes[provider_id]
        except KeyError:
            raise NodeNotFoundError(provider_id) from None

    def list(self) -> Sequence[CloudNode]:
        return list(self._nodes.values())

    def mark_unavailable(self, instance_type: str, zone: str, capacity_type: str,
                         reason: str) -> None:
        self.unavailable.add((instance_type, zone, capacity_type))

    def is_drifted(self, node: CloudNode, node_pool: NodePool) -> str | None:
        """Never: the simulated cloud has no NodeClass to drift from (the NodePool's own
        drift is the core's to judge)."""
        return None

    def garbage_collect(self, live_claims: Collection[str]) -> Sequence[CloudNode]:
        """Nodes whose claim is not live are deleted at once (the simulation has no clock)."""
        orphans = [n for n in self._nodes.values() if n.claim_name not in live_claims]
        for node in orphans:
            del self._nodes[node.provider_id]
        return orphans

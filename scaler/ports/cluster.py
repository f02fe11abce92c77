"""The cluster port: what the controller reads from and does to Kubernetes."""

from __future__ import annotations

from typing import Protocol

from scaler.core.model import Node, Snapshot


class ClusterError(Exception):
    pass


class Cluster(Protocol):
    def snapshot(self) -> Snapshot:
        """Nodes, pods, DaemonSets and the rest, as of now."""
        ...

    def add_node(self, node: Node) -> None:
        """A launched instance registered as a node."""
        ...

    def bind(self, pod_key: str, node_name: str) -> None:
        """The pod landed on the node (kube-scheduler does this in a real cluster)."""
        ...

    def cordon(self, node_name: str) -> None: ...

    def evict(self, pod_key: str) -> None: ...

    def delete_node(self, node_name: str) -> None: ...

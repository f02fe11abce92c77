"""A cluster held in memory, starting from a snapshot."""

from __future__ import annotations

import dataclasses

from scaler.core.model import Node, Pod, Snapshot
from scaler.ports.cluster import ClusterError


class SimulatedCluster:
    def __init__(self, snapshot: Snapshot) -> None:
        self._base = snapshot
        self._nodes: dict[str, Node] = {n.name: n for n in snapshot.nodes}
        self._pods: dict[str, Pod] = {p.key: p for p in snapshot.pods}

    def snapshot(self) -> Snapshot:
        return dataclasses.replace(
            self._base, nodes=tuple(self._nodes.values()), pods=tuple(self._pods.values())
        )

    def add_node(self, node: Node) -> None:
        if node.name in self._nodes:
            raise ClusterError(f"node {node.name} already exists")
        self._nodes[node.name] = node

    def replace_node(self, node: Node) -> None:
        """The same node with new labels, taints or flags (its pods stay)."""
        if node.name not in self._nodes:
            raise ClusterError(f"node {node.name} not found")
        self._nodes[node.name] = node

    def bind(self, pod_key: str, node_name: str) -> None:
        pod = self._pods.get(pod_key)
        if pod is None:
            raise ClusterError(f"pod {pod_key} not found")
        if node_name not in self._nodes:
            raise ClusterError(f"node {node_name} not found")
        self._pods[pod_key] = dataclasses.replace(pod, node_name=node_name)

    def cordon(self, node_name: str) -> None:
        node = self._nodes.get(node_name)
        if node is None:
            raise ClusterError(f"node {node_name} not found")
        self._nodes[node_name] = dataclasses.replace(node, unschedulable=True)

    def evict(self, pod_key: str) -> None:
        pod = self._pods.get(pod_key)
        if pod is None:
            raise ClusterError(f"pod {pod_key} not found")
        if pod.owner_kind:  # its controller makes a new, pending one
            self._pods[pod_key] = dataclasses.replace(pod, node_name=None)
        else:
            del self._pods[pod_key]

    def delete_node(self, node_name: str) -> None:
        if self._nodes.pop(node_name, None) is None:
            raise ClusterError(f"node {node_name} not found")
        for key, pod in list(self._pods.items()):
            if pod.node_name == node_name:
                if pod.is_daemonset_pod or pod.owner_kind == "Node":
                    del self._pods[key]  # they go with their node
                else:
                    self._pods[key] = dataclasses.replace(pod, node_name=None)

    def add_pod(self, pod: Pod) -> None:
        """A new pod (a controller scaled up)."""
        self._pods[pod.key] = pod

    def remove_pod(self, pod_key: str) -> None:
        """A pod gone for good (a controller scaled down)."""
        self._pods.pop(pod_key, None)

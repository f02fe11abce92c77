"""Drift: which nodes no longer match their NodePool, and why."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scaler.core.model import Node, Taint
from scaler.core.resources import Resources
from scaler.gitops.drift import catalog_labels, find_drift, node_drift
from scaler.policy import load_policies
from scaler.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parents[2]
POLICIES = load_policies(ROOT / "policies")
LABELS = catalog_labels("us-east-1")


def node(name: str, pool: str | None, **labels: str) -> Node:
    base = {"node.kubernetes.io/instance-type": "m6g.large", "kubernetes.io/arch": "arm64",
            "kubernetes.io/os": "linux", "karpenter.sh/capacity-type": "spot"}
    if pool:
        base["karpenter.sh/nodepool"] = pool
    return Node(name, {**base, **labels}, Resources.parse({"cpu": "2"}))


def test_the_example_snapshot_matches_the_example_policies() -> None:
    snapshot = load_snapshot([ROOT / "examples" / "snapshot.yaml"])
    assert find_drift(snapshot.nodes, POLICIES, LABELS) == []


def test_instance_type_labels_come_from_the_catalog() -> None:
    # m4 is generation 4: the default pool wants generation 5 or newer. The node does not
    # carry the generation label; its instance type says it.
    n = node("old", "default", **{"node.kubernetes.io/instance-type": "m4.large",
                                    "kubernetes.io/arch": "amd64"})
    d = node_drift(n, POLICIES, LABELS)
    assert d is not None
    assert (d.field, d.reason) == (
        "karpenter.k8s.aws/instance-generation",
        "label karpenter.k8s.aws/instance-generation=4 does not satisfy NodePool default's "
        "requirement karpenter.k8s.aws/instance-generation Gt 4",
    )
    # Without the catalog, a label the node does not carry is not judged.
    assert node_drift(n, POLICIES, None) is None


def test_a_label_edited_by_hand() -> None:
    n = node("edited", "default", **{"kubernetes.io/os": "windows"})
    d = node_drift(n, POLICIES, LABELS)
    assert d is not None and d.field == "kubernetes.io/os"
    assert d.reason.startswith("label kubernetes.io/os=windows does not satisfy")


def test_a_removed_node_pool_and_unmanaged_nodes() -> None:
    gone = node_drift(node("n", "batch"), POLICIES, LABELS)
    assert gone is not None and gone.reason == "NodePool batch no longer exists"
    assert node_drift(node("self-managed", None), POLICIES, LABELS) is None


def test_a_missing_taint() -> None:
    gpu = node("g", "gpu", **{"node.kubernetes.io/instance-type": "g4dn.xlarge",
                              "kubernetes.io/arch": "amd64",
                              "karpenter.sh/capacity-type": "on-demand",
                              "example.com/pool": "gpu"})
    d = node_drift(gpu, POLICIES, LABELS)
    assert d is not None and d.field == "taints"
    assert d.reason == (
        "taint nvidia.com/gpu=true:NoSchedule of NodePool gpu is missing from the node"
    )
    tainted = replace(gpu, taints=(Taint("nvidia.com/gpu", "NoSchedule", "true"),))
    assert node_drift(tainted, POLICIES, LABELS) is None

"""Drift: which nodes no longer match their NodePool, and why (the one judge, used by the
disruption pass, the controller's Drifted condition, `scaler plan` and the reconciler)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pricing import load_catalog
from scaler.core.disruption.drift import NodeDrift, drift_of, find_drift
from scaler.core.model import LABEL_NODE_SETTINGS, Node, Taint
from scaler.core.provisioning import node_labels
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.policy import load_policies
from scaler.snapshot import load_snapshot
from tests.support.builders import pool, req

ROOT = Path(__file__).resolve().parents[3]
POLICIES = load_policies(ROOT / "policies")
POOLS = POLICIES.node_pools
TABLE = InstanceTypeTable(load_catalog("us-east-1").instance_types)
UNKNOWN_TYPES = InstanceTypeTable(())


def node(name: str, pool_name: str | None, **labels: str) -> Node:
    base = {"node.kubernetes.io/instance-type": "m6g.large", "kubernetes.io/arch": "arm64",
            "kubernetes.io/os": "linux", "karpenter.sh/capacity-type": "spot"}
    if pool_name:
        base["karpenter.sh/nodepool"] = pool_name
    return Node(name, {**base, **labels}, Resources.parse({"cpu": "2"}))


def judge(n: Node, table: InstanceTypeTable = TABLE) -> NodeDrift | None:
    (found,) = find_drift([n], POOLS, table) or [None]
    return found


def test_the_example_snapshot_matches_the_example_policies() -> None:
    snapshot = load_snapshot([ROOT / "examples" / "snapshot.yaml"])
    assert find_drift(snapshot.nodes, POOLS, TABLE) == []


def test_instance_type_labels_come_from_the_table() -> None:
    # m4 is generation 4: the default pool wants generation 5 or newer. The node does not
    # carry the generation label; its instance type says it.
    n = node("old", "default", **{"node.kubernetes.io/instance-type": "m4.large",
                                    "kubernetes.io/arch": "amd64"})
    assert judge(n) == NodeDrift(
        "old", "default", "karpenter.k8s.aws/instance-generation",
        "label karpenter.k8s.aws/instance-generation=4 does not satisfy NodePool default's "
        "requirement karpenter.k8s.aws/instance-generation Gt 4",
    )
    # An instance type the table does not know: a label the node does not carry is not judged.
    assert judge(n, UNKNOWN_TYPES) is None


def test_a_label_edited_by_hand() -> None:
    d = judge(node("edited", "default", **{"kubernetes.io/os": "windows"}))
    assert d is not None and d.field == "kubernetes.io/os"
    assert d.reason.startswith("label kubernetes.io/os=windows does not satisfy")


def test_a_removed_node_pool_and_unmanaged_nodes() -> None:
    assert judge(node("n", "batch")) == NodeDrift("n", "batch", "karpenter.sh/nodepool",
                                               "NodePool batch no longer exists")
    assert judge(node("self-managed", None)) is None


def test_a_missing_taint_and_a_missing_template_label() -> None:
    gpu = node("g", "gpu", **{"node.kubernetes.io/instance-type": "g4dn.xlarge",
                              "kubernetes.io/arch": "amd64",
                              "karpenter.sh/capacity-type": "on-demand",
                              "example.com/pool": "gpu"})
    d = judge(gpu)
    assert d is not None and d.field == "taints"
    assert d.reason == (
        "taint nvidia.com/gpu=true:NoSchedule of NodePool gpu is missing from the node"
    )
    tainted = replace(gpu, taints=(Taint("nvidia.com/gpu", "NoSchedule", "true"),))
    assert judge(tainted) is None
    # Karpenter's static drift: the template's labels are part of the NodePool hash (the
    # loader also makes each one a requirement, so another value breaks that first).
    other = replace(tainted, labels={**tainted.labels, "example.com/pool": "batch"})
    d = judge(other)
    assert d is not None and d.field == "example.com/pool"
    assert d.reason.startswith("label example.com/pool=batch does not satisfy NodePool gpu's")
    unlabelled = replace(tainted, labels={k: v for k, v in tainted.labels.items()
                                          if k != "example.com/pool"})
    d = judge(unlabelled)
    assert d is not None and d.reason == (
        "label example.com/pool=gpu of NodePool gpu is missing from the node")


def test_an_instance_type_label_the_known_type_lacks_is_drift() -> None:
    # Karpenter's NodeClaims carry every label of their instance type: one the type lacks
    # cannot satisfy `In`. m6g.large has no GPU.
    gpus = pool("default", req("karpenter.k8s.aws/instance-gpu-name", "In", "t4"))
    n = node("n", "default")
    d = drift_of(n, gpus, TABLE)
    assert d is not None and d.reason == (
        "label karpenter.k8s.aws/instance-gpu-name is missing; NodePool default requires "
        "karpenter.k8s.aws/instance-gpu-name In [t4]")
    assert drift_of(n, gpus, UNKNOWN_TYPES) is None  # the table cannot tell
    no_gpus = pool("default", req("karpenter.k8s.aws/instance-gpu-name", "DoesNotExist"))
    assert drift_of(n, no_gpus, TABLE) is None


def test_labels_the_node_lacks_that_nothing_tells_are_not_judged() -> None:
    # Placement: every Karpenter node carries its zone; a snapshot without it is silent.
    zoned = pool("default", req("topology.kubernetes.io/zone", "In", "us-east-1a"))
    assert drift_of(node("n", "default"), zoned, TABLE) is None
    assert drift_of(node("n", "default", **{"topology.kubernetes.io/zone": "us-east-1b"}),
                    zoned, TABLE) is not None
    # Custom labels: scaler's launched nodes carry only the template's labels.
    team = pool("default", req("example.com/team", "In", "web"))
    assert drift_of(node("n", "default"), team, TABLE) is None
    assert drift_of(node("n", "default", **{"example.com/team": "db"}), team, TABLE) is not None
    # Keys that are no node's label (scaler's node-settings pin on the scheduler's table).
    pinned = pool("default", req(LABEL_NODE_SETTINGS, "In", "1"))
    assert drift_of(node("n", "default", **{LABEL_NODE_SETTINGS: "0"}), pinned, TABLE) is None



def test_a_template_label_with_another_value() -> None:
    labelled = replace(pool("default"), labels={"example.com/team": "web"})
    n = node("n", "default", **{"example.com/team": "db"})
    assert drift_of(n, labelled, TABLE) == NodeDrift(
        "n", "default", "example.com/team",
        "label example.com/team=db differs from NodePool default's example.com/team=web")


def test_the_nodes_scaler_launches_do_not_drift() -> None:
    # A pool with custom requirements and a template label: the node scaler launches for it
    # carries its type's, the template's and its placement labels, and fits the pool.
    p = replace(pool("default", req("example.com/team", "In", "web", "db"),
                     req("karpenter.k8s.aws/instance-generation", "Gt", "4"),
                     req("topology.kubernetes.io/zone", "In", "us-east-1a")),
                labels={"example.com/tier": "gold"})
    labels = node_labels("c-1", "default", p.labels, load_catalog("us-east-1").get("m6g.large"),
                         "us-east-1a", "spot", "us-east-1")
    launched = Node("c-1", labels, Resources.parse({"cpu": "2"}))
    assert drift_of(launched, p, TABLE) is None

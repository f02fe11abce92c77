"""The simulated cloud and cluster behave like the real ones the ports describe."""

from __future__ import annotations

import pytest

from pricing import load_catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.core.model import Node, NodePool, Pod, Snapshot
from scaler.core.requirements import Requirement, Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.ports.cloud import InsufficientCapacityError, NodeClaimRequest, NodeNotFoundError
from scaler.ports.cluster import ClusterError
from scaler.simulation.provision import provision

CATALOG = load_catalog("us-east-1")
M5 = Requirements([Requirement.of("node.kubernetes.io/instance-type", "In", ["m5.large",
                                                                          "m5.xlarge"])])


def request(name: str = "c1") -> NodeClaimRequest:
    table = InstanceTypeTable(CATALOG.instance_types)
    idx = table.mask(M5).nonzero()[0]
    return NodeClaimRequest(name, "default", M5, table.options(idx, M5))


def test_launch_takes_the_first_option_with_capacity() -> None:
    req = request()
    first, second = req.options[0], req.options[1]
    cloud = SimulatedCloud(CATALOG, unavailable=[
        (first.instance_type, first.zone, first.capacity_type)])
    node = cloud.create(req)
    assert (node.instance_type, node.zone, node.capacity_type) == (
        second.instance_type, second.zone, second.capacity_type)
    assert node.price_per_hour == second.price
    assert cloud.get(node.provider_id) == node and list(cloud.list()) == [node]
    cloud.delete(node.provider_id)
    assert not cloud.list()
    with pytest.raises(NodeNotFoundError):
        cloud.get(node.provider_id)


def test_no_capacity_anywhere_raises() -> None:
    req = request()
    cloud = SimulatedCloud(
        CATALOG, unavailable=[(o.instance_type, o.zone, o.capacity_type) for o in req.options])
    with pytest.raises(InsufficientCapacityError):
        cloud.create(req)


def test_failed_launch_leaves_pods_unschedulable_with_reason() -> None:
    pod = Pod("default", "a", Resources.parse({"cpu": "1", "memory": "1Gi"}))
    pool = NodePool("default", M5)
    everything = [(t.name, o.zone, o.capacity_type) for t in CATALOG.instance_types
                  for o in t.offerings]
    cloud = SimulatedCloud(CATALOG, unavailable=everything)
    cluster = SimulatedCluster(Snapshot(pods=(pod,)))
    plan = provision(cluster, cloud, [pool], CATALOG)
    assert [u.pod for u in plan.unschedulable] == ["default/a"]
    assert plan.unschedulable[0].reason.startswith("launch failed")
    assert not plan.new_nodes


def test_the_simulated_cloud_has_no_node_class_to_drift_from() -> None:
    """Only the core judges a NodePool's requirements (scaler.core.disruption.drift); the
    cloud's check is for its NodeClass, which the simulation does not have."""
    cloud = SimulatedCloud(CATALOG)
    node = cloud.create(request())
    arm = Requirements([Requirement.of("kubernetes.io/arch", "In", ["arm64"])])
    assert cloud.is_drifted(node, NodePool("default", arm)) is None


def test_simulated_cluster_binds_cordons_evicts_and_deletes() -> None:
    node = Node("n1", {}, Resources.parse({"cpu": "2"}))
    owned = Pod("default", "web-1", Resources(), owner_kind="ReplicaSet", owner_name="web")
    bare = Pod("default", "bare", Resources())
    cluster = SimulatedCluster(Snapshot(nodes=(node,), pods=(owned, bare)))
    cluster.bind("default/web-1", "n1")
    cluster.bind("default/bare", "n1")
    assert {p.key for p in cluster.snapshot().bound_pods} == {"default/web-1", "default/bare"}
    cluster.cordon("n1")
    assert cluster.snapshot().nodes[0].unschedulable
    cluster.evict("default/bare")  # no controller: gone for good
    assert [p.key for p in cluster.snapshot().pods] == ["default/web-1"]
    cluster.delete_node("n1")  # its controller's pod is pending again
    assert [p.key for p in cluster.snapshot().pending_pods] == ["default/web-1"]
    with pytest.raises(ClusterError):
        cluster.bind("default/web-1", "n1")


def test_claim_prefix_keeps_names_unique_across_passes() -> None:
    pod = Pod("default", "a", Resources.parse({"cpu": "1", "memory": "1Gi"}))
    names = set()
    for prefix in ("p1-", "p2-"):
        cluster = SimulatedCluster(Snapshot(pods=(pod,)))
        plan = provision(cluster, SimulatedCloud(CATALOG), [NodePool("default", M5)], CATALOG,
                         claim_prefix=prefix)
        names |= {n.name for n in plan.new_nodes}
    assert names == {"default-p1-00001", "default-p2-00001"}

"""A NodePool's template annotations land on the nodes scaler launches (simulated cluster),
as Karpenter puts `spec.template.metadata.annotations` on its NodeClaims and Nodes; one of
them, `karpenter.sh/do-not-disrupt: "true"`, then keeps the pool's nodes from voluntary
disruption (Karpenter's documented way to protect a whole NodePool)."""

from __future__ import annotations

from pathlib import Path

from pricing import load_catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedManagedCluster
from scaler.control.disruption import ChangeTracker, disruption_input
from scaler.control.provisioning import Provisioner, register_ready
from scaler.core.disruption.plan import plan_disruptions
from scaler.core.model import Pod, Snapshot
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.policy import load_policies
from scaler.ports.fence import OpenFence

POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    metadata:
      annotations:
        example.com/owner: team-a
%s    spec:
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.xlarge]}
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
"""


def _launch(tmp_path: Path, extra: str) -> tuple[SimulatedManagedCluster, list[str]]:
    (tmp_path / "pool.yaml").write_text(POOL % extra)
    pools = load_policies(tmp_path).node_pools
    pod = Pod("default", "web-0", Resources.parse({"cpu": "500m", "memory": "1Gi"}),
              owner_kind="ReplicaSet", owner_name="web")
    cluster = SimulatedManagedCluster(Snapshot(pods=(pod,)), clock=lambda: 0.0)
    cloud = SimulatedCloud(load_catalog("us-east-1"))
    outcome = Provisioner(cluster, cloud, OpenFence(), "us-east-1").provision(
        pools, cluster.snapshot(), cluster.snapshot().pending_pods, claim_prefix="x-")
    assert len(outcome.launched) == 1
    register_ready(cluster)  # the node joined and is Ready
    table = InstanceTypeTable(load_catalog("us-east-1").instance_types)
    later = 10_000.0  # long after consolidateAfter (0s): the lone pod's node is a candidate
    # With the pod gone, the node is empty: Karpenter would consolidate it, unless protected.
    cluster.inner.evict("default/web-0")
    plan = plan_disruptions(disruption_input(cluster, table, pools, ChangeTracker(), later),
                            later)
    return cluster, [d.node for d in plan.disruptions]


def test_template_annotations_are_on_the_launched_node(tmp_path: Path) -> None:
    cluster, disrupted = _launch(tmp_path, "")
    (node,) = cluster.snapshot().nodes
    assert node.annotations == {"example.com/owner": "team-a"}
    assert not node.do_not_disrupt
    assert disrupted == [node.name]  # an empty node of an unprotected pool goes


def test_a_do_not_disrupt_template_annotation_protects_the_pools_nodes(tmp_path: Path) -> None:
    cluster, disrupted = _launch(tmp_path, '        karpenter.sh/do-not-disrupt: "true"\n')
    (node,) = cluster.snapshot().nodes
    assert node.annotations["karpenter.sh/do-not-disrupt"] == "true"
    assert node.do_not_disrupt
    assert disrupted == []

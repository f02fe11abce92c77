"""EC2NodeClass drift carried out by the loop (moto_server, the AWS provider, the simulated
cluster): the NodeClass's amiSelectorTerms move to another AMI, the controller asks the
cloud (`CloudProvider.is_drifted`), marks the claim Drifted with the cloud's reason, and the
disruption pass replaces the node: a new instance on the new AMI, the old one terminated."""

from __future__ import annotations

from pathlib import Path

import yaml

from scaler.adapters.aws import AwsCloudProvider, parse_ec2_node_class
from scaler.adapters.aws.instances import instance_id
from scaler.adapters.simulated import SimulatedManagedCluster
from scaler.core.disruption.candidates import DisruptionSettings
from scaler.core.model import Pod, Snapshot
from scaler.policy import load_policies
from scaler.ports.fence import OpenFence
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.policies import PolicyHolder
from tests.integration.aws.conftest import NODE_CLASS, REGION, Rig
from tests.integration.aws.test_aws_interruptions import POOL, web_pods
from tests.support.builders import pod

SELECTED_BY_TAG = "  amiSelectorTerms:\n    - tags:\n        scaler-test/ami: node\n"


def image_of(rig: Rig, iid: str) -> str:
    found = rig.world.ec2.describe_instances(InstanceIds=[iid])
    return str(found["Reservations"][0]["Instances"][0]["ImageId"])


def loop(rig: Rig, tmp_path: Path, pods: tuple[Pod, ...] = web_pods(2),
         ) -> tuple[Controller, SimulatedManagedCluster, str]:
    """The controller on the AWS provider and the simulated cluster after one provisioning
    and one lifecycle pass: two pods on one registered node (by default); returns the
    first node's instance id."""
    world = rig.world
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "nodeclass.yaml").write_text(NODE_CLASS)
    (policies / "pool.yaml").write_text(POOL)
    provider = rig.make(resolve_ttl=0)  # the NodeClass's selection looked up on every check
    cluster = SimulatedManagedCluster(Snapshot(pods=pods))
    controller = Controller(cluster, provider, PolicyHolder(load_policies(policies)),
                            OpenFence(), settings=LoopSettings(region=REGION, nomination_ttl=0),
                            disruption=DisruptionSettings(validation_delay=0))
    controller.provision()
    controller.lifecycle()
    # moto does not apply the launch template's security groups to fleet instances; EC2 does.
    for claim in cluster.claims():
        assert claim.registered
        world.ec2.modify_instance_attribute(InstanceId=instance_id(claim.provider_id),
                                            Groups=[world.security_group])
    return controller, cluster, instance_id(cluster.claims()[0].provider_id)


def select_spare_ami(rig: Rig, controller: Controller) -> str:
    """The user points amiSelectorTerms at another AMI (the policy repo's new revision)."""
    new_ami = rig.world.spare_amis["amd64"]
    text = NODE_CLASS.replace(SELECTED_BY_TAG, f"  amiSelectorTerms:\n    - id: {new_ami}\n")
    assert text != NODE_CLASS
    provider = controller.cloud
    assert isinstance(provider, AwsCloudProvider)
    provider.update_node_classes({"default": parse_ec2_node_class(yaml.safe_load(text),
                                                                  "nodeclass.yaml")})
    return new_ami


def test_a_new_ami_in_the_node_class_rolls_the_node(rig: Rig, tmp_path: Path) -> None:
    world = rig.world
    controller, cluster, old_iid = loop(rig, tmp_path)
    [old] = cluster.claims()
    assert image_of(rig, old_iid) == world.amis["amd64"]

    controller.disrupt()  # nothing has changed: not drifted, nothing to do
    assert not cluster.claims()[0].drifted and controller.stats.replacements == 0
    new_ami = select_spare_ami(rig, controller)

    controller.disrupt()  # marked Drifted with the cloud's reason; a replacement launched
    [marked] = [c for c in cluster.claims() if c.name == old.name]
    drifted = [m for ref, _, r, m in cluster.events if ref.name == old.name and r == "Drifted"]
    print("drifted:", drifted, "replacements:", controller.stats.replacements)
    assert marked.drifted
    assert drifted == [f"NodeClaim drifted: AMI drift: runs {world.amis['amd64']}; "
                       f"EC2NodeClass default selects {new_ami} (amd64)"]
    assert controller.stats.replacements == 1
    [new] = [c for c in cluster.claims() if c.name != old.name]

    controller.lifecycle()  # the replacement registers and is Ready
    controller.disrupt()  # the old node is drained, deleted and its instance terminated
    assert controller.stats.disrupted == 1
    [new] = cluster.claims()
    assert [n.name for n in cluster.snapshot().nodes] == [new.node_name]
    assert world.state(old_iid) in ("shutting-down", "terminated")
    new_iid = instance_id(new.provider_id)
    assert world.state(new_iid) == "running"
    assert image_of(rig, new_iid) == new_ami
    events = [(r, m) for ref, _, r, m in cluster.events if ref.name == old.name]
    print("old claim's events:", events)
    assert [r for r, _ in events] == ["Launched", "Registered", "Drifted",
                                      "DisruptionLaunching", "DisruptionTerminating",
                                      "Consolidated"]
    assert events[-1][1].startswith(f"Drifted: AMI drift: runs {world.amis['amd64']}")


def test_when_the_cloud_cannot_be_asked_the_condition_stays(rig: Rig, tmp_path: Path) -> None:
    controller, cluster, _ = loop(rig, tmp_path)
    select_spare_ami(rig, controller)
    rig.proxy.throttle("DescribeInstances", 1000)  # past the retry budget, every pass

    controller.disrupt()  # the rest of the pass goes on; no claim is marked either way
    assert not cluster.claims()[0].drifted and controller.stats.replacements == 0

    rig.proxy.throttle("DescribeInstances", 0)
    controller.disrupt()
    assert cluster.claims()[0].drifted and controller.stats.replacements == 1


def test_one_list_of_instances_judges_every_node(rig: Rig, tmp_path: Path) -> None:
    big = tuple(pod(f"big-{i}", "3", "4Gi", owner=("ReplicaSet", "big")) for i in range(3))
    controller, cluster, _ = loop(rig, tmp_path, big)  # one pod per node: three nodes
    assert len(cluster.claims()) == 3
    described = len(rig.proxy.calls("DescribeInstances"))
    controller.disrupt()
    assert len(rig.proxy.calls("DescribeInstances")) - described == 1  # not one per node
    assert not any(c.drifted for c in cluster.claims())

    select_spare_ami(rig, controller)
    controller.disrupt()
    assert all(c.drifted for c in cluster.claims() if not c.replaces)

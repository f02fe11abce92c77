"""EC2NodeClass drift carried out by the loop (moto_server, the AWS provider, the simulated
cluster): the NodeClass's amiSelectorTerms move to another AMI, the controller asks the
cloud (`CloudProvider.is_drifted`), marks the claim Drifted with the cloud's reason, and the
disruption pass replaces the node: a new instance on the new AMI, the old one terminated."""

from __future__ import annotations

from pathlib import Path

import yaml

from scaler.adapters.aws import parse_ec2_node_class
from scaler.adapters.aws.instances import instance_id
from scaler.adapters.simulated import SimulatedManagedCluster
from scaler.core.disruption.candidates import DisruptionSettings
from scaler.core.model import Snapshot
from scaler.policy import load_policies
from scaler.ports.fence import OpenFence
from scaler.runtime.controller import Controller, LoopSettings
from scaler.runtime.policies import PolicyHolder
from tests.integration.aws.conftest import NODE_CLASS, REGION, Rig
from tests.integration.aws.test_aws_interruptions import POOL, web_pods

SELECTED_BY_TAG = "  amiSelectorTerms:\n    - tags:\n        scaler-test/ami: node\n"


def image_of(rig: Rig, iid: str) -> str:
    found = rig.world.ec2.describe_instances(InstanceIds=[iid])
    return str(found["Reservations"][0]["Instances"][0]["ImageId"])


def test_a_new_ami_in_the_node_class_rolls_the_node(rig: Rig, tmp_path: Path) -> None:
    world = rig.world
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "nodeclass.yaml").write_text(NODE_CLASS)
    (policies / "pool.yaml").write_text(POOL)
    provider = rig.make(resolve_ttl=0)  # the NodeClass's selection looked up on every check
    cluster = SimulatedManagedCluster(Snapshot(pods=web_pods(2)))
    controller = Controller(cluster, provider, PolicyHolder(load_policies(policies)),
                            OpenFence(), settings=LoopSettings(region=REGION, nomination_ttl=0),
                            disruption=DisruptionSettings(validation_delay=0))
    controller.provision()
    controller.lifecycle()
    [old] = cluster.claims()
    old_iid = instance_id(old.provider_id)
    # moto does not apply the launch template's security groups to fleet instances; EC2 does.
    world.ec2.modify_instance_attribute(InstanceId=old_iid, Groups=[world.security_group])
    assert image_of(rig, old_iid) == world.amis["amd64"]

    controller.disrupt()  # nothing has changed: not drifted, nothing to do
    assert not cluster.claims()[0].drifted and controller.stats.replacements == 0

    # The user points amiSelectorTerms at another AMI (the policy repo's new revision).
    new_ami = world.spare_amis["amd64"]
    text = NODE_CLASS.replace(SELECTED_BY_TAG, f"  amiSelectorTerms:\n    - id: {new_ami}\n")
    assert text != NODE_CLASS
    provider.update_node_classes({"default": parse_ec2_node_class(yaml.safe_load(text),
                                                                  "nodeclass.yaml")})

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

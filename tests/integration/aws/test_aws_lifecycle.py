"""Lifecycle against moto_server: list/get by tags, delete with confirmation, garbage collection
of a launch whose registration never happened, and drift against the EC2NodeClass."""

from __future__ import annotations

import dataclasses
import time

import pytest

from scaler.adapters.aws.instances import instance_id
from scaler.ports.cloud import NodeNotFoundError
from tests.integration.aws.conftest import (
    CLUSTER,
    ZONES,
    Rig,
    claim_request,
)
from tests.support.builders import karpenter_pool, requirement_in

M5 = requirement_in("node.kubernetes.io/instance-type", "m5.large", "m5.xlarge")
SPOT = requirement_in("karpenter.sh/capacity-type", "spot")


def foreign_instance(rig: Rig, tags: dict[str, str]) -> str:
    """An instance scaler did not launch (another cluster's, or nobody's)."""
    world = rig.world
    spec = [{"ResourceType": "instance",
             "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    made = world.ec2.run_instances(ImageId=world.amis["amd64"], InstanceType="t3.micro",
                                   MinCount=1, MaxCount=1, SubnetId=world.subnets[ZONES[1]],
                                   TagSpecifications=spec)
    return str(made["Instances"][0]["InstanceId"])


def test_list_and_get_find_this_clusters_instances_by_their_tags(rig: Rig) -> None:
    provider = rig.make()
    pool = karpenter_pool([M5, SPOT])
    a = provider.create(claim_request(provider, pool, "default-aaaaa"))
    b = provider.create(claim_request(provider, pool, "default-bbbbb"))
    foreign_instance(rig, {"kubernetes.io/cluster/other": "owned",
                           "karpenter.sh/nodepool": "default"})
    foreign_instance(rig, {})

    listed = provider.list()

    print("listed:", [(n.claim_name, n.instance_type, n.zone) for n in listed])
    assert {n.provider_id for n in listed} == {a.provider_id, b.provider_id}
    got = provider.get(a.provider_id)
    assert (got.claim_name, got.node_pool, got.instance_type, got.capacity_type) == (
        "default-aaaaa", "default", a.instance_type, "spot")
    assert got.launched_at is not None
    with pytest.raises(NodeNotFoundError):
        provider.get("aws:///eu-west-1a/i-0000000000000dead")


def test_delete_terminates_and_confirms(rig: Rig) -> None:
    provider = rig.make()
    node = provider.create(claim_request(provider, karpenter_pool([M5, SPOT]), "default-del01"))

    provider.delete(node.provider_id)

    state = rig.world.state(instance_id(node.provider_id))
    print("state after delete:", state)
    assert state in ("shutting-down", "terminated")
    assert provider.list() == []
    with pytest.raises(NodeNotFoundError):
        provider.get(node.provider_id)
    with pytest.raises(NodeNotFoundError):  # deleting twice says so
        provider.delete(node.provider_id)


def test_a_crash_between_launch_and_registration_leaks_nothing(rig: Rig) -> None:
    provider = rig.make()
    pool = karpenter_pool([M5, SPOT])
    registered = provider.create(claim_request(provider, pool, "default-live1"))
    # The controller launches the next claim and dies before registering its node.
    orphan = provider.create(claim_request(provider, pool, "default-crash"))
    other_cluster = foreign_instance(rig, {"kubernetes.io/cluster/other": "owned",
                                           "karpenter.sh/nodepool": "default"})

    # The restarted controller knows only the claims that were registered.
    restarted = rig.make()
    live_claims = {"default-live1"}
    assert restarted.garbage_collect(live_claims, now=time.time()) == []  # within the grace
    collected = restarted.garbage_collect(live_claims, now=time.time() + 31)

    print("collected:", [(n.claim_name, n.provider_id) for n in collected])
    assert [n.provider_id for n in collected] == [orphan.provider_id]
    assert rig.world.state(instance_id(orphan.provider_id)) in ("shutting-down", "terminated")
    assert rig.world.state(instance_id(registered.provider_id)) == "running"
    assert rig.world.state(other_cluster) == "running"
    assert [n.provider_id for n in restarted.list()] == [registered.provider_id]


def test_drift_against_the_node_class(rig: Rig) -> None:
    world = rig.world
    provider = rig.make(resolve_ttl=0)  # look selectors up again on every check
    pool = karpenter_pool([M5, SPOT])
    node = provider.create(claim_request(provider, pool, "default-drift"))
    iid = instance_id(node.provider_id)
    # moto does not apply the launch template's security groups to fleet instances; EC2 does.
    world.ec2.modify_instance_attribute(InstanceId=iid, Groups=[world.security_group])
    assert provider.is_drifted(node, pool) is None

    # A new AMI is selected (the old one untagged, another tagged).
    world.ec2.delete_tags(Resources=[world.amis["amd64"]], Tags=[{"Key": "scaler-test/ami"}])
    world.ec2.create_tags(Resources=[world.spare_amis["amd64"]],
                          Tags=[{"Key": "scaler-test/ami", "Value": "node"}])
    reason = provider.is_drifted(node, pool)
    print("AMI:", reason)
    assert reason is not None and reason.startswith("AMI drift: runs " + world.amis["amd64"])
    world.ec2.create_tags(Resources=[world.amis["amd64"]],
                          Tags=[{"Key": "scaler-test/ami", "Value": "node"}])
    assert provider.is_drifted(node, pool) is None  # both selected again: no drift

    # The node's subnet is no longer selected.
    world.ec2.delete_tags(Resources=[world.subnets[node.zone]],
                          Tags=[{"Key": "karpenter.sh/discovery"}])
    reason = provider.is_drifted(node, pool)
    print("subnet:", reason)
    assert reason is not None and "subnet drift" in reason
    world.ec2.create_tags(Resources=[world.subnets[node.zone]],
                          Tags=[{"Key": "karpenter.sh/discovery", "Value": CLUSTER}])

    # Another security group is selected.
    world.ec2.create_security_group(
        GroupName="extra", Description="extra", VpcId=world.vpc,
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "karpenter.sh/discovery", "Value": CLUSTER}]}])
    reason = provider.is_drifted(node, pool)
    print("security groups:", reason)
    assert reason is not None and "security group drift" in reason

    # User data changed: only a new instance picks it up.
    changed = dataclasses.replace(world.node_class, user_data="#!/bin/bash\necho v2\n")
    provider.update_node_classes({"default": changed})
    reason = provider.is_drifted(node, pool)
    print("static:", reason)
    assert reason is not None and "EC2NodeClass default changed" in reason

    # The NodePool's own requirements are the core's to judge (scaler.core.disruption.drift),
    # not the cloud's: a narrower pool adds nothing to the NodeClass's reasons.
    narrower = karpenter_pool([requirement_in("node.kubernetes.io/instance-type", "m5.xlarge"),
                               SPOT])
    assert provider.is_drifted(node, narrower) == reason

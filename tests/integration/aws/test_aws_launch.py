"""Launching through EC2 CreateFleet against moto_server, with injected capacity errors,
throttling and lost answers (issue 6: launch, ICE fallback, throttling, client token, logs)."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from typing import Any

import pytest

from scaler.adapters.aws import Backoff, UnavailableOfferings
from scaler.adapters.aws.fleet import Override, client_token
from scaler.adapters.aws.instances import instance_id
from scaler.adapters.aws.nodeclass import SelectorTerm
from scaler.errors import UserError
from scaler.ports.cloud import InsufficientCapacityError, ThrottledError
from tests.integration.aws.conftest import (
    ACCESS_KEY_ID,
    CLUSTER,
    REGION,
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
    ZONES,
    Rig,
    claim_request,
)
from tests.support.builders import karpenter_pool, requirement_in

M5 = requirement_in("node.kubernetes.io/instance-type", "m5.large", "m5.xlarge")
SPOT = requirement_in("karpenter.sh/capacity-type", "spot")
ON_DEMAND = requirement_in("karpenter.sh/capacity-type", "on-demand")


def overrides_of(params: dict[str, str]) -> list[tuple[str, str]]:
    """(instance type, subnet) of each override of a recorded CreateFleet, in order."""
    out = []
    o = 1
    while f"LaunchTemplateConfigs.1.Overrides.{o}.InstanceType" in params:
        out.append((params[f"LaunchTemplateConfigs.1.Overrides.{o}.InstanceType"],
                    params[f"LaunchTemplateConfigs.1.Overrides.{o}.SubnetId"]))
        o += 1
    return out


def test_launch_offers_every_ranked_alternative_and_tags_the_instance(rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, SPOT]), "default-k2x9a", live=True)
    assert [(o.instance_type, o.zone) for o in request.options] == [
        ("m5.large", z) for z in ZONES] + [("m5.xlarge", z) for z in ZONES]

    node = provider.create(request)

    world = rig.world
    assert (node.instance_type, node.zone, node.capacity_type) == ("m5.large", ZONES[0], "spot")
    assert node.provider_id.startswith(f"aws:///{ZONES[0]}/i-")
    [fleet] = rig.proxy.calls("CreateFleet")
    params = fleet.params
    assert params["Type"] == "instant"
    assert params["TargetCapacitySpecification.TotalTargetCapacity"] == "1"
    assert params["SpotOptions.AllocationStrategy"] == "price-capacity-optimized"
    assert overrides_of(params) == [(o.instance_type, world.subnets[o.zone])
                                    for o in request.options]
    assert params["ClientToken"].startswith("scaler-")
    tags = world.tags(instance_id(node.provider_id))
    assert {k: tags[k] for k in (f"kubernetes.io/cluster/{CLUSTER}", "eks:eks-cluster-name",
                                 "karpenter.sh/nodepool", "karpenter.sh/nodeclaim",
                                 "karpenter.k8s.aws/ec2nodeclass", "team")} == {
        f"kubernetes.io/cluster/{CLUSTER}": "owned", "eks:eks-cluster-name": CLUSTER,
        "karpenter.sh/nodepool": "default", "karpenter.sh/nodeclaim": "default-k2x9a",
        "karpenter.k8s.aws/ec2nodeclass": "default", "team": "platform"}

    # The launch template: AMI, security group, instance profile for the role, user data,
    # disks, and IMDSv2 required.
    lt_id = params["LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId"]
    version = world.ec2.describe_launch_template_versions(LaunchTemplateId=lt_id)
    data = version["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    print("launch template data:", {k: v for k, v in data.items() if k != "TagSpecifications"})
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    assert data["ImageId"] == world.amis["amd64"]
    assert data["SecurityGroupIds"] == [world.security_group]
    assert data["IamInstanceProfile"]["Name"].startswith(f"{CLUSTER}_")
    assert base64.b64decode(data["UserData"]).decode().startswith("#!/bin/bash")
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 100
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeType"] == "gp3"
    instance = world.instances()[0]
    assert instance["ImageId"] == world.amis["amd64"]
    assert instance["SubnetId"] == world.subnets[ZONES[0]]


def test_on_demand_launch_asks_for_the_lowest_price(rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, ON_DEMAND]), "default-od001")
    node = provider.create(request)
    [fleet] = rig.proxy.calls("CreateFleet")
    assert fleet.params["OnDemandOptions.AllocationStrategy"] == "lowest-price"
    assert fleet.params["TargetCapacitySpecification.DefaultTargetCapacityType"] == "on-demand"
    assert "SpotOptions.AllocationStrategy" not in fleet.params
    assert (node.capacity_type, node.instance_type) == ("on-demand", "m5.large")
    assert node.price_per_hour == request.options[0].price


def test_insufficient_capacity_falls_back_to_the_next_type(rig: Rig) -> None:
    clock = [1000.0]
    unavailable = UnavailableOfferings(clock=lambda: clock[0])
    provider = rig.make(unavailable=unavailable)
    pool = karpenter_pool([M5, SPOT])
    request = claim_request(provider, pool, "default-ice01")
    rig.proxy.insufficient_capacity("m5.large")  # every zone

    node = provider.create(request)

    print("launched:", node.instance_type, node.zone, "| unavailable:",
          [(u.instance_type, u.zone, u.capacity_type, u.reason) for u in unavailable.active()])
    assert (node.instance_type, node.zone) == ("m5.xlarge", ZONES[0])
    assert len(rig.world.instances()) == 1
    assert len(rig.proxy.calls("CreateFleet")) == 1  # EC2 itself moved on to the next override
    assert {(u.instance_type, u.zone, u.capacity_type) for u in unavailable.active()} == {
        ("m5.large", z, "spot") for z in ZONES}
    # The scheduler's next pass does not rank them ...
    again = claim_request(provider, pool, "default-ice02", live=True)
    assert {o.instance_type for o in again.options} == {"m5.xlarge"}
    # ... until the TTL (Karpenter's three minutes) has passed.
    clock[0] += 181
    assert not unavailable.active()
    later = claim_request(provider, pool, "default-ice03", live=True)
    assert "m5.large" in {o.instance_type for o in later.options}


def test_spot_out_of_capacity_everywhere_is_retried_on_demand(rig: Rig) -> None:
    provider = rig.make()
    pool = karpenter_pool([requirement_in("node.kubernetes.io/instance-type", "m5.large")])
    request = claim_request(provider, pool, "default-ice05")
    assert [o.capacity_type for o in request.options] == ["spot"] * 3 + ["on-demand"] * 3
    rig.proxy.insufficient_capacity("m5.large", capacity_type="spot")

    node = provider.create(request)

    first, second = rig.proxy.calls("CreateFleet")
    assert first.params["TargetCapacitySpecification.DefaultTargetCapacityType"] == "spot"
    assert second.params["TargetCapacitySpecification.DefaultTargetCapacityType"] == "on-demand"
    assert first.params["ClientToken"] != second.params["ClientToken"]
    assert node.capacity_type == "on-demand"
    assert len(rig.world.instances()) == 1


def test_no_capacity_anywhere_is_insufficient_capacity(rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5]), "default-ice04")
    for itype in ("m5.large", "m5.xlarge"):
        rig.proxy.insufficient_capacity(itype)
    with pytest.raises(InsufficientCapacityError) as err:
        provider.create(request)
    print(err.value)
    assert "out of capacity" in str(err.value)
    assert not rig.world.instances()
    assert len(rig.proxy.calls("CreateFleet")) == 2  # spot, then on-demand


def test_throttled_launch_is_retried_with_backoff_and_full_jitter(rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, SPOT]), "default-thr01")
    rig.proxy.throttle("CreateFleet", 3)

    node = provider.create(request)

    calls = rig.proxy.calls("CreateFleet")
    print("CreateFleet statuses:", [c.status for c in calls], "sleeps:", rig.sleeps.delays)
    assert [c.status for c in calls] == [503, 503, 503, 200]
    assert len({c.params["ClientToken"] for c in calls}) == 1  # the same request, resent
    assert len(rig.world.instances()) == 1 and node.instance_type == "m5.large"
    # Full jitter: sleep n is uniform in [0, min(cap, base * 2^n)].
    assert len(rig.sleeps.delays) == 3
    for n, delay in enumerate(rig.sleeps.delays):
        assert 0 <= delay <= min(5.0, 0.2 * 2**n)


def test_throttling_that_persists_fails_after_a_bounded_number_of_tries(rig: Rig) -> None:
    provider = rig.make(backoff=Backoff(base=0.2, cap=5.0, max_attempts=4, sleep=rig.sleeps))
    rig.proxy.throttle("DescribeInstances", 1000)
    with pytest.raises(ThrottledError) as err:
        provider.list()
    print(err.value)
    assert "RequestLimitExceeded" in str(err.value)
    assert len(rig.proxy.calls("DescribeInstances")) == 4
    assert len(rig.sleeps.delays) == 3


def test_a_lost_answer_does_not_launch_a_second_instance(rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, SPOT]), "default-lost1")
    rig.proxy.lose_answer("CreateFleet")  # EC2 launched, the answer never came back

    node = provider.create(request)

    instances = rig.world.instances()
    print("CreateFleet statuses:", [c.status for c in rig.proxy.calls("CreateFleet")],
          "instances:", [i["InstanceId"] for i in instances])
    assert len(instances) == 1
    assert node.provider_id.endswith(instances[0]["InstanceId"])
    assert len(rig.proxy.calls("CreateFleet")) == 1


def test_a_retried_launch_with_the_same_client_token_never_yields_two_instances(
        rig: Rig) -> None:
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, SPOT]), "default-retry")
    first = provider.create(request)
    token = rig.proxy.calls("CreateFleet")[0].params["ClientToken"]

    # The controller retries the same claim (say after a restart): same answer, no launch.
    second = rig.make().create(request)

    print("first:", first.provider_id, "second:", second.provider_id, "token:", token)
    assert second.provider_id == first.provider_id
    assert len(rig.world.instances()) == 1
    assert len(rig.proxy.calls("CreateFleet")) == 1
    # The token is a function of the claim and its overrides, so a resent request carries it.
    params = rig.proxy.calls("CreateFleet")[0].params
    template = params["LaunchTemplateConfigs.1.LaunchTemplateSpecification.LaunchTemplateId"]
    sent = [Override(o, subnet, template)
            for o, (_, subnet) in zip(request.options, overrides_of(params), strict=True)]
    assert token == client_token(request.name, "spot", sent)


def test_an_al2023_alias_is_resolved_through_the_eks_ssm_parameter(rig: Rig) -> None:
    world = rig.world
    amd64 = world.amis["amd64"]

    def get_parameter(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = params["Name"]
        if "/x86_64/" not in name:  # no arm64 AMI published for this version, say
            return 400, {"__type": "ParameterNotFound", "message": ""}
        return 200, {"Parameter": {
            "Name": name, "Type": "String", "Value": amd64, "Version": 12,
            "LastModifiedDate": 1795600000.0, "DataType": "aws:ec2:image",
            "ARN": f"arn:aws:ssm:{REGION}::parameter{name}"}}

    rig.proxy.answer("GetParameter", get_parameter)
    aliased = dataclasses.replace(
        world.node_class, ami_terms=(SelectorTerm(alias="al2023@latest"),))
    provider = rig.make(node_classes={"default": aliased}, kubernetes_version="1.31")

    node = provider.create(claim_request(provider, karpenter_pool([M5, SPOT]), "default-alias"))

    asked = sorted(json.loads(c.params["Name"]) for c in rig.proxy.calls("GetParameter"))
    print("SSM parameters read:", asked)
    assert asked == [
        "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/arm64/standard/recommended/image_id",
        "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/"
        "image_id"]
    assert world.instances()[0]["ImageId"] == amd64 and node.arch == "amd64"
    # Without the cluster's Kubernetes version the alias cannot be resolved: said in one line.
    with pytest.raises(UserError, match="needs the cluster's Kubernetes version"):
        rig.make(node_classes={"default": aliased}).create(
            claim_request(provider, karpenter_pool([M5, SPOT]), "default-alias2"))


def test_credentials_never_appear_in_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # botocore's wire-level DEBUG output included
    provider = rig.make()
    request = claim_request(provider, karpenter_pool([M5, SPOT]), "default-logs1")
    rig.proxy.throttle("CreateFleet", 1)
    provider.create(request)

    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "CreateFleet" in text and "Authorization" in text  # the signed requests were logged
    for secret in (SECRET_ACCESS_KEY, SESSION_TOKEN, ACCESS_KEY_ID):
        assert secret not in text
    print(f"{len(caplog.records)} log records, none with a credential")


def test_a_deleted_subnet_drops_its_zone_from_the_launch_and_the_offerings(rig: Rig) -> None:
    """The subnet of the zone a claim ranks first is deleted after the NodeClass's subnets
    were looked up: EC2 refuses the CreateFleet (InvalidSubnetID.NotFound); the subnets are
    looked up again and the launch goes on in the zones left, which are all the NodePool
    is offered from then on (a failed zone whose subnet is gone is no domain)."""
    provider = rig.make()
    pool = karpenter_pool([M5, ON_DEMAND])
    provider.create(claim_request(provider, pool, "default-sub01"))  # subnets resolved
    request = claim_request(provider, pool, "default-sub02")
    zone = request.options[0].zone
    rig.world.ec2.delete_subnet(SubnetId=rig.world.subnets[zone])

    node = provider.create(request)

    assert node.zone != zone
    refused, launched = rig.proxy.calls("CreateFleet")[1:]
    assert rig.world.subnets[zone] in {s for _, s in overrides_of(refused.params)}
    assert rig.world.subnets[zone] not in {s for _, s in overrides_of(launched.params)}
    assert zone not in {o.zone for it in provider.instance_types(pool) for o in it.offerings}
    assert len(rig.world.instances()) == 2

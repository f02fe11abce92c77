"""CreateFleet requests and answers: one node, every alternative, a deterministic client token."""

from __future__ import annotations

import pytest

from scaler.adapters.aws.fleet import (
    MAX_OVERRIDES,
    Override,
    client_token,
    fleet_request,
    parse_fleet_response,
)
from scaler.core.scheduling.instancetypes import LaunchOption


def option(itype: str, zone: str, ct: str = "spot", arch: str = "amd64") -> LaunchOption:
    return LaunchOption(itype, zone, ct, 0.05, True, None, arch)


OVERRIDES = [
    Override(option("m5.large", "eu-west-1a"), "subnet-a", "lt-amd"),
    Override(option("m6g.large", "eu-west-1a", arch="arm64"), "subnet-a", "lt-arm"),
    Override(option("m5.large", "eu-west-1b"), "subnet-b", "lt-amd"),
]


def test_the_request_is_instant_for_one_node_with_overrides_per_template() -> None:
    req = fleet_request("default-abc12", "spot", OVERRIDES, {"karpenter.sh/nodeclaim": "x"})
    assert req["Type"] == "instant"
    assert req["TargetCapacitySpecification"] == {"TotalTargetCapacity": 1,
                                                  "DefaultTargetCapacityType": "spot"}
    assert req["SpotOptions"] == {"AllocationStrategy": "price-capacity-optimized"}
    assert "OnDemandOptions" not in req
    assert [(c["LaunchTemplateSpecification"]["LaunchTemplateId"], c["Overrides"])
            for c in req["LaunchTemplateConfigs"]] == [
        ("lt-amd", [{"InstanceType": "m5.large", "SubnetId": "subnet-a"},
                    {"InstanceType": "m5.large", "SubnetId": "subnet-b"}]),
        ("lt-arm", [{"InstanceType": "m6g.large", "SubnetId": "subnet-a"}]),
    ]
    assert {t["ResourceType"] for t in req["TagSpecifications"]} == {"fleet", "instance",
                                                                     "volume"}
    on_demand = fleet_request("c", "on-demand", OVERRIDES[:1], {})
    assert on_demand["OnDemandOptions"] == {"AllocationStrategy": "lowest-price"}


def test_the_client_token_is_deterministic_per_claim_and_overrides() -> None:
    token = client_token("default-abc12", "spot", OVERRIDES)
    assert token == client_token("default-abc12", "spot", list(OVERRIDES))  # a resend
    assert token == fleet_request("default-abc12", "spot", OVERRIDES, {})["ClientToken"]
    assert token != client_token("default-abc13", "spot", OVERRIDES)  # another claim
    assert token != client_token("default-abc12", "spot", OVERRIDES[1:])  # the next attempt
    assert token != client_token("default-abc12", "on-demand", OVERRIDES)
    assert len(token) <= 64 and token.isascii()


def test_at_most_sixty_overrides() -> None:
    many = [Override(option(f"t{i}.large", "z"), "s", "lt") for i in range(MAX_OVERRIDES + 1)]
    assert MAX_OVERRIDES == 60
    fleet_request("c", "spot", many[:60], {})
    with pytest.raises(ValueError):
        fleet_request("c", "spot", many, {})


def test_an_answer_with_an_instance_and_per_override_errors() -> None:
    answer = {
        "FleetId": "fleet-1",
        "Errors": [{
            "LaunchTemplateAndOverrides": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-amd", "Version": "1"},
                "Overrides": {"InstanceType": "m5.large", "SubnetId": "subnet-a"}},
            "Lifecycle": "spot", "ErrorCode": "InsufficientInstanceCapacity",
            "ErrorMessage": "We currently do not have sufficient m5.large capacity"}],
        "Instances": [{
            "LaunchTemplateAndOverrides": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-amd", "Version": "1"},
                "Overrides": {"InstanceType": "m5.large", "SubnetId": "subnet-b"}},
            "Lifecycle": "spot", "InstanceIds": ["i-0abc"], "InstanceType": "m5.large"}],
    }
    result = parse_fleet_response(answer, {"subnet-a": "eu-west-1a", "subnet-b": "eu-west-1b"},
                                  "spot")
    [launched] = result.instances
    assert (launched.instance_id, launched.instance_type, launched.zone,
            launched.capacity_type) == ("i-0abc", "m5.large", "eu-west-1b", "spot")
    [error] = result.errors
    assert (error.code, error.instance_type, error.zone, error.capacity_type) == (
        "InsufficientInstanceCapacity", "m5.large", "eu-west-1a", "spot")
    assert parse_fleet_response({"FleetId": "f"}, {}, "spot").instances == ()


def test_a_long_list_keeps_every_type_before_second_zones() -> None:
    from scaler.adapters.aws.fleet import diverse_head

    # 30 types in 3 zones each, cheapest first by zone: a plain head of 60 would hold 20
    # types; the fleet keeps all 30 and fills the rest in rank order.
    options = [
        LaunchOption(f"m{t}.large", f"us-east-1{z}", "spot", 0.01 * t + 0.001 * i, True,
                     "<5%", "amd64")
        for t in range(30) for i, z in enumerate("abc")
    ]
    head = diverse_head(options, 60)
    assert len(head) == 60
    assert len({o.instance_type for o in head}) == 30
    assert head == [o for o in options if o in head]  # rank order kept
    assert diverse_head(options[:10], 60) == options[:10]

"""The cloud port gained `garbage_collect` and `launched_at` for the AWS provider; both
implementations keep to it."""

from __future__ import annotations

import inspect

from pricing import load_catalog
from scaler.adapters.aws import AwsCloudProvider
from scaler.adapters.simulated import SimulatedCloud
from scaler.core.requirements import Requirement, Requirements
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.ports.cloud import CloudProvider, NodeClaimRequest

CATALOG = load_catalog("us-east-1")
M5 = Requirements([Requirement.of("node.kubernetes.io/instance-type", "In", ["m5.large"])])


def request(name: str) -> NodeClaimRequest:
    table = InstanceTypeTable(CATALOG.instance_types)
    return NodeClaimRequest(name, "default", M5, table.options(table.mask(M5).nonzero()[0], M5))


def test_both_clouds_have_every_method_of_the_port() -> None:
    port = {n for n, _ in inspect.getmembers(CloudProvider, inspect.isfunction)
            if not n.startswith("_")}
    assert "garbage_collect" in port
    for cloud in (SimulatedCloud, AwsCloudProvider):
        for name in port:
            want = list(inspect.signature(getattr(CloudProvider, name)).parameters)
            got = list(inspect.signature(getattr(cloud, name)).parameters)
            assert got[: len(want)] == want, (cloud.__name__, name)


def test_the_simulated_cloud_collects_nodes_whose_claim_is_gone() -> None:
    cloud = SimulatedCloud(CATALOG)
    kept = cloud.create(request("default-a"))
    lost = cloud.create(request("default-b"))
    assert cloud.garbage_collect({"default-a"}) == [lost]
    assert list(cloud.list()) == [kept]
    assert cloud.garbage_collect({"default-a"}) == []

"""Live prices and instance types: the Price List API (recorded GetProducts answers served
over HTTP), Spot prices and instance-type offerings from moto_server, merged with the bundled
catalog, refreshed on an interval, and the catalog standing in (said so) when unreachable."""

from __future__ import annotations

import logging

import pytest

from pricing import load_catalog
from scaler.adapters.aws.ec2types import instance_type_from_ec2
from tests.integration.aws.conftest import REGION, ZONES, Rig, free_port
from tests.support.builders import karpenter_pool, requirement_in

POOL = karpenter_pool([requirement_in("node.kubernetes.io/instance-type", "m5.large", "c6g.large",
                                      "t3.small", "h1.2xlarge", "c8a.large")])


def offering(types: dict, name: str, zone: str, capacity_type: str):  # type: ignore[no-untyped-def]
    return next(o for o in types[name].offerings
                if o.zone == zone and o.capacity_type == capacity_type)


def test_live_prices_replace_the_catalogs_estimates(rig: Rig) -> None:
    provider = rig.make()
    catalog = load_catalog(REGION, ZONES)

    types = {t.name: t for t in provider.instance_types(POOL)}

    m5 = offering(types, "m5.large", ZONES[0], "on-demand")
    print("m5.large on-demand: catalog", catalog.get("m5.large").offerings[0].price,  # type: ignore[union-attr]
          "estimated -> Price List", m5.price, "estimated" if m5.price_estimated else "live")
    assert (m5.price, m5.price_estimated) == (pytest.approx(0.107), False)
    assert offering(types, "c6g.large", ZONES[1], "on-demand").price == pytest.approx(0.0768)
    # Not in the recorded answers: the catalog's price, still flagged as an estimate.
    t3 = offering(types, "t3.small", ZONES[0], "on-demand")
    assert t3.price_estimated and t3.price == catalog.get("t3.small").offerings[0].price  # type: ignore[union-attr]
    # Spot: moto's DescribeSpotPriceHistory price per zone; the band still from the catalog.
    spot = offering(types, "m5.large", ZONES[2], "spot")
    assert (spot.price, spot.price_estimated, spot.interruption_band) == (1e-05, False, "5-10%")

    status = provider.price_status()
    print(status.describe())
    assert status.on_demand.source == "live" and status.on_demand.entries == 12
    assert status.spot.source == "live"
    # Karpenter's query, every page of it.
    asked = rig.pricing.requests
    assert [r.get("NextToken") is not None for r in asked] == [False, True, False]
    first = {f["Field"]: f["Value"] for f in asked[0]["Filters"]}
    assert first == {"regionCode": REGION, "serviceCode": "AmazonEC2", "preInstalledSw": "NA",
                     "operatingSystem": "Linux", "capacitystatus": "Used",
                     "marketoption": "OnDemand", "tenancy": "Shared",
                     "productFamily": "Compute Instance"}
    assert {f["Field"]: f["Value"] for f in asked[2]["Filters"]}["productFamily"] == (
        "Compute Instance (bare metal)")


def test_an_unreachable_price_list_api_falls_back_to_the_catalog_and_says_so(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    provider = rig.make(pricing_url=f"http://127.0.0.1:{free_port()}")  # nothing listens

    types = {t.name: t for t in provider.instance_types(POOL)}

    m5 = offering(types, "m5.large", ZONES[0], "on-demand")
    assert (m5.price, m5.price_estimated) == (0.096, True)  # the bundled estimate
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    print("warning:", warnings)
    assert any(w.startswith("on-demand prices (Price List API) unavailable (") and
               w.endswith("using the bundled catalog") for w in warnings)
    status = provider.price_status()
    print(status.describe())
    assert status.on_demand.source == "bundled catalog" and status.on_demand.error
    assert status.spot.source == "live"  # the other sources are unaffected


def test_prices_are_refreshed_on_their_interval(rig: Rig) -> None:
    now = [1_800_000_000.0]
    provider = rig.make(clock=lambda: now[0])
    spot_calls = lambda: len(rig.proxy.calls("DescribeSpotPriceHistory"))  # noqa: E731

    provider.instance_types(POOL)
    now[0] += 59 * 60
    provider.instance_types(POOL)
    assert (len(rig.pricing.requests), spot_calls()) == (3, 1)  # nothing due yet
    now[0] += 12 * 3600  # On-Demand prices are refreshed twice a day, Spot prices hourly
    provider.instance_types(POOL)
    assert (len(rig.pricing.requests), spot_calls()) == (6, 2)


def test_instance_types_follow_ec2s_offerings_and_include_types_the_catalog_lacks(
        rig: Rig) -> None:
    provider = rig.make()
    types = {t.name: t for t in provider.instance_types(POOL)}

    # moto's DescribeInstanceTypeOfferings offers h1.2xlarge in eu-west-1a and 1c, not 1b.
    assert {o.zone for o in types["h1.2xlarge"].offerings} == {ZONES[0], ZONES[2]}
    # c8a.large is newer than the bundled catalog: built from DescribeInstanceTypes, priced
    # by the Spot price history (the recorded Price List has no On-Demand price for it).
    assert load_catalog(REGION, ZONES).get("c8a.large") is None
    c8a = types["c8a.large"]
    print("c8a.large:", c8a.vcpu, "vCPU", c8a.memory_mib, "MiB, allocatable",
          dict(c8a.allocatable), [(o.zone, o.capacity_type, o.price) for o in c8a.offerings])
    assert (c8a.arch, c8a.vcpu, c8a.memory_mib) == ("amd64", 2, 4096)
    assert {o.capacity_type for o in c8a.offerings} == {"spot"}
    assert c8a.labels["karpenter.k8s.aws/instance-family"] == "c8a"
    status = provider.price_status()
    assert status.instance_types.source == "live"


@pytest.mark.parametrize("name", ["m5d.large", "c7g.xlarge", "g5.xlarge", "inf2.xlarge"])
def test_a_type_described_by_ec2_matches_the_catalogs_figures(rig: Rig, name: str) -> None:
    """The path new types take, checked on types the catalog has (Karpenter's figures)."""
    [record] = rig.world.ec2.describe_instance_types(InstanceTypes=[name])["InstanceTypes"]
    built = instance_type_from_ec2(record)
    known = load_catalog(REGION, ZONES).get(name)
    assert built is not None and known is not None
    assert dict(built.allocatable) == dict(known.allocatable)
    assert built.max_pods == known.max_pods
    same = ("kubernetes.io/arch", "karpenter.k8s.aws/instance-family",
            "karpenter.k8s.aws/instance-category", "karpenter.k8s.aws/instance-generation",
            "karpenter.k8s.aws/instance-size", "karpenter.k8s.aws/instance-cpu",
            "karpenter.k8s.aws/instance-memory", "karpenter.k8s.aws/instance-gpu-count",
            "karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-local-nvme",
            "karpenter.k8s.aws/instance-hypervisor", "karpenter.k8s.aws/instance-accelerator-count")
    assert {k: built.labels.get(k) for k in same} == {k: known.labels.get(k) for k in same}

"""The per-region catalog: prices, offerings, regions, zones, labels."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

import pricing
from pricing import CatalogError, InstanceType, known_regions, load_catalog


def _get(name: str, region: str = "us-east-1") -> InstanceType:
    it = load_catalog(region).get(name)
    assert it is not None, f"{name} missing in {region}"
    return it


# --- prices -----------------------------------------------------------------------------


def test_documented_on_demand_prices_us_east_1() -> None:
    for name, price in {
        "m5.large": 0.096,
        "m7g.large": 0.0816,
        "c6g.large": 0.068,
        "p5.48xlarge": 55.04,
    }.items():
        od = _get(name).cheapest("on-demand")
        assert od is not None
        assert od.price == pytest.approx(price)
        assert od.price_estimated is False
        assert od.interruption_band is None and od.interruption_max_pct is None


def test_spot_price_is_estimated_from_advisor_saving() -> None:
    spot = _get("m5.large").cheapest("spot")
    assert spot is not None
    assert spot.price == pytest.approx(0.096 * (1 - 0.66))
    assert spot.price_estimated is True
    assert spot.interruption_band == "15-20%"
    assert spot.interruption_max_pct == 22


def test_spot_bands_of_documented_examples() -> None:
    m7g = _get("m7g.large").cheapest("spot")
    c6g = _get("c6g.large").cheapest("spot")
    assert m7g is not None and c6g is not None
    assert (m7g.interruption_band, m7g.interruption_max_pct) == ("10-15%", 16)
    assert m7g.price == pytest.approx(0.0816 * 0.36)
    assert (c6g.interruption_band, c6g.interruption_max_pct) == ("5-10%", 11)


def test_spot_never_costs_more_than_on_demand() -> None:
    # The advisor feed has a negative saving for ca-central-1 p5.48xlarge.
    for region in ("us-east-1", "ca-central-1", "eu-west-1"):
        for it in load_catalog(region).instance_types:
            od, spot = it.cheapest("on-demand"), it.cheapest("spot")
            assert od is not None
            if spot is not None:
                assert 0 <= spot.price <= od.price, (region, it.name)


def test_region_without_table_borrows_us_east_1_prices_as_estimates() -> None:
    cat = load_catalog("eu-west-1")
    assert cat.on_demand_estimated is True
    m5 = cat.get("m5.large")
    assert m5 is not None
    od = m5.cheapest("on-demand")
    assert od is not None
    assert od.price == pytest.approx(0.096) and od.price_estimated is True
    # Only types the Spot Advisor lists for the region are offered there.
    advisor_types = set(pricing.loader.spot_advice("eu-west-1"))
    assert {it.name for it in cat.instance_types} <= advisor_types
    assert all(o.price_estimated for it in cat.instance_types for o in it.offerings)


def test_us_east_1_prices_are_not_estimated_on_demand() -> None:
    cat = load_catalog("us-east-1")
    assert cat.on_demand_estimated is False
    assert all(
        not o.price_estimated
        for it in cat.instance_types
        for o in it.offerings
        if o.capacity_type == "on-demand"
    )


def test_govcloud_has_own_prices_and_no_spot() -> None:
    cat = load_catalog("us-gov-west-1")
    assert cat.on_demand_estimated is False
    assert cat.instance_types
    assert all(o.capacity_type == "on-demand" for it in cat.instance_types for o in it.offerings)
    us_east = _get("m5.large").cheapest("on-demand")
    gov = cat.get("m5.large")
    assert gov is not None and us_east is not None
    gov_od = gov.cheapest("on-demand")
    assert gov_od is not None and gov_od.price != us_east.price  # its own table


def test_every_listed_type_has_an_offering_and_names_are_sorted() -> None:
    cat = load_catalog()
    names = [it.name for it in cat.instance_types]
    assert names == sorted(names)
    assert all(it.offerings for it in cat.instance_types)
    # Types without a us-east-1 price (e.g. VPC-limits-only mac1.metal) are not listed.
    assert cat.get("mac1.metal") is None
    assert cat.get("no-such.type") is None


# --- regions and zones ------------------------------------------------------------------


def test_known_regions() -> None:
    regions = known_regions()
    assert len(regions) == 35  # 33 Spot Advisor regions + 2 GovCloud price tables
    assert {"us-east-1", "eu-west-1", "us-gov-west-1", "us-gov-east-1"} <= set(regions)
    assert list(regions) == sorted(regions)


def test_unknown_region_names_the_known_ones_in_one_line() -> None:
    with pytest.raises(CatalogError) as exc:
        load_catalog("xx-foo-1")
    msg = str(exc.value)
    assert msg.startswith("unknown region 'xx-foo-1'; known regions: af-south-1, ")
    assert "us-east-1" in msg and "us-gov-west-1" in msg
    assert "\n" not in msg
    assert isinstance(exc.value, ValueError)


def test_cn_region_is_unknown_since_its_prices_are_not_in_usd() -> None:
    with pytest.raises(CatalogError):
        load_catalog("cn-north-1")


def test_default_zones_and_one_offering_per_zone_and_capacity_type() -> None:
    cat = load_catalog("us-west-2")
    assert cat.zones == ("us-west-2a", "us-west-2b", "us-west-2c")
    m5 = cat.get("m5.large")
    assert m5 is not None
    pairs = {(o.zone, o.capacity_type) for o in m5.offerings}
    assert pairs == {(z, ct) for z in cat.zones for ct in ("on-demand", "spot")}
    assert len(m5.offerings) == 6
    assert all(o.available for o in m5.offerings)


def test_zones_argument_accepts_full_names_and_suffixes() -> None:
    cat = load_catalog("us-east-1", ["us-east-1d", "f"])
    assert cat.zones == ("us-east-1d", "us-east-1f")
    m5 = cat.get("m5.large")
    assert m5 is not None
    assert {o.zone for o in m5.offerings} == {"us-east-1d", "us-east-1f"}


def test_zone_of_another_region_is_rejected() -> None:
    with pytest.raises(CatalogError) as exc:
        load_catalog("us-east-1", ["eu-west-1a"])
    assert exc.value.param == "zones"
    assert "eu-west-1a" in str(exc.value)


def test_catalog_is_cached_and_immutable() -> None:
    a = load_catalog("us-east-1")
    assert load_catalog() is a
    assert load_catalog("us-east-1", ["a", "b", "c"]) is a
    assert load_catalog("us-east-1", ("us-east-1a",)) is not a
    m5 = a.get("m5.large")
    assert m5 is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m5.vcpu = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        m5.labels["x"] = "y"  # type: ignore[index]
    with pytest.raises(TypeError):
        m5.allocatable["cpu"] = 1  # type: ignore[index]


# --- labels -----------------------------------------------------------------------------

K = "karpenter.k8s.aws/instance-"


def test_gpu_type_labels() -> None:
    g5 = _get("g5.xlarge")
    assert g5.labels["node.kubernetes.io/instance-type"] == "g5.xlarge"
    assert g5.labels["kubernetes.io/arch"] == "amd64"
    assert g5.labels["kubernetes.io/os"] == "linux"
    assert g5.labels[K + "gpu-name"] == "a10g"
    assert g5.labels[K + "gpu-manufacturer"] == "nvidia"
    assert g5.labels[K + "gpu-count"] == "1"
    assert g5.labels[K + "gpu-memory"] == "22888"
    assert g5.labels[K + "family"] == "g5"
    assert g5.labels[K + "category"] == "g"
    assert g5.labels[K + "generation"] == "5"
    assert g5.labels[K + "size"] == "xlarge"
    assert g5.labels[K + "cpu"] == "4"
    assert g5.labels[K + "memory"] == "16384"
    assert g5.labels[K + "local-nvme"] == "250"
    assert g5.labels[K + "hypervisor"] == "nitro"
    assert g5.capacity["nvidia.com/gpu"] == 1


def test_graviton_type_labels() -> None:
    m7g = _get("m7g.large")
    assert m7g.arch == "arm64"
    assert m7g.labels["kubernetes.io/arch"] == "arm64"
    assert m7g.labels[K + "cpu-manufacturer"] == "aws"
    assert m7g.labels[K + "cpu-sustained-clock-speed-mhz"] == "2600"
    assert m7g.labels[K + "network-bandwidth"] == "937"
    assert m7g.labels[K + "ebs-bandwidth"] == "10000"
    # No GPU, accelerator or instance store: those labels are absent, not empty.
    assert not any(k.startswith((K + "gpu", K + "accelerator")) for k in m7g.labels)
    assert K + "local-nvme" not in m7g.labels


def test_accelerator_labels() -> None:
    inf2 = _get("inf2.xlarge")
    assert inf2.labels[K + "accelerator-name"] == "inferentia2"
    assert inf2.labels[K + "accelerator-manufacturer"] == "aws"
    assert inf2.labels[K + "accelerator-count"] == "1"


def test_bare_metal_has_no_hypervisor_label() -> None:
    metal = _get("m5.metal")
    assert metal.bare_metal is True
    assert K + "hypervisor" not in metal.labels
    assert metal.labels[K + "size"] == "metal"


def test_no_offering_labels_on_the_type() -> None:
    for it in load_catalog().instance_types[:50]:
        assert "topology.kubernetes.io/zone" not in it.labels
        assert "karpenter.sh/capacity-type" not in it.labels
        assert "topology.kubernetes.io/region" not in it.labels
        assert all(isinstance(v, str) and v for v in it.labels.values())


# --- package boundary -------------------------------------------------------------------


def test_pricing_does_not_import_scaler() -> None:
    code = (
        "import sys, pricing; pricing.load_catalog('eu-west-1'); "
        "bad = [m for m in sys.modules if m == 'scaler' or m.startswith('scaler.')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

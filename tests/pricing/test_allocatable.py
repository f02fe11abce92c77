"""Allocatable resources must equal Karpenter's own figures, type by type."""

from __future__ import annotations

import csv
import os

from hypothesis import given
from hypothesis import strategies as st

from pricing import load_catalog
from pricing.allocatable import (
    GIB,
    MIB,
    kube_reserved_cpu_millicores,
    max_pods,
    resources,
)
from pricing.loader import DATA_DIR, instance_specs

# Karpenter's docs list this many types; a change means the data was refreshed and the
# count below should be re-checked, not silently accepted.
KARPENTER_DOCS_TYPES = 1363


def _karpenter_figures() -> dict[str, tuple[int, int, int]]:
    """(pods, cpu millicores, memory MiB) from the karpenter_al2023_* columns, read directly."""
    with open(os.path.join(DATA_DIR, "instance_types.csv"), newline="") as fh:
        out = {}
        for row in csv.DictReader(fh):
            cpu = row["karpenter_al2023_alloc_cpu_millicores"]
            mem = row["karpenter_al2023_alloc_memory_mib"]
            pods = row["karpenter_al2023_pods"]
            if cpu and mem and pods:
                out[row["instance_type"]] = (int(pods), int(cpu), int(mem))
    return out


def test_allocatable_matches_karpenter_for_every_type_with_figures() -> None:
    figures = _karpenter_figures()
    specs = instance_specs()
    matches, mismatches = 0, []
    for name, (pods, cpu, mem) in sorted(figures.items()):
        res = resources(specs[name])
        got = (res.max_pods, res.allocatable["cpu"], res.allocatable["memory"])
        if got == (pods, cpu, mem * MIB):
            matches += 1
        else:
            mismatches.append((name, got, (pods, cpu, mem * MIB)))
    print(f"allocatable matches Karpenter for {matches}/{len(figures)} types")
    assert mismatches == []
    assert matches == len(figures) == KARPENTER_DOCS_TYPES


def test_documented_example_m5_large() -> None:
    m5 = load_catalog().get("m5.large")
    assert m5 is not None
    assert m5.allocatable["cpu"] == 1930
    assert m5.allocatable["memory"] == 6903 * MIB
    assert m5.allocatable["pods"] == m5.max_pods == 29
    assert m5.capacity["cpu"] == 2000


def test_arm64_gets_less_memory_than_the_same_size_on_amd64() -> None:
    cat = load_catalog()
    m7g, m7i = cat.get("m7g.large"), cat.get("m7i.large")
    assert m7g is not None and m7i is not None
    assert m7g.memory_mib == m7i.memory_mib and m7g.max_pods == m7i.max_pods
    assert m7g.allocatable["memory"] < m7i.allocatable["memory"]


def test_ephemeral_storage_is_the_20gi_root_volume_less_reserve_and_eviction() -> None:
    for it in load_catalog().instance_types:
        assert it.capacity["ephemeral-storage"] == 20 * GIB
        assert it.allocatable["ephemeral-storage"] == 17 * GIB  # Karpenter docs: 17Gi


def test_types_without_vpc_limits_use_karpenter_pod_count() -> None:
    spec = instance_specs()["hpc7a.96xlarge"]
    assert spec.eni_max_pods is None
    assert max_pods(spec) == 100


def test_max_pods_is_uncapped_eni_formula() -> None:
    # 15 ENIs x (50 - 1) + 2: far above the kubelet's 110, as Karpenter computes for AL2023.
    assert max_pods(instance_specs()["m5.24xlarge"]) == 737


def test_extended_resources_are_in_capacity_and_allocatable() -> None:
    cat = load_catalog()
    expected = {
        "g5.xlarge": {"nvidia.com/gpu": 1},
        "g4ad.xlarge": {"amd.com/gpu": 1},
        "inf2.xlarge": {"aws.amazon.com/neuron": 1},
        "trn1.32xlarge": {"aws.amazon.com/neuron": 16, "vpc.amazonaws.com/efa": 8},
        "p5.48xlarge": {"nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": 32},
    }
    for name, want in expected.items():
        it = cat.get(name)
        assert it is not None, name
        for res, count in want.items():
            assert it.capacity[res] == count, (name, res)
            assert it.allocatable[res] == count, (name, res)
    m5 = cat.get("m5.large")
    assert m5 is not None
    assert set(m5.allocatable) == {"cpu", "memory", "ephemeral-storage", "pods"}


def test_every_type_keeps_something_allocatable() -> None:
    for it in load_catalog().instance_types:
        for res in ("cpu", "memory", "pods"):
            assert 0 < it.allocatable[res] <= it.capacity[res], (it.name, res)


@given(st.integers(min_value=1, max_value=1024))
def test_cpu_reserve_grows_slower_than_cores(vcpu: int) -> None:
    reserved = kube_reserved_cpu_millicores(vcpu)
    nxt = kube_reserved_cpu_millicores(vcpu + 1)
    assert 0 < reserved <= nxt <= reserved + 60  # never more than one first-core share
    assert (vcpu + 1) * 1000 - nxt > vcpu * 1000 - reserved  # a core more is always more


def test_cpu_reserve_tiers() -> None:
    assert kube_reserved_cpu_millicores(1) == 60
    assert kube_reserved_cpu_millicores(2) == 70
    assert kube_reserved_cpu_millicores(4) == 80
    assert kube_reserved_cpu_millicores(5) == 83  # 82.5 rounded up
    assert kube_reserved_cpu_millicores(96) == 310

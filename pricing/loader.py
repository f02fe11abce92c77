"""Reading the package's CSV data (see data/SOURCES.md) into typed, cached tables.

Every reader is cached for the life of the process: the files never change at run time and
the CLI loads the catalog on every invocation.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import NamedTuple

# A plain path, not importlib.resources or pathlib: setuptools installs package data as real
# files, and those imports cost several ms on every CLI start.
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
INSTANCE_TYPES_CSV = "instance_types.csv"
ONDEMAND_PRICES_CSV = "ondemand_prices.csv"
SPOT_ADVISOR_CSV = "spot_advisor.csv"

# The only region whose prices Karpenter ships for the commercial partition; other regions
# borrow from it (Karpenter's own fallback).
PRICE_FALLBACK_REGION = "us-east-1"


# The two row records below are NamedTuples, not frozen dataclasses like the public values:
# they are internal and built ~1,400 times on every CLI start, and a 25-field frozen
# dataclass's __init__ (one object.__setattr__ per field) is ~6x slower (4.9 vs 0.8 us).


class InstanceSpec(NamedTuple):
    """One row of instance_types.csv. Label-only fields stay strings ("" = no value)."""

    name: str
    family: str
    category: str
    generation: str
    size: str
    vcpu: int
    memory_mib: int
    arch: str
    cpu_manufacturer: str
    cpu_sustained_clock_mhz: str
    gpu_count: int
    gpu_manufacturer: str
    gpu_model: str
    gpu_memory_mib: str
    accelerator_count: int
    accelerator_manufacturer: str
    accelerator_model: str
    local_nvme_gib: str
    ebs_bandwidth_mbps: str
    network_bandwidth_mbps: str
    hypervisor: str
    bare_metal: bool
    eni_max_pods: int | None  # column max_pods_eni_formula
    karpenter_pods: int | None  # column karpenter_al2023_pods
    efa_count: int
    capability_flex: str  # "true" | "false" | "" (not in Karpenter's docs)
    encryption_in_transit: str  # column encryption_in_transit_supported; same values


class SpotAdvice(NamedTuple):
    """Spot Instance Advisor figures for one (region, Linux, instance type)."""

    savings_pct: int
    interruption_band: str
    interruption_max_pct: int


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


def _read(name: str) -> list[list[str]]:
    with open(os.path.join(DATA_DIR, name), newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _index(header: list[str], wanted: Iterable[str]) -> dict[str, int]:
    # Look columns up by name so a reordered file fails loudly instead of silently.
    missing = [c for c in wanted if c not in header]
    if missing:
        raise RuntimeError(f"pricing data is missing columns: {', '.join(missing)}")
    return {c: header.index(c) for c in wanted}


# CSV column of each InstanceSpec field, in field order.
_SPEC_COLUMNS = (
    "instance_type family category generation size vcpu memory_mib arch cpu_manufacturer "
    "cpu_sustained_clock_mhz gpu_count gpu_manufacturer gpu_model gpu_memory_mib "
    "accelerator_count accelerator_manufacturer accelerator_model local_nvme_gib "
    "ebs_bandwidth_mbps network_bandwidth_mbps hypervisor bare_metal max_pods_eni_formula "
    "karpenter_al2023_pods efa_count capability_flex encryption_in_transit_supported"
).split()


_field = InstanceSpec._fields.index
_VCPU, _MEMORY, _BARE_METAL = _field("vcpu"), _field("memory_mib"), _field("bare_metal")
_INTS = tuple(map(_field, ("vcpu", "memory_mib", "gpu_count", "accelerator_count", "efa_count")))
_OPT_INTS = (_field("eni_max_pods"), _field("karpenter_pods"))


@lru_cache(maxsize=1)
def instance_specs() -> Mapping[str, InstanceSpec]:
    """All instance types that have vCPU and memory figures, by name."""
    header, *rows = _read(INSTANCE_TYPES_CSV)
    ix = _index(header, _SPEC_COLUMNS)
    pick = itemgetter(*(ix[c] for c in _SPEC_COLUMNS))  # one C call per row
    specs: dict[str, InstanceSpec] = {}
    for r in rows:
        v = list(pick(r))
        if not v[_VCPU] or not v[_MEMORY]:
            continue  # VPC-limits-only rows: nothing to schedule on
        for i in _INTS:
            v[i] = int(v[i] or 0)
        for i in _OPT_INTS:
            v[i] = _opt_int(v[i])
        v[_BARE_METAL] = v[_BARE_METAL] == "true"
        specs[v[0]] = InstanceSpec(*v)
    return specs


@lru_cache(maxsize=1)
def _ondemand_tables() -> Mapping[str, Mapping[str, float]]:
    header, *rows = _read(ONDEMAND_PRICES_CSV)
    ix = _index(header, ("region", "instance_type", "usd_per_hour"))
    tables: dict[str, dict[str, float]] = {}
    for r in rows:
        tables.setdefault(r[ix["region"]], {})[r[ix["instance_type"]]] = float(
            r[ix["usd_per_hour"]]
        )
    return tables


def ondemand_regions() -> tuple[str, ...]:
    return tuple(sorted(_ondemand_tables()))


def ondemand_prices(region: str) -> Mapping[str, float] | None:
    """USD/hour by instance type, or None when the region has no table."""
    return _ondemand_tables().get(region)


@lru_cache(maxsize=1)
def _spot_file() -> tuple[list[str], str]:
    """The Spot Advisor header and whole text; rows are picked out per region on demand.

    This is the largest data file and a CLI run needs one region, so instead of parsing every
    row, the region's rows are found with a regex (C speed) and only those go to csv.
    """
    with open(os.path.join(DATA_DIR, SPOT_ADVISOR_CSV), newline="", encoding="utf-8") as fh:
        text = fh.read()
    header = next(csv.reader([text[: text.find("\n")].rstrip("\r")]))
    ix = _index(header, ("region", "os"))
    # The line-prefix matching below relies on this column order.
    if (ix["region"], ix["os"]) != (0, 1):
        raise RuntimeError(f"{SPOT_ADVISOR_CSV}: expected columns region,os first")
    return header, text


def has_spot_region(region: str) -> bool:
    """Whether the Spot Advisor has Linux rows for the region (cheaper than spot_regions)."""
    # Region and OS names never contain commas or quotes, so the line prefix is exact.
    return f"\n{region},Linux," in _spot_file()[1]


@lru_cache(maxsize=1)
def spot_regions() -> tuple[str, ...]:
    """Regions with at least one Linux row in the Spot Advisor snapshot, sorted."""
    found = re.findall(r"^([^,\r\n]+),Linux,", _spot_file()[1], re.MULTILINE)
    return tuple(sorted(set(found)))


@lru_cache(maxsize=64)
def spot_advice(region: str) -> Mapping[str, SpotAdvice]:
    """Linux Spot Advisor figures for a region, by instance type (empty if none)."""
    header, text = _spot_file()
    ix = _index(
        header,
        (
            "instance_type savings_vs_ondemand_pct interruption_range_label "
            "interruption_range_max_pct"
        ).split(),
    )
    advice: dict[str, SpotAdvice] = {}
    lines = re.findall(rf"^{re.escape(region)},Linux,[^\r\n]*", text, re.MULTILINE)
    for r in csv.reader(lines):
        advice[r[ix["instance_type"]]] = SpotAdvice(
            int(r[ix["savings_vs_ondemand_pct"]]),
            r[ix["interruption_range_label"]],
            int(r[ix["interruption_range_max_pct"]]),
        )
    return advice

"""Instance types EC2 sells that the bundled catalog does not know, from DescribeInstanceTypes.

The catalog's figures for the types it has are kept (they match Karpenter's docs). A type EC2
offers here that the catalog lacks (a family launched after the catalog was made) is built
from its DescribeInstanceTypes record the way the catalog builds its own rows: the same
labels and the same AL2023 allocatable formulas, max pods by the ENI formula.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pricing import InstanceType
from pricing.allocatable import eni_limited_pods, resources
from pricing.labels import instance_labels
from pricing.loader import InstanceSpec

ARCHES = {"x86_64": "amd64", "arm64": "arm64"}
_NAME = re.compile(r"([a-z]+)(\d+)([a-z0-9-]*)\.([a-z0-9-]+)")


def _str(value: object) -> str:
    return "" if value is None else str(value)


def spec_from_ec2(record: Mapping[str, Any]) -> InstanceSpec | None:
    """The catalog's row for a DescribeInstanceTypes record; None if scaler can't use it
    (no Linux architecture it schedules, or no vCPU or memory figure)."""
    name = str(record.get("InstanceType", ""))
    m = _NAME.fullmatch(name)
    proc = record.get("ProcessorInfo") or {}
    arches = [ARCHES[a] for a in proc.get("SupportedArchitectures") or [] if a in ARCHES]
    vcpu = int((record.get("VCpuInfo") or {}).get("DefaultVCpus") or 0)
    memory = int((record.get("MemoryInfo") or {}).get("SizeInMiB") or 0)
    if m is None or not arches or not vcpu or not memory:
        return None
    category, generation, _, size = m.groups()
    family = name.split(".", 1)[0]
    clock = proc.get("SustainedClockSpeedInGhz")
    gpus = (record.get("GpuInfo") or {}).get("Gpus") or []
    gpu = gpus[0] if gpus else {}
    neuron = ((record.get("NeuronInfo") or {}).get("NeuronDevices") or [])
    inference = ((record.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or [])
    accel = neuron[0] if neuron else (inference[0] if inference else {})
    storage = record.get("InstanceStorageInfo") or {}
    nvme = storage.get("TotalSizeInGB") if storage.get("NvmeSupport") in ("required",
                                                                           "supported") else None
    ebs = ((record.get("EbsInfo") or {}).get("EbsOptimizedInfo") or {}).get(
        "MaximumBandwidthInMbps")
    net = record.get("NetworkInfo") or {}
    cards = net.get("NetworkCards") or []
    default_card = next((c for c in cards
                         if c.get("NetworkCardIndex") == net.get("DefaultNetworkCardIndex", 0)),
                        cards[0] if cards else {})
    baseline = default_card.get("BaselineBandwidthInGbps")
    enis = int(default_card.get("MaximumNetworkInterfaces")
               or net.get("MaximumNetworkInterfaces") or 0)
    ips = int(net.get("Ipv4AddressesPerInterface") or 0)
    eni_pods = eni_limited_pods(enis, ips)
    efa = int((net.get("EfaInfo") or {}).get("MaximumEfaInterfaces") or 0)
    return InstanceSpec(
        name=name,
        family=family,
        category=category,
        generation=generation,
        size=size,
        vcpu=vcpu,
        memory_mib=memory,
        arch=arches[0],
        cpu_manufacturer=_str(proc.get("Manufacturer")).lower(),
        cpu_sustained_clock_mhz=str(round(float(clock) * 1000)) if clock else "",
        gpu_count=int(gpu.get("Count") or 0),
        gpu_manufacturer=_str(gpu.get("Manufacturer")).lower(),
        gpu_model=_str(gpu.get("Name")).lower(),
        gpu_memory_mib=_str((gpu.get("MemoryInfo") or {}).get("SizeInMiB")),
        accelerator_count=int(accel.get("Count") or 0),
        accelerator_manufacturer=("aws" if neuron else _str(accel.get("Manufacturer")).lower()),
        accelerator_model=_str(accel.get("Name")).lower(),
        local_nvme_gib=_str(nvme),
        ebs_bandwidth_mbps=_str(ebs),
        network_bandwidth_mbps=str(round(float(baseline) * 1000)) if baseline else "",
        hypervisor=_str(record.get("Hypervisor")),
        bare_metal=bool(record.get("BareMetal")),
        eni_max_pods=eni_pods,
        karpenter_pods=None,
        efa_count=efa,
        capability_flex="true" if "-flex" in family else "false",
        encryption_in_transit="true" if net.get("EncryptionInTransitSupported") else "false",
    )


def instance_type_from_ec2(record: Mapping[str, Any]) -> InstanceType | None:
    """An InstanceType without offerings (prices are added per refresh); None if unusable."""
    spec = spec_from_ec2(record)
    if spec is None:
        return None
    res = resources(spec)
    return InstanceType(
        name=spec.name,
        arch=spec.arch,
        vcpu=spec.vcpu,
        memory_mib=spec.memory_mib,
        bare_metal=spec.bare_metal,
        labels=instance_labels(spec),
        capacity=res.capacity,
        allocatable=res.allocatable,
        offerings=(),
        max_pods=res.max_pods,
    )

"""Capacity and allocatable resources, following Karpenter's AL2023 defaults.

Karpenter predicts what a node will report before launching it; the scheduler simulation must
use the same prediction or it would place pods that Karpenter's nodes cannot hold. The
formulas below reproduce the allocatable figures of Karpenter's instance-type docs exactly
(the tests compare all of them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pricing.loader import InstanceSpec
from pricing.model import InstanceType

LOCAL_NVME_LABEL = "karpenter.k8s.aws/instance-local-nvme"

MIB = 1024**2
GIB = 1024**3

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
NVIDIA_GPU = "nvidia.com/gpu"
AMD_GPU = "amd.com/gpu"
AWS_NEURON = "aws.amazon.com/neuron"
HABANA_GAUDI = "habana.ai/gaudi"
EFA = "vpc.amazonaws.com/efa"

# Kubelet's own default, used only when neither the ENI formula nor Karpenter gives a figure.
DEFAULT_MAX_PODS = 110
VM_MEMORY_OVERHEAD_PER_MILLE = 75  # Karpenter's vmMemoryOverheadPercent default, 7.5%
ARM64_MEMORY_RESERVE_MIB = 64  # Karpenter's figures are 64 MiB lower on arm64
EVICTION_MEMORY_MIB = 100  # kubelet evictionHard memory.available default
ROOT_VOLUME_BYTES = 20 * GIB  # Karpenter's default root volume for AL2023
KUBE_RESERVED_EPHEMERAL_BYTES = 1 * GIB
EVICTION_NODEFS_PERCENT = 10  # kubelet evictionHard nodefs.available default

# Kube-reserved CPU per core, in tenths of a millicore (0.25% of a core is 2.5m), by tier:
# the first core, the second, cores 3-4, then every further core.
_CPU_TIERS_DECI_MILLI = ((1, 600), (1, 100), (2, 50))
_CPU_REST_DECI_MILLI = 25

_GPU_RESOURCES = {"nvidia": NVIDIA_GPU, "amd": AMD_GPU, "habana": HABANA_GAUDI}
_ACCELERATOR_RESOURCES = {"aws": AWS_NEURON}  # Inferentia and Trainium


@dataclass(frozen=True, slots=True)
class Resources:
    capacity: Mapping[str, int]
    allocatable: Mapping[str, int]
    max_pods: int


def eni_limited_pods(enis: int, ips_per_eni: int) -> int | None:
    """Karpenter's ENILimitedPods: ENIs of the default card x (IPs per ENI - 1) + 2."""
    return enis * (ips_per_eni - 1) + 2 if enis and ips_per_eni else None


def max_pods(spec: InstanceSpec) -> int:
    """ENI-limited pod density (uncapped, as Karpenter does for AL2023)."""
    if spec.eni_max_pods is not None:
        return spec.eni_max_pods
    if spec.karpenter_pods is not None:
        return spec.karpenter_pods  # types without VPC-limits data (hpc*, trn2.48xlarge)
    return DEFAULT_MAX_PODS


def kube_reserved_cpu_millicores(vcpu: int) -> int:
    """6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest."""
    left, deci = vcpu, 0
    for cores, rate in _CPU_TIERS_DECI_MILLI:
        used = min(left, cores)
        deci += used * rate
        left -= used
    deci += left * _CPU_REST_DECI_MILLI
    return -(-deci // 10)  # ceil, in integers to stay exact


def memory_capacity_mib(memory_mib: int, arch: str) -> int:
    """Memory Karpenter expects the kubelet to report: EC2 memory minus the VM overhead."""
    base = memory_mib - (ARM64_MEMORY_RESERVE_MIB if arch == "arm64" else 0)
    overhead = -(-base * VM_MEMORY_OVERHEAD_PER_MILLE // 1000)  # ceil(base * 0.075)
    return base - overhead


def kube_reserved_memory_mib(pods: int) -> int:
    return 11 * pods + 255


def allocatable_memory_mib(memory_mib: int, arch: str, pods: int) -> int:
    return (
        memory_capacity_mib(memory_mib, arch) - kube_reserved_memory_mib(pods) - EVICTION_MEMORY_MIB
    )


def allocatable_ephemeral_bytes(capacity_bytes: int = ROOT_VOLUME_BYTES) -> int:
    eviction = -(-capacity_bytes * EVICTION_NODEFS_PERCENT // 100)
    return capacity_bytes - KUBE_RESERVED_EPHEMERAL_BYTES - eviction


def extended_resources(spec: InstanceSpec) -> dict[str, int]:
    """Device-plugin resources a node of this type advertises."""
    out: dict[str, int] = {}
    gpu = _GPU_RESOURCES.get(spec.gpu_manufacturer)
    if gpu and spec.gpu_count > 0:
        out[gpu] = spec.gpu_count
    accel = _ACCELERATOR_RESOURCES.get(spec.accelerator_manufacturer)
    if accel and spec.accelerator_count > 0:
        out[accel] = spec.accelerator_count
    if spec.efa_count > 0:
        out[EFA] = spec.efa_count
    return out


def resources(spec: InstanceSpec) -> Resources:
    pods = max_pods(spec)
    extended = extended_resources(spec)
    capacity = {
        CPU: spec.vcpu * 1000,
        MEMORY: memory_capacity_mib(spec.memory_mib, spec.arch) * MIB,
        EPHEMERAL_STORAGE: ROOT_VOLUME_BYTES,
        PODS: pods,
        **extended,
    }
    allocatable = {
        CPU: spec.vcpu * 1000 - kube_reserved_cpu_millicores(spec.vcpu),
        MEMORY: allocatable_memory_mib(spec.memory_mib, spec.arch, pods) * MIB,
        EPHEMERAL_STORAGE: allocatable_ephemeral_bytes(),
        PODS: pods,
        **extended,
    }
    # Read-only views: the catalog is cached and shared by every caller in the process.
    return Resources(MappingProxyType(capacity), MappingProxyType(allocatable), pods)


# --- an EC2NodeClass's kubelet and disk settings (Karpenter's formulas) -------------------

MEMORY_AVAILABLE = "memory.available"
NODEFS_AVAILABLE = "nodefs.available"


@dataclass(frozen=True, slots=True)
class NodeSettings:
    """What an EC2NodeClass changes in a node's capacity and allocatable.

    Amounts are in the catalog's units (millicores, bytes); eviction signals keep their
    written form (`"500Mi"` or `"5%"`) as the kubelet reads them against capacity.
    """

    max_pods: int | None = None
    pods_per_core: int | None = None
    # (resource, amount) pairs, sorted, so that settings compare and hash as values
    system_reserved: tuple[tuple[str, int], ...] = ()
    kube_reserved: tuple[tuple[str, int], ...] = ()
    # (signal, bytes) or (signal, minus the percent x 1000): see `percent_signal`
    eviction_hard: tuple[tuple[str, int], ...] = ()
    eviction_soft: tuple[tuple[str, int], ...] = ()
    root_volume_bytes: int | None = None  # None: the AMI family's default (20Gi)
    raid0: bool = False  # instanceStorePolicy RAID0: instance-store NVMe is ephemeral storage
    # AL2/AL2023 compute kube-reserved memory from the ENI-limited pod count, whatever maxPods
    # says; Bottlerocket from the pods the node runs; podsPerCore is ignored by Bottlerocket.
    eni_limited_memory_overhead: bool = True
    pods_per_core_enabled: bool = True
    eviction_soft_enabled: bool = True

    @property
    def is_default(self) -> bool:
        return self == NodeSettings()


def percent_signal(percent: float) -> int:
    """An eviction signal written as a percentage, in NodeSettings' encoding."""
    return -round(percent * 1000)


def _signal(capacity: int, value: int) -> int:
    if value >= 0:
        return value
    pct = -value / 1000
    pct = 0.0 if pct == 100 else pct  # 100% disables the threshold (kubelet's rule)
    return math.ceil(capacity / 100 * pct)


def _eviction(memory: int, storage: int, s: NodeSettings) -> dict[str, int]:
    out = {MEMORY: EVICTION_MEMORY_MIB * MIB,
           EPHEMERAL_STORAGE: math.ceil(storage / 100 * EVICTION_NODEFS_PERCENT)}
    override: dict[str, int] = {}
    for pairs in (s.eviction_hard, s.eviction_soft if s.eviction_soft_enabled else ()):
        signals = dict(pairs)
        for signal, resource, capacity in ((MEMORY_AVAILABLE, MEMORY, memory),
                                           (NODEFS_AVAILABLE, EPHEMERAL_STORAGE, storage)):
            if signal in signals:
                override[resource] = max(override.get(resource, 0),
                                         _signal(capacity, signals[signal]))
    out.update(override)
    return out


def node_resources(*, vcpu: int, memory_mib: int, arch: str, eni_pods: int | None,
                   local_nvme_gb: int, extended: Mapping[str, int],
                   settings: NodeSettings) -> Resources:
    """Capacity and allocatable of a node under an EC2NodeClass's settings, as Karpenter
    predicts them: pods from maxPods (else ENI-limited), capped by podsPerCore x vCPUs;
    ephemeral storage from RAID0 instance store (decimal GB), else the root volume;
    allocatable = capacity - kubeReserved - systemReserved - eviction thresholds, where
    kubeReserved's defaults (CPU tiers, 11 x pods + 255 MiB, 1 GiB) are replaced resource by
    resource and each eviction threshold is the larger of evictionHard and evictionSoft."""
    default_pods = eni_pods if eni_pods is not None else DEFAULT_MAX_PODS
    pods = settings.max_pods if settings.max_pods is not None else default_pods
    if settings.pods_per_core and settings.pods_per_core_enabled:
        pods = min(pods, settings.pods_per_core * vcpu)
    memory = memory_capacity_mib(memory_mib, arch) * MIB
    if settings.raid0 and local_nvme_gb > 0:
        storage = local_nvme_gb * 10**9
    else:
        storage = settings.root_volume_bytes or ROOT_VOLUME_BYTES
    capacity = {CPU: vcpu * 1000, MEMORY: memory, EPHEMERAL_STORAGE: storage, PODS: pods,
                **extended}
    overhead_pods = default_pods if settings.eni_limited_memory_overhead else pods
    kube = {CPU: kube_reserved_cpu_millicores(vcpu),
            MEMORY: kube_reserved_memory_mib(overhead_pods) * MIB,
            EPHEMERAL_STORAGE: KUBE_RESERVED_EPHEMERAL_BYTES}
    kube.update(settings.kube_reserved)
    system = dict(settings.system_reserved)
    eviction = _eviction(memory, storage, settings)
    allocatable = dict(capacity)
    for name in (CPU, MEMORY, EPHEMERAL_STORAGE):
        allocatable[name] = max(0, capacity[name] - kube.get(name, 0)
                                - system.get(name, 0) - eviction.get(name, 0))
    return Resources(MappingProxyType(capacity), MappingProxyType(allocatable), pods)


def with_node_settings(it: InstanceType, settings: NodeSettings) -> InstanceType:
    """The instance type as a node of an EC2NodeClass with these settings reports it."""
    if settings.is_default:
        return it
    base = (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)
    nvme = it.labels.get(LOCAL_NVME_LABEL, "")
    res = node_resources(
        vcpu=it.vcpu, memory_mib=it.memory_mib, arch=it.arch, eni_pods=it.max_pods,
        local_nvme_gb=int(nvme) if nvme.isdigit() else 0,
        extended={k: v for k, v in it.capacity.items() if k not in base},
        settings=settings)
    return dataclasses.replace(it, capacity=res.capacity, allocatable=res.allocatable)

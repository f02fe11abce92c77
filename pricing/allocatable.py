"""Capacity and allocatable resources, following Karpenter's AL2023 defaults.

Karpenter predicts what a node will report before launching it; the scheduler simulation must
use the same prediction or it would place pods that Karpenter's nodes cannot hold. The
formulas below reproduce the allocatable figures of Karpenter's instance-type docs exactly
(the tests compare all of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pricing.loader import InstanceSpec

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

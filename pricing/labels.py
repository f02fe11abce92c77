"""Well-known node labels Karpenter puts on an instance type, with Karpenter's value formats.

Zone, capacity-type and region labels are left out on purpose: they belong to an offering,
not to the type.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pricing.loader import InstanceSpec

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
ARCH = "kubernetes.io/arch"
OS = "kubernetes.io/os"
ZONE = "topology.kubernetes.io/zone"  # for offerings
CAPACITY_TYPE = "karpenter.sh/capacity-type"  # for offerings

_K = "karpenter.k8s.aws/instance-"
INSTANCE_FAMILY = _K + "family"
INSTANCE_CATEGORY = _K + "category"
INSTANCE_GENERATION = _K + "generation"
INSTANCE_SIZE = _K + "size"
INSTANCE_CPU = _K + "cpu"
INSTANCE_CPU_MANUFACTURER = _K + "cpu-manufacturer"
INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ = _K + "cpu-sustained-clock-speed-mhz"
INSTANCE_MEMORY = _K + "memory"
INSTANCE_EBS_BANDWIDTH = _K + "ebs-bandwidth"
INSTANCE_NETWORK_BANDWIDTH = _K + "network-bandwidth"
INSTANCE_HYPERVISOR = _K + "hypervisor"
INSTANCE_GPU_NAME = _K + "gpu-name"
INSTANCE_GPU_MANUFACTURER = _K + "gpu-manufacturer"
INSTANCE_GPU_COUNT = _K + "gpu-count"
INSTANCE_GPU_MEMORY = _K + "gpu-memory"
INSTANCE_ACCELERATOR_NAME = _K + "accelerator-name"
INSTANCE_ACCELERATOR_MANUFACTURER = _K + "accelerator-manufacturer"
INSTANCE_ACCELERATOR_COUNT = _K + "accelerator-count"
INSTANCE_LOCAL_NVME = _K + "local-nvme"
INSTANCE_CAPABILITY_FLEX = _K + "capability-flex"
INSTANCE_ENCRYPTION_IN_TRANSIT = _K + "encryption-in-transit-supported"
# Karpenter's tenancy label. The data has shared-tenancy prices only, so every type is
# offered with "default" tenancy; "dedicated" is not offered (no price to plan with).
INSTANCE_TENANCY = _K + "tenancy"
DEFAULT_TENANCY = "default"


def _kebab(text: str) -> str:
    # Karpenter lower-cases device names and joins words with "-" (e.g. "A10G" -> "a10g").
    return "-".join(text.lower().split())


def _positive(text: str) -> bool:
    return bool(text) and text != "0"


def instance_labels(spec: InstanceSpec) -> Mapping[str, str]:
    """Labels of a node of this type; a label is set only where the data has a value."""
    labels: dict[str, str] = {
        INSTANCE_TYPE: spec.name,
        ARCH: spec.arch,
        OS: "linux",
        INSTANCE_CPU: str(spec.vcpu),
        INSTANCE_MEMORY: str(spec.memory_mib),
        # Karpenter sets it on every type: "true" exactly when the family name has "-flex".
        INSTANCE_CAPABILITY_FLEX: spec.capability_flex
        or ("true" if "-flex" in spec.family else "false"),
        INSTANCE_TENANCY: DEFAULT_TENANCY,
    }
    optional = {
        INSTANCE_FAMILY: spec.family,
        INSTANCE_CATEGORY: spec.category,
        INSTANCE_GENERATION: spec.generation,
        INSTANCE_SIZE: spec.size,
        INSTANCE_CPU_MANUFACTURER: spec.cpu_manufacturer,
        # Karpenter publishes 0 for old types with no published clock; so do we.
        INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ: spec.cpu_sustained_clock_mhz,
        INSTANCE_EBS_BANDWIDTH: spec.ebs_bandwidth_mbps,
        INSTANCE_NETWORK_BANDWIDTH: spec.network_bandwidth_mbps,
        # Blank for bare metal. Karpenter sets it to ""; we omit it (project decision), so
        # Exists/DoesNotExist selectors on it see metal types differently than Karpenter.
        INSTANCE_HYPERVISOR: spec.hypervisor,
        INSTANCE_ENCRYPTION_IN_TRANSIT: spec.encryption_in_transit,
    }
    for key, value in optional.items():
        if value:
            labels[key] = value
    if spec.gpu_count > 0:
        labels[INSTANCE_GPU_COUNT] = str(spec.gpu_count)
        if spec.gpu_model:
            labels[INSTANCE_GPU_NAME] = _kebab(spec.gpu_model)
        if spec.gpu_manufacturer:
            labels[INSTANCE_GPU_MANUFACTURER] = _kebab(spec.gpu_manufacturer)
        if _positive(spec.gpu_memory_mib):
            labels[INSTANCE_GPU_MEMORY] = spec.gpu_memory_mib  # MiB of one GPU
    if spec.accelerator_count > 0:
        labels[INSTANCE_ACCELERATOR_COUNT] = str(spec.accelerator_count)
        if spec.accelerator_model:
            labels[INSTANCE_ACCELERATOR_NAME] = _kebab(spec.accelerator_model)
        if spec.accelerator_manufacturer:
            labels[INSTANCE_ACCELERATOR_MANUFACTURER] = _kebab(spec.accelerator_manufacturer)
    if _positive(spec.local_nvme_gib):
        labels[INSTANCE_LOCAL_NVME] = spec.local_nvme_gib  # GiB, all instance-store disks
    return MappingProxyType(labels)

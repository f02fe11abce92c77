"""Karpenter's `karpenter.k8s.aws/v1` EC2NodeClass: the one model validation, simulation and
the AWS adapter read.

The fields follow `pkg/apis/v1/ec2nodeclass.go` in aws/karpenter-provider-aws and the rules
its CRD enforces that a mistake in Git is likely to break (the three selector-term lists are
required, `role` or `instanceProfile` but not both, an `alias` AMI term stands alone, volume
sizes are quantities), plus what scaler refuses out loud (IMDSv1, tags scaler sets itself).
Unknown fields are kept (`extra="allow"`), as for NodePools.

`node_settings` is what the simulation acts on (kubelet pods and reservations, root volume,
RAID0 instance store: Karpenter's allocatable formulas); the AWS adapter
(`scaler.adapters.aws.nodeclass`) validates with `semantic_errors` here before it resolves
selectors and writes the launch template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pricing.allocatable import NodeSettings, percent_signal
from scaler.core.quantity import QuantityError, parse_quantity, to_int, to_milli
from scaler.policy.common import Quantity
from scaler.policy.fields import fail, one_of
from scaler.policy.nodepool import FieldPath, ObjectMeta, PolicyFieldError

API_GROUP = "karpenter.k8s.aws"
API_VERSION = "karpenter.k8s.aws/v1"
KIND = "EC2NodeClass"

AMI_FAMILIES = ("AL2", "AL2023", "Bottlerocket", "Windows2019", "Windows2022", "Custom")
HTTP_TOKENS = ("required", "optional")
ENABLED_DISABLED = ("enabled", "disabled")
VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "sc1", "st1", "gp3")
MAX_TERMS = 30
# Tag keys Karpenter (and scaler) set on what they launch; a NodeClass may not set them.
RESTRICTED_TAG_PREFIXES = ("kubernetes.io/cluster/", "karpenter.sh/nodepool",
                           "karpenter.sh/nodeclaim", "karpenter.k8s.aws/ec2nodeclass",
                           "eks:eks-cluster-name")
RESERVED_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pid")
EVICTION_SIGNALS = ("memory.available", "nodefs.available", "nodefs.inodesFree",
                    "imagefs.available", "imagefs.inodesFree", "pid.available")
# The AMI family's root device, whose size is the node's ephemeral storage (Karpenter).
ROOT_DEVICE = {"AL2": "/dev/xvda", "AL2023": "/dev/xvda", "Bottlerocket": "/dev/xvdb",
               "Windows2019": "/dev/sda1", "Windows2022": "/dev/sda1"}
_ALIAS = re.compile(r"[a-zA-Z0-9]+@.+")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


class SelectorTerm(_Model):
    """One term of subnet, security-group, AMI or capacity-reservation selection."""

    tags: dict[str, str] | None = None
    id: str | None = None
    name: str | None = None
    owner: str | None = None
    alias: str | None = Field(default=None, json_schema_extra={"pattern": r"^[a-zA-Z0-9]+@.+$"})
    ssm_parameter: str | None = Field(default=None, alias="ssmParameter")

    @field_validator("alias")
    @classmethod
    def _alias(cls, v: str | None) -> str | None:
        if v is not None and not _ALIAS.fullmatch(v):
            raise fail(f"invalid AMI alias {v!r} (expected family@version, e.g. al2023@latest)")
        return v


class Ebs(_Model):
    volume_size: Quantity | None = Field(default=None, alias="volumeSize")
    volume_type: str | None = Field(
        default=None, alias="volumeType", json_schema_extra={"enum": list(VOLUME_TYPES)}
    )
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool | None = None
    kms_key_id: str | None = Field(default=None, alias="kmsKeyID")
    delete_on_termination: bool | None = Field(default=None, alias="deleteOnTermination")
    snapshot_id: str | None = Field(default=None, alias="snapshotID")

    @field_validator("volume_type")
    @classmethod
    def _volume_type(cls, v: str | None) -> str | None:
        if v is not None and v not in VOLUME_TYPES:
            raise one_of("volume type", v, VOLUME_TYPES)
        return v


class BlockDeviceMapping(_Model):
    device_name: str | None = Field(default=None, alias="deviceName")
    ebs: Ebs | None = None
    root_volume: bool | None = Field(default=None, alias="rootVolume")


class MetadataOptions(_Model):
    http_endpoint: str | None = Field(
        default=None, alias="httpEndpoint", json_schema_extra={"enum": list(ENABLED_DISABLED)}
    )
    http_protocol_ipv6: str | None = Field(
        default=None, alias="httpProtocolIPv6", json_schema_extra={"enum": list(ENABLED_DISABLED)}
    )
    http_put_response_hop_limit: int | None = Field(
        default=None, alias="httpPutResponseHopLimit", json_schema_extra={"minimum": 1}
    )
    http_tokens: str | None = Field(
        default=None, alias="httpTokens", json_schema_extra={"enum": list(HTTP_TOKENS)}
    )

    @field_validator("http_tokens")
    @classmethod
    def _tokens(cls, v: str | None) -> str | None:
        if v is not None and v not in HTTP_TOKENS:
            raise one_of("httpTokens", v, HTTP_TOKENS)
        return v


class KubeletConfiguration(_Model):
    cluster_dns: list[str] | None = Field(default=None, alias="clusterDNS")
    max_pods: int | None = Field(default=None, alias="maxPods", json_schema_extra={"minimum": 0})
    pods_per_core: int | None = Field(
        default=None, alias="podsPerCore", json_schema_extra={"minimum": 0}
    )
    system_reserved: dict[str, str] | None = Field(default=None, alias="systemReserved")
    kube_reserved: dict[str, str] | None = Field(default=None, alias="kubeReserved")
    eviction_hard: dict[str, str] | None = Field(default=None, alias="evictionHard")
    eviction_soft: dict[str, str] | None = Field(default=None, alias="evictionSoft")
    eviction_soft_grace_period: dict[str, str] | None = Field(
        default=None, alias="evictionSoftGracePeriod"
    )
    eviction_max_pod_grace_period: int | None = Field(
        default=None, alias="evictionMaxPodGracePeriod"
    )
    image_gc_high_threshold_percent: int | None = Field(
        default=None, alias="imageGCHighThresholdPercent"
    )
    image_gc_low_threshold_percent: int | None = Field(
        default=None, alias="imageGCLowThresholdPercent"
    )
    cpu_cfs_quota: bool | None = Field(default=None, alias="cpuCFSQuota")


class EC2NodeClassSpec(_Model):
    subnet_selector_terms: list[SelectorTerm] = Field(
        alias="subnetSelectorTerms", json_schema_extra={"minItems": 1, "maxItems": MAX_TERMS}
    )
    security_group_selector_terms: list[SelectorTerm] = Field(
        alias="securityGroupSelectorTerms", json_schema_extra={"minItems": 1, "maxItems": MAX_TERMS}
    )
    ami_selector_terms: list[SelectorTerm] = Field(
        alias="amiSelectorTerms", json_schema_extra={"minItems": 1, "maxItems": MAX_TERMS}
    )
    capacity_reservation_selector_terms: list[SelectorTerm] | None = Field(
        default=None, alias="capacityReservationSelectorTerms"
    )
    ami_family: str | None = Field(
        default=None, alias="amiFamily", json_schema_extra={"enum": list(AMI_FAMILIES)}
    )
    role: str | None = None
    instance_profile: str | None = Field(default=None, alias="instanceProfile")
    user_data: str | None = Field(default=None, alias="userData")
    tags: dict[str, str] | None = None
    kubelet: KubeletConfiguration | None = None
    block_device_mappings: list[BlockDeviceMapping] | None = Field(
        default=None, alias="blockDeviceMappings"
    )
    instance_store_policy: str | None = Field(
        default=None, alias="instanceStorePolicy", json_schema_extra={"enum": ["RAID0"]}
    )
    detailed_monitoring: bool | None = Field(default=None, alias="detailedMonitoring")
    associate_public_ip_address: bool | None = Field(
        default=None, alias="associatePublicIPAddress"
    )
    metadata_options: MetadataOptions | None = Field(default=None, alias="metadataOptions")
    context: str | None = None
    ip_prefix_count: int | None = Field(
        default=None, alias="ipPrefixCount", json_schema_extra={"minimum": 0}
    )

    @field_validator("ami_family")
    @classmethod
    def _family(cls, v: str | None) -> str | None:
        if v is not None and v not in AMI_FAMILIES:
            raise one_of("amiFamily", v, AMI_FAMILIES)
        return v


class EC2NodeClass(_Model):
    """Karpenter's AWS node class: AMI, IAM role, subnets, security groups, disks."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    metadata: ObjectMeta
    spec: EC2NodeClassSpec

    @property
    def name(self) -> str:
        return self.metadata.name


def semantic_errors(nc: EC2NodeClass) -> Iterator[PolicyFieldError]:
    """The cross-field rules of Karpenter's CRD (CEL) that types alone do not express."""
    spec = nc.spec
    if (spec.role is None) == (spec.instance_profile is None):
        which = "both are set" if spec.role is not None else "neither is set"
        yield PolicyFieldError(
            ("spec", "role") if spec.role is not None else ("spec",),
            f"set exactly one of role and instanceProfile ({which})",
        )
    lists: tuple[tuple[str, list[SelectorTerm] | None], ...] = (
        ("subnetSelectorTerms", spec.subnet_selector_terms),
        ("securityGroupSelectorTerms", spec.security_group_selector_terms),
        ("amiSelectorTerms", spec.ami_selector_terms),
        ("capacityReservationSelectorTerms", spec.capacity_reservation_selector_terms),
    )
    allowed = {
        "subnetSelectorTerms": ("id", "tags"),
        "securityGroupSelectorTerms": ("id", "name", "tags"),
        "amiSelectorTerms": ("id", "name", "owner", "alias", "tags"),
        "capacityReservationSelectorTerms": (),
    }
    # Karpenter fields scaler cannot act on yet: refused, with why, rather than dropped.
    unsupported = {
        ("subnetSelectorTerms", "cidr"): "selecting subnets by CIDR is not supported yet; "
        "use id or tags",
        ("amiSelectorTerms", "ssmParameter"): "selecting an AMI by SSM parameter is not "
        "supported yet; use alias, id, name or tags",
    }
    if spec.capacity_reservation_selector_terms:
        yield PolicyFieldError(("spec", "capacityReservationSelectorTerms"),
                               "capacity reservations are not supported yet (scaler plans and "
                               "launches on-demand and spot capacity only)")
    for field, terms in lists:
        if field == "capacityReservationSelectorTerms":
            continue
        if terms is not None and not terms and field != "capacityReservationSelectorTerms":
            yield PolicyFieldError(("spec", field), "needs at least one term")
        if terms is not None and len(terms) > MAX_TERMS:
            yield PolicyFieldError(
                ("spec", field), f"{len(terms)} terms; Karpenter allows at most {MAX_TERMS}"
            )
        for i, term in enumerate(terms or ()):
            path: FieldPath = ("spec", field, i)
            written = set(term.model_extra or {}) | {
                (SelectorTerm.model_fields[f].alias or f) for f in term.model_fields_set
                if f in SelectorTerm.model_fields}
            unknown = sorted(written - set(allowed[field]))
            if unknown:
                why = unsupported.get((field, unknown[0]))
                yield PolicyFieldError((*path, unknown[0]), why or
                                       f"unknown field; expected {', '.join(allowed[field])}")
                continue
            if not (term.model_fields_set | set(term.model_extra or {})):
                yield PolicyFieldError(path, "an empty term selects nothing; give tags or id")
            if term.alias is not None and len(terms or ()) > 1:
                yield PolicyFieldError(
                    (*path, "alias"), "an alias term must be the only amiSelectorTerm"
                )
            if term.id is not None and (term.name or term.tags or term.alias or term.owner):
                yield PolicyFieldError(path, "id cannot be combined with other fields")
            if term.owner is not None and not term.name and not term.tags:
                yield PolicyFieldError((*path, "owner"), "owner needs name or tags")
    if spec.kubelet is not None:
        yield from _kubelet_errors(spec.kubelet)
    for key in spec.tags or {}:
        if key.startswith(RESTRICTED_TAG_PREFIXES):
            yield PolicyFieldError(("spec", "tags", key),
                                   "this tag is set by scaler and cannot be overridden")
    mo = spec.metadata_options
    if mo is not None and mo.http_tokens == "optional":
        yield PolicyFieldError(("spec", "metadataOptions", "httpTokens"),
                               "'optional' refused: scaler requires IMDSv2 (httpTokens: required)")
    if mo is not None and mo.http_put_response_hop_limit is not None and not (
            1 <= mo.http_put_response_hop_limit <= 64):
        yield PolicyFieldError(("spec", "metadataOptions", "httpPutResponseHopLimit"),
                               f"{mo.http_put_response_hop_limit} out of range (1..64)")
    for i, bdm in enumerate(spec.block_device_mappings or ()):
        if bdm.ebs is not None and bdm.ebs.volume_size is not None:
            try:
                size = parse_quantity(bdm.ebs.volume_size)
            except QuantityError as e:
                yield PolicyFieldError(("spec", "blockDeviceMappings", i, "ebs", "volumeSize"),
                                       e.message)
                continue
            if not 2**30 <= size <= 64 * 2**40:
                yield PolicyFieldError(("spec", "blockDeviceMappings", i, "ebs", "volumeSize"),
                                       f"volume size {bdm.ebs.volume_size!r} out of range "
                                       "(1Gi..64Ti)")
    for i, bdm in enumerate(spec.block_device_mappings or ()):
        roots = sum(1 for b in spec.block_device_mappings or () if b.root_volume)
        if roots > 1 and bdm.root_volume:
            yield PolicyFieldError(
                ("spec", "blockDeviceMappings", i, "rootVolume"),
                "only one block device mapping can be the root volume",
            )
            break


def ignored_fields(nc: EC2NodeClass) -> tuple[str, ...]:
    """Fields present that nothing reads: only ones Karpenter adds later (unknown to this
    model). Every modelled field is acted on: by the simulation (`node_settings`) or by the
    AWS adapter when it launches (docs/policies.md lists which)."""
    return tuple(sorted(f"spec.{k}" for k in nc.spec.model_extra or {}))


# What the AWS adapter cannot apply at launch yet: kubelet settings on families other than
# AL2023 (whose nodeadm NodeConfig it writes into the user data).
def launch_warnings(nc: EC2NodeClass) -> list[str]:
    """One line per field present that a Karpenter launch would apply and scaler's would not."""
    if nc.spec.kubelet is not None and ami_family(nc) != "AL2023":
        return [f"spec.kubelet: the simulation uses it for allocatable, but the AWS adapter "
                f"writes kubelet settings into user data for AL2023 only ({ami_family(nc)} "
                "here): put the same settings in spec.userData so the nodes match the plan"]
    return []


def ami_family(nc: EC2NodeClass) -> str:
    """`amiFamily`, else the family of an alias term (`al2023@latest`), else AL2023."""
    if nc.spec.ami_family:
        return nc.spec.ami_family
    for term in nc.spec.ami_selector_terms:
        if term.alias:
            fam = term.alias.split("@", 1)[0].lower()
            return {"al2": "AL2", "al2023": "AL2023", "bottlerocket": "Bottlerocket",
                    "windows2019": "Windows2019", "windows2022": "Windows2022"}.get(fam, "AL2023")
    return "AL2023"


def _amounts(values: dict[str, str] | None) -> tuple[tuple[str, int], ...]:
    # In the catalog's units: millicores for cpu, bytes otherwise; pid has no resource.
    return tuple(sorted(
        (k, to_milli(parse_quantity(v)) if k == "cpu" else to_int(parse_quantity(v)))
        for k, v in (values or {}).items() if k != "pid"))


def _signals(values: dict[str, str] | None) -> tuple[tuple[str, int], ...]:
    out = []
    for k, v in (values or {}).items():
        if k not in ("memory.available", "nodefs.available"):
            continue  # signals with no resource in allocatable (inodes, pid, imagefs)
        out.append((k, percent_signal(float(v[:-1])) if v.endswith("%")
                    else to_int(parse_quantity(v))))
    return tuple(sorted(out))


def root_volume_bytes(nc: EC2NodeClass) -> int | None:
    """The root volume's size, as Karpenter finds it: the mapping marked rootVolume, else
    (Custom AMIs) the last mapping, else the family's root device; None: the default."""
    bdms = nc.spec.block_device_mappings or []
    family = ami_family(nc)
    chosen = next((b for b in bdms if b.root_volume), None)
    if chosen is None and bdms:
        if family == "Custom":
            chosen = bdms[-1]
        else:
            chosen = next((b for b in bdms if b.device_name == ROOT_DEVICE.get(family)), None)
    if chosen is None or chosen.ebs is None or chosen.ebs.volume_size is None:
        return None
    return to_int(parse_quantity(chosen.ebs.volume_size))


def node_settings(nc: EC2NodeClass | None) -> NodeSettings:
    """What the EC2NodeClass changes in its nodes' capacity and allocatable (already
    validated by `semantic_errors`, so quantities parse)."""
    if nc is None:
        return NodeSettings()
    k = nc.spec.kubelet or KubeletConfiguration()
    family = ami_family(nc)
    bottlerocket = family == "Bottlerocket"
    return NodeSettings(
        max_pods=k.max_pods,
        pods_per_core=k.pods_per_core or None,
        system_reserved=_amounts(k.system_reserved),
        kube_reserved=_amounts(k.kube_reserved),
        eviction_hard=_signals(k.eviction_hard),
        eviction_soft=_signals(k.eviction_soft),
        root_volume_bytes=root_volume_bytes(nc),
        raid0=nc.spec.instance_store_policy == "RAID0",
        eni_limited_memory_overhead=not bottlerocket,
        pods_per_core_enabled=not bottlerocket,
        eviction_soft_enabled=not bottlerocket,
    )


def _kubelet_errors(k: KubeletConfiguration) -> Iterator[PolicyFieldError]:
    base: FieldPath = ("spec", "kubelet")
    for field, value in (("maxPods", k.max_pods), ("podsPerCore", k.pods_per_core)):
        if value is not None and value < 0:
            yield PolicyFieldError((*base, field), f"must not be negative, got {value}")
    for field, values in (("systemReserved", k.system_reserved),
                          ("kubeReserved", k.kube_reserved)):
        for key, v in (values or {}).items():
            if key not in RESERVED_RESOURCES:
                yield PolicyFieldError((*base, field, key), f"unknown resource {key!r} "
                                       f"(expected {', '.join(RESERVED_RESOURCES)})")
                continue
            try:
                if parse_quantity(v) < 0:
                    raise QuantityError(f"{v!r} is negative")
            except QuantityError as e:
                yield PolicyFieldError((*base, field, key), f"invalid quantity: {e}")
    for field, values in (("evictionHard", k.eviction_hard), ("evictionSoft", k.eviction_soft)):
        for key, v in (values or {}).items():
            if key not in EVICTION_SIGNALS:
                yield PolicyFieldError((*base, field, key), f"unknown eviction signal {key!r} "
                                       f"(expected {', '.join(EVICTION_SIGNALS)})")
                continue
            if v.endswith("%"):
                try:
                    pct = float(v[:-1])
                except ValueError:
                    pct = -1.0
                if not 0 <= pct <= 100:
                    yield PolicyFieldError((*base, field, key),
                                           f"invalid percentage {v!r} (expected 0%..100%)")
                continue
            try:
                parse_quantity(v)
            except QuantityError as e:
                yield PolicyFieldError((*base, field, key), f"invalid quantity: {e}")
    soft, grace = set(k.eviction_soft or {}), set(k.eviction_soft_grace_period or {})
    if soft != grace:
        key = sorted(soft ^ grace)[0]
        yield PolicyFieldError((*base, "evictionSoftGracePeriod"),
                               f"evictionSoft and evictionSoftGracePeriod must name the same "
                               f"signals ({key!r} is in only one)")
    lo, hi = k.image_gc_low_threshold_percent, k.image_gc_high_threshold_percent
    for field, value in (("imageGCLowThresholdPercent", lo), ("imageGCHighThresholdPercent", hi)):
        if value is not None and not 0 <= value <= 100:
            yield PolicyFieldError((*base, field), f"{value} out of range (expected 0..100)")
    if lo is not None and hi is not None and lo >= hi:
        yield PolicyFieldError((*base, "imageGCLowThresholdPercent"),
                               "must be below imageGCHighThresholdPercent")

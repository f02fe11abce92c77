"""Karpenter's `karpenter.k8s.aws/v1` EC2NodeClass: accepted, checked, kept, not acted on yet.

The fields follow `pkg/apis/v1/ec2nodeclass.go` in aws/karpenter-provider-aws and the rules
its CRD enforces that a mistake in Git is likely to break (the three selector-term lists are
required, `role` or `instanceProfile` but not both, an `alias` AMI term stands alone, volume
sizes are quantities). Unknown fields are kept (`extra="allow"`), as for NodePools.

scaler does not act on any EC2NodeClass field yet (it prices instance types, it does not
launch them); every field present is listed in `PolicySet.ignored_fields`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scaler.policy.common import Quantity
from scaler.policy.nodepool import FieldPath, ObjectMeta, PolicyFieldError, _fail, _one_of

API_GROUP = "karpenter.k8s.aws"
API_VERSION = "karpenter.k8s.aws/v1"
KIND = "EC2NodeClass"

AMI_FAMILIES = ("AL2", "AL2023", "Bottlerocket", "Windows2019", "Windows2022", "Custom")
HTTP_TOKENS = ("required", "optional")
ENABLED_DISABLED = ("enabled", "disabled")
VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "sc1", "st1", "gp3")
MAX_TERMS = 30
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
            raise _fail(f"invalid AMI alias {v!r} (expected family@version, e.g. al2023@latest)")
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
            raise _one_of("volume type", v, VOLUME_TYPES)
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
            raise _one_of("httpTokens", v, HTTP_TOKENS)
        return v


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
    kubelet: dict[str, Any] | None = None
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

    @field_validator("ami_family")
    @classmethod
    def _family(cls, v: str | None) -> str | None:
        if v is not None and v not in AMI_FAMILIES:
            raise _one_of("amiFamily", v, AMI_FAMILIES)
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
    for field, terms in lists:
        if terms is not None and not terms and field != "capacityReservationSelectorTerms":
            yield PolicyFieldError(("spec", field), "needs at least one term")
        if terms is not None and len(terms) > MAX_TERMS:
            yield PolicyFieldError(
                ("spec", field), f"{len(terms)} terms; Karpenter allows at most {MAX_TERMS}"
            )
        for i, term in enumerate(terms or ()):
            path: FieldPath = ("spec", field, i)
            if not (term.model_fields_set | set(term.model_extra or {})):
                yield PolicyFieldError(path, "an empty term selects nothing; give tags or id")
            if term.alias is not None and len(terms or ()) > 1:
                yield PolicyFieldError(
                    (*path, "alias"), "an alias term must be the only amiSelectorTerm"
                )
    for i, bdm in enumerate(spec.block_device_mappings or ()):
        roots = sum(1 for b in spec.block_device_mappings or () if b.root_volume)
        if roots > 1 and bdm.root_volume:
            yield PolicyFieldError(
                ("spec", "blockDeviceMappings", i, "rootVolume"),
                "only one block device mapping can be the root volume",
            )
            break


def ignored_fields(nc: EC2NodeClass) -> tuple[str, ...]:
    """The spec fields present, all kept and none acted on yet, as `spec.<field>` paths."""
    present = [
        f"spec.{(info.alias or name)}"
        for name, info in EC2NodeClassSpec.model_fields.items()
        if name in nc.spec.model_fields_set
    ]
    present.extend(f"spec.{k}" for k in nc.spec.model_extra or {})
    return tuple(sorted(present))

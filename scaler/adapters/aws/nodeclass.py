"""EC2NodeClass (`karpenter.k8s.aws/v1`): what it says, what it selects in AWS, and the launch
template it becomes.

`parse_ec2_node_class` validates with the one EC2NodeClass model (`scaler.policy.ec2nodeclass`,
also what `policies validate` and the simulation use), then keeps what a launch needs; every
mistake is one `UserError` line naming the file, the object and the field. `resolve` turns
its selector terms into the subnets, security groups, AMIs and instance profile they select
today; `launch_template_data` is the launch template for one AMI: IMDSv2 is always required.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scaler.adapters.aws import retry
from scaler.adapters.aws.tags import RESTRICTED_TAG_PREFIXES, cluster_tags
from scaler.core.quantity import QuantityError, parse_quantity
from scaler.errors import UserError
from scaler.kube_yaml import read_text, yaml_documents
from scaler.policy import ec2nodeclass as policy_nc
from scaler.policy.common import validate_object
from scaler.policy.nodepool import located_error
from scaler.ports.cloud import CloudError

log = logging.getLogger(__name__)

API_GROUP = "karpenter.k8s.aws"
KIND = "EC2NodeClass"
# EC2 architecture names -> Kubernetes ones.
ARCHES = {"x86_64": "amd64", "arm64": "arm64"}
EC2_ARCH = {v: k for k, v in ARCHES.items()}
# SSM parameter of the EKS-optimized AL2023 AMI (the one alias scaler resolves).
AL2023_PARAMETER = (
    "/aws/service/eks/optimized-ami/{k8s}/amazon-linux-2023/{arch}/standard/recommended/image_id"
)
_ALIAS = re.compile(r"(al2023|al2|bottlerocket|windows2019|windows2022)@(latest|v[\w.-]+)")
_HTTP_TOKENS = ("required",)  # IMDSv2 only: "optional" is refused
_ENABLED = ("enabled", "disabled")
_VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "sc1", "st1", "gp3")


@dataclass(frozen=True, slots=True)
class SelectorTerm:
    """One term of a selector; terms are ORed, the fields of a term ANDed."""

    id: str | None = None
    name: str | None = None
    owner: str | None = None
    alias: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BlockDevice:
    device_name: str
    volume_size_gib: int | None = None
    volume_type: str | None = None
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool | None = None
    kms_key_id: str | None = None
    delete_on_termination: bool = True
    snapshot_id: str | None = None


@dataclass(frozen=True, slots=True)
class MetadataOptions:
    """Karpenter's defaults; `http_tokens` is always "required" (IMDSv2)."""

    http_endpoint: str = "enabled"
    http_protocol_ipv6: str = "disabled"
    http_put_response_hop_limit: int = 1
    http_tokens: str = "required"


@dataclass(frozen=True, slots=True)
class NodeClass:
    name: str
    subnet_terms: tuple[SelectorTerm, ...]
    security_group_terms: tuple[SelectorTerm, ...]
    ami_terms: tuple[SelectorTerm, ...]
    role: str | None = None
    instance_profile: str | None = None
    user_data: str | None = None
    block_devices: tuple[BlockDevice, ...] = ()
    metadata_options: MetadataOptions = MetadataOptions()
    tags: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    # Karpenter's launch settings, applied to the launch template and fleet request.
    detailed_monitoring: bool | None = None
    associate_public_ip: bool | None = None
    ip_prefix_count: int | None = None
    context: str | None = None
    # `spec.kubelet` as written (AL2023: merged into user data as a nodeadm NodeConfig).
    kubelet: Mapping[str, Any] = field(default_factory=dict)
    ami_family: str = "AL2023"


@dataclass(frozen=True, slots=True)
class NodeClassSet:
    """EC2NodeClasses by name, and which one each NodePool's `nodeClassRef` names."""

    classes: Mapping[str, NodeClass]
    pool_refs: Mapping[str, str] = field(default_factory=dict)


# --- parsing -------------------------------------------------------------------------------


class _Reader:
    """Field access with one-line errors: `file: EC2NodeClass name: spec.field: message`."""

    def __init__(self, file: str, obj: str) -> None:
        self.file, self.obj = file, obj

    def fail(self, path: str, message: str) -> UserError:
        return UserError(message, file=self.file or None, obj=self.obj, field=path)

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a mapping, got {type(value).__name__}")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {type(value).__name__}")
        return value

    def string(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value

    def integer(self, value: Any, path: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"expected an integer, got {value!r}")
        return int(value)

    def boolean(self, value: Any, path: str) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def choice(self, value: Any, path: str, allowed: Sequence[str]) -> str | None:
        text = self.string(value, path)
        if text is not None and text not in allowed:
            raise self.fail(path, f"{text!r} is not one of {', '.join(allowed)}")
        return text

    def tags(self, value: Any, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.mapping(value, path).items():
            if not isinstance(k, str) or not k or not isinstance(v, str):
                raise self.fail(f"{path}.{k}", "tag keys and values must be strings")
            out[k] = v
        return out


def _terms(r: _Reader, raw: Any, path: str, allowed: tuple[str, ...]) -> tuple[SelectorTerm, ...]:
    items = r.items(raw, path)
    if not items:
        raise r.fail(path, "at least one selector term is required")
    terms: list[SelectorTerm] = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        m = r.mapping(item, where)
        unknown = sorted(set(m) - set(allowed))
        if unknown:
            raise r.fail(f"{where}.{unknown[0]}", f"unknown field; expected {', '.join(allowed)}")
        tags = r.tags(m.get("tags"), f"{where}.tags")
        term = SelectorTerm(
            id=r.string(m.get("id"), f"{where}.id"),
            name=r.string(m.get("name"), f"{where}.name"),
            owner=r.string(m.get("owner"), f"{where}.owner"),
            alias=r.string(m.get("alias"), f"{where}.alias"),
            tags=tags,
        )
        if not (term.id or term.name or term.alias or term.tags):
            raise r.fail(where, "a term needs id, name, alias or tags")
        if term.id and (term.name or term.tags or term.alias or term.owner):
            raise r.fail(where, "id cannot be combined with other fields")
        if term.alias:
            if len(m) != 1:
                raise r.fail(where, "alias cannot be combined with other fields")
            if not _ALIAS.fullmatch(term.alias):
                raise r.fail(f"{where}.alias",
                             f"invalid alias {term.alias!r} (expected family@version, "
                             "e.g. al2023@latest)")
            if len(items) > 1:
                raise r.fail(path, "an alias term must be the only term")
        if term.owner and not term.name and not term.tags:
            raise r.fail(where, "owner needs name or tags")
        terms.append(term)
    return tuple(terms)


def _volume_gib(r: _Reader, value: Any, path: str) -> int | None:
    if value is None:
        return None
    try:
        size = parse_quantity(value)
    except QuantityError as e:
        raise r.fail(path, e.message) from None
    gib = math.ceil(size / 2**30)
    if gib < 1 or gib > 64 * 1024:
        raise r.fail(path, f"volume size {value!r} out of range (1Gi..64Ti)")
    return gib


def _block_devices(r: _Reader, raw: Any) -> tuple[BlockDevice, ...]:
    out: list[BlockDevice] = []
    for i, item in enumerate(r.items(raw, "spec.blockDeviceMappings")):
        where = f"spec.blockDeviceMappings[{i}]"
        m = r.mapping(item, where)
        device = r.string(m.get("deviceName"), f"{where}.deviceName")
        if device is None:
            raise r.fail(f"{where}.deviceName", "required field is missing")
        ebs = r.mapping(m.get("ebs"), f"{where}.ebs")
        out.append(
            BlockDevice(
                device_name=device,
                volume_size_gib=_volume_gib(r, ebs.get("volumeSize"), f"{where}.ebs.volumeSize"),
                volume_type=r.choice(ebs.get("volumeType"), f"{where}.ebs.volumeType",
                                     _VOLUME_TYPES),
                iops=r.integer(ebs.get("iops"), f"{where}.ebs.iops"),
                throughput=r.integer(ebs.get("throughput"), f"{where}.ebs.throughput"),
                encrypted=r.boolean(ebs.get("encrypted"), f"{where}.ebs.encrypted"),
                kms_key_id=r.string(ebs.get("kmsKeyID"), f"{where}.ebs.kmsKeyID"),
                delete_on_termination=r.boolean(
                    ebs.get("deleteOnTermination"), f"{where}.ebs.deleteOnTermination"
                ) is not False,
                snapshot_id=r.string(ebs.get("snapshotID"), f"{where}.ebs.snapshotID"),
            )
        )
    return tuple(out)


def _metadata_options(r: _Reader, raw: Any) -> MetadataOptions:
    path = "spec.metadataOptions"
    m = r.mapping(raw, path)
    tokens = m.get("httpTokens")
    if tokens is not None and tokens not in _HTTP_TOKENS:
        raise r.fail(f"{path}.httpTokens",
                     f"{tokens!r} refused: scaler requires IMDSv2 (httpTokens: required)")
    hop = r.integer(m.get("httpPutResponseHopLimit"), f"{path}.httpPutResponseHopLimit")
    if hop is not None and not 1 <= hop <= 64:
        raise r.fail(f"{path}.httpPutResponseHopLimit", f"{hop} out of range (1..64)")
    return MetadataOptions(
        http_endpoint=r.choice(m.get("httpEndpoint"), f"{path}.httpEndpoint", _ENABLED)
        or "enabled",
        http_protocol_ipv6=r.choice(m.get("httpProtocolIPv6"), f"{path}.httpProtocolIPv6",
                                    _ENABLED) or "disabled",
        http_put_response_hop_limit=hop or 1,
        http_tokens="required",
    )


def parse_ec2_node_class(obj: Any, file: str = "") -> NodeClass:
    """A `karpenter.k8s.aws/v1` EC2NodeClass as a NodeClass; UserError on any mistake."""
    if not isinstance(obj, Mapping):
        raise UserError("expected an EC2NodeClass mapping", file=file or None)
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    r = _Reader(file, f"{KIND} {name or '?'}")
    if not isinstance(name, str) or not name:
        raise r.fail("metadata.name", "required field is missing")
    api = obj.get("apiVersion")
    if api != f"{API_GROUP}/v1" or obj.get("kind") != KIND:
        raise r.fail("apiVersion", f"expected {API_GROUP}/v1 {KIND}, got {api} {obj.get('kind')}")
    # The policy model first: the same checks `scaler policies validate` and the simulation
    # make, so the adapter never accepts or refuses what they do not.
    model = validate_object(policy_nc.EC2NodeClass, obj, file=file, locate=None)
    for problem in policy_nc.semantic_errors(model):
        raise located_error(problem.message, file=file, obj=f"{KIND} {name}",
                            path=problem.path, locate=None)
    spec = r.mapping(obj.get("spec"), "spec")
    role = r.string(spec.get("role"), "spec.role")
    profile = r.string(spec.get("instanceProfile"), "spec.instanceProfile")
    if (role is None) == (profile is None):
        raise r.fail("spec", "exactly one of role and instanceProfile is required")
    tags = r.tags(spec.get("tags"), "spec.tags")
    for key in tags:
        if key.startswith(RESTRICTED_TAG_PREFIXES):
            raise r.fail(f"spec.tags.{key}", "this tag is set by scaler and cannot be overridden")
    return NodeClass(
        name=name,
        subnet_terms=_terms(r, spec.get("subnetSelectorTerms"), "spec.subnetSelectorTerms",
                            ("id", "tags")),
        security_group_terms=_terms(r, spec.get("securityGroupSelectorTerms"),
                                    "spec.securityGroupSelectorTerms", ("id", "name", "tags")),
        ami_terms=_terms(r, spec.get("amiSelectorTerms"), "spec.amiSelectorTerms",
                         ("id", "name", "owner", "alias", "tags")),
        role=role,
        instance_profile=profile,
        user_data=r.string(spec.get("userData"), "spec.userData"),
        block_devices=_block_devices(r, spec.get("blockDeviceMappings")),
        metadata_options=_metadata_options(r, spec.get("metadataOptions")),
        tags=tags,
        source=file,
        detailed_monitoring=model.spec.detailed_monitoring,
        associate_public_ip=model.spec.associate_public_ip_address,
        ip_prefix_count=model.spec.ip_prefix_count,
        context=model.spec.context,
        kubelet=(model.spec.kubelet.model_dump(by_alias=True, exclude_none=True)
                 if model.spec.kubelet else {}),
        ami_family=policy_nc.ami_family(model),
    )


def node_classes_from_documents(docs: Iterable[tuple[str, Any]]) -> NodeClassSet:
    """EC2NodeClasses and NodePool nodeClassRefs from (file, object) pairs; others ignored."""
    classes: dict[str, NodeClass] = {}
    refs: dict[str, str] = {}
    for file, obj in docs:
        if not isinstance(obj, Mapping):
            continue
        if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
            inner = node_classes_from_documents((file, o) for o in obj["items"])
            classes.update(inner.classes)
            refs.update(inner.pool_refs)
            continue
        api = str(obj.get("apiVersion", ""))
        if obj.get("kind") == KIND and api.startswith(API_GROUP + "/"):
            nc = parse_ec2_node_class(obj, file)
            if nc.name in classes:
                raise UserError("duplicate EC2NodeClass name", file=file, obj=f"{KIND} {nc.name}",
                                field="metadata.name")
            classes[nc.name] = nc
        elif obj.get("kind") == "NodePool" and api.startswith("karpenter.sh/"):
            pool = obj.get("metadata", {}).get("name")
            ref = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                "nodeClassRef") or {}
            if isinstance(pool, str) and isinstance(ref, Mapping) and ref.get("kind") == KIND:
                refs[pool] = str(ref.get("name"))
    return NodeClassSet(classes, refs)


def load_node_classes(path: str | Path) -> NodeClassSet:
    """Every EC2NodeClass (and NodePool nodeClassRef) under a policy directory or file."""
    root = Path(path)
    files = (
        sorted(
            Path(d) / f
            for d, _, fs in os.walk(root)
            for f in fs
            if f.endswith((".yaml", ".yml")) and not f.startswith(".")
        )
        if root.is_dir()
        else [root]
    )
    docs: list[tuple[str, Any]] = []
    for f in files:
        docs.extend((str(f), d) for d, _ in yaml_documents(read_text(f, str(f)), str(f)))
    return node_classes_from_documents(docs)


# --- resolution ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    zone: str
    free_ips: int


@dataclass(frozen=True, slots=True)
class Image:
    id: str
    arch: str  # amd64 | arm64
    name: str
    created: str


@dataclass(frozen=True, slots=True)
class ResolvedNodeClass:
    """What a NodeClass selects right now."""

    node_class: NodeClass
    subnets: tuple[Subnet, ...]  # all selected
    security_groups: tuple[str, ...]  # sorted ids
    images: Mapping[str, Image]  # arch -> newest selected AMI
    all_image_ids: frozenset[str]
    instance_profile: str

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(sorted({s.zone for s in self.subnets}))

    def subnet_for(self, zone: str) -> Subnet | None:
        """The zone's subnet with the most free addresses (Karpenter's choice)."""
        best: Subnet | None = None
        for s in self.subnets:
            if s.zone == zone and (best is None or s.free_ips > best.free_ips):
                best = s
        return best


def _tag_filters(tags: Mapping[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for k, v in tags.items():
        if v == "*":
            out.append({"Name": "tag-key", "Values": [k]})
        else:
            out.append({"Name": f"tag:{k}", "Values": [v]})
    return out


def _paged(ec2_call: Any, key: str, backoff: retry.Backoff, what: str,
           **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        args = dict(kwargs)
        if token:
            args["NextToken"] = token
        page = retry.call(lambda a=args: ec2_call(**a), what=what, backoff=backoff,  # type: ignore[misc]
                          retry_on=retry.is_transient)
        out.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token:
            return out


def _subnets(ec2: Any, nc: NodeClass, backoff: retry.Backoff) -> tuple[Subnet, ...]:
    found: dict[str, Subnet] = {}
    for term in nc.subnet_terms:
        if term.id:
            kwargs: dict[str, Any] = {"SubnetIds": [term.id]}
        else:
            kwargs = {"Filters": _tag_filters(term.tags)}
        for s in _paged(ec2.describe_subnets, "Subnets", backoff, "DescribeSubnets", **kwargs):
            found[s["SubnetId"]] = Subnet(
                s["SubnetId"], s["AvailabilityZone"], int(s.get("AvailableIpAddressCount", 0))
            )
    return tuple(sorted(found.values(), key=lambda s: (s.zone, s.id)))


def _security_groups(ec2: Any, nc: NodeClass, backoff: retry.Backoff) -> tuple[str, ...]:
    found: set[str] = set()
    for term in nc.security_group_terms:
        if term.id:
            kwargs: dict[str, Any] = {"GroupIds": [term.id]}
        else:
            filters = _tag_filters(term.tags)
            if term.name:
                filters.append({"Name": "group-name", "Values": [term.name]})
            kwargs = {"Filters": filters}
        groups = _paged(ec2.describe_security_groups, "SecurityGroups", backoff,
                        "DescribeSecurityGroups", **kwargs)
        found.update(g["GroupId"] for g in groups)
    return tuple(sorted(found))


def _alias_image_ids(ssm: Callable[[], Any], alias: str, k8s: str | None, backoff: retry.Backoff,
                     where: str) -> list[str]:
    family, version = alias.split("@", 1)
    if family != "al2023" or version != "latest":
        raise UserError(f"alias {alias!r} is not supported yet (al2023@latest is; "
                        "or select AMIs by id, name or tags)", obj=where,
                        field="spec.amiSelectorTerms[0].alias")
    if not k8s:
        raise UserError("alias al2023@latest needs the cluster's Kubernetes version "
                        "(kubernetesVersion in the AWS settings)", obj=where,
                        field="spec.amiSelectorTerms[0].alias")
    ids: list[str] = []
    for ec2_arch in EC2_ARCH.values():
        name = AL2023_PARAMETER.format(k8s=k8s, arch=ec2_arch)
        try:
            value = retry.call(lambda n=name: ssm().get_parameter(Name=n),  # type: ignore[misc]
                               what="GetParameter", backoff=backoff,
                               retry_on=retry.is_transient)
        except Exception as e:
            if retry.error_code(e) == "ParameterNotFound":
                continue
            raise
        ids.append(value["Parameter"]["Value"])
    return ids


def _images(ec2: Any, ssm: Callable[[], Any], nc: NodeClass, k8s: str | None,
            backoff: retry.Backoff) -> list[Image]:
    found: dict[str, Image] = {}
    for term in nc.ami_terms:
        kwargs: dict[str, Any]
        if term.alias:
            ids = _alias_image_ids(ssm, term.alias, k8s, backoff, f"{KIND} {nc.name}")
            if not ids:
                continue
            kwargs = {"ImageIds": ids}
        elif term.id:
            kwargs = {"ImageIds": [term.id]}
        else:
            filters = _tag_filters(term.tags)
            if term.name:
                filters.append({"Name": "name", "Values": [term.name]})
            kwargs = {"Filters": filters}
            if term.owner:
                kwargs["Owners"] = [term.owner]
            elif term.name:
                kwargs["Owners"] = ["self", "amazon"]  # Karpenter's default for a bare name
        for img in _paged(ec2.describe_images, "Images", backoff, "DescribeImages", **kwargs):
            arch = ARCHES.get(str(img.get("Architecture")))
            if arch is None or img.get("State", "available") != "available":
                continue
            found[img["ImageId"]] = Image(img["ImageId"], arch, str(img.get("Name", "")),
                                          str(img.get("CreationDate", "")))
    return list(found.values())


def instance_profile_name(cluster: str, role: str) -> str:
    """The instance profile scaler manages for a role (IAM names: up to 128 characters)."""
    digest = hashlib.sha256(f"{cluster}/{role}".encode()).hexdigest()[:16]
    return f"{cluster[:100]}_{digest}"


def ensure_instance_profile(iam: Any, cluster: str, role: str, backoff: retry.Backoff) -> str:
    """An instance profile holding `role`, made (and tagged for the cluster) if missing."""
    name = instance_profile_name(cluster, role)

    def call(what: str, fn: Any, **kwargs: Any) -> Any:
        return retry.call(lambda: fn(**kwargs), what=what, backoff=backoff,
                          retry_on=retry.is_transient)

    try:
        profile = call("GetInstanceProfile", iam.get_instance_profile,
                       InstanceProfileName=name)["InstanceProfile"]
    except Exception as e:
        if retry.error_code(e) != "NoSuchEntity":
            raise
        tags = [{"Key": k, "Value": v} for k, v in cluster_tags(cluster).items()]
        try:
            profile = call("CreateInstanceProfile", iam.create_instance_profile,
                           InstanceProfileName=name, Tags=tags)["InstanceProfile"]
        except Exception as e2:
            if retry.error_code(e2) != "EntityAlreadyExists":
                raise
            profile = call("GetInstanceProfile", iam.get_instance_profile,
                           InstanceProfileName=name)["InstanceProfile"]
    roles = [r["RoleName"] for r in profile.get("Roles", [])]
    if roles != [role]:
        for old in roles:
            call("RemoveRoleFromInstanceProfile", iam.remove_role_from_instance_profile,
                 InstanceProfileName=name, RoleName=old)
        call("AddRoleToInstanceProfile", iam.add_role_to_instance_profile,
             InstanceProfileName=name, RoleName=role)
    return name


def resolve(nc: NodeClass, *, ec2: Any, ssm: Callable[[], Any], iam: Callable[[], Any],
            cluster: str,
            kubernetes_version: str | None, backoff: retry.Backoff) -> ResolvedNodeClass:
    """What the NodeClass selects now; CloudError when a selector matches nothing.

    `ssm` and `iam` give their clients only when needed (an alias; a role).
    """
    subnets = _subnets(ec2, nc, backoff)
    if not subnets:
        raise CloudError(f"{KIND} {nc.name}: spec.subnetSelectorTerms select no subnet")
    groups = _security_groups(ec2, nc, backoff)
    if not groups:
        raise CloudError(f"{KIND} {nc.name}: spec.securityGroupSelectorTerms select no "
                         "security group")
    images = _images(ec2, ssm, nc, kubernetes_version, backoff)
    if not images:
        raise CloudError(f"{KIND} {nc.name}: spec.amiSelectorTerms select no available AMI")
    newest: dict[str, Image] = {}
    for img in sorted(images, key=lambda i: (i.created, i.id)):
        newest[img.arch] = img
    profile = nc.instance_profile or ensure_instance_profile(iam(), cluster, nc.role or "",
                                                              backoff)
    return ResolvedNodeClass(
        node_class=nc,
        subnets=subnets,
        security_groups=groups,
        images=newest,
        all_image_ids=frozenset(i.id for i in images),
        instance_profile=profile,
    )


# --- launch template -----------------------------------------------------------------------


def static_hash(nc: NodeClass) -> str:
    """A digest of the fields that only a new instance can pick up (Karpenter's static drift:
    user data, block devices, metadata options, tags, role or instance profile)."""
    doc = {
        "userData": nc.user_data,
        "blockDevices": [repr(b) for b in nc.block_devices],
        "metadata": repr(nc.metadata_options),
        "tags": sorted(nc.tags.items()),
        "role": nc.role,
        "instanceProfile": nc.instance_profile,
        "launch": [nc.detailed_monitoring, nc.associate_public_ip, nc.ip_prefix_count,
                   sorted(nc.kubelet.items(), key=str)],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _ebs(b: BlockDevice) -> dict[str, Any]:
    ebs: dict[str, Any] = {"DeleteOnTermination": b.delete_on_termination}
    if b.volume_size_gib is not None:
        ebs["VolumeSize"] = b.volume_size_gib
    if b.volume_type:
        ebs["VolumeType"] = b.volume_type
    if b.iops is not None:
        ebs["Iops"] = b.iops
    if b.throughput is not None:
        ebs["Throughput"] = b.throughput
    if b.encrypted is not None:
        ebs["Encrypted"] = b.encrypted
    if b.kms_key_id:
        ebs["KmsKeyId"] = b.kms_key_id
    if b.snapshot_id:
        ebs["SnapshotId"] = b.snapshot_id
    return ebs


def launch_template_data(resolved: ResolvedNodeClass, arch: str, cluster: str) -> dict[str, Any]:
    """CreateLaunchTemplate's LaunchTemplateData for the NodeClass's AMI of one arch."""
    nc = resolved.node_class
    mo = nc.metadata_options
    data: dict[str, Any] = {
        "ImageId": resolved.images[arch].id,
        "IamInstanceProfile": {"Name": resolved.instance_profile},
        "SecurityGroupIds": list(resolved.security_groups),
        "MetadataOptions": {
            "HttpEndpoint": mo.http_endpoint,
            "HttpProtocolIpv6": mo.http_protocol_ipv6,
            "HttpPutResponseHopLimit": mo.http_put_response_hop_limit,
            "HttpTokens": "required",  # IMDSv2, whatever the NodeClass says (it can't say less)
        },
    }
    if nc.block_devices:
        data["BlockDeviceMappings"] = [
            {"DeviceName": b.device_name, "Ebs": _ebs(b)} for b in nc.block_devices
        ]
    if nc.detailed_monitoring is not None:
        data["Monitoring"] = {"Enabled": nc.detailed_monitoring}
    if nc.associate_public_ip is not None or nc.ip_prefix_count is not None:
        # EC2 takes security groups on the interface when the template describes one.
        interface: dict[str, Any] = {"DeviceIndex": 0,
                                     "Groups": data.pop("SecurityGroupIds")}
        if nc.associate_public_ip is not None:
            interface["AssociatePublicIpAddress"] = nc.associate_public_ip
        if nc.ip_prefix_count is not None:
            interface["Ipv4PrefixCount"] = nc.ip_prefix_count
        data["NetworkInterfaces"] = [interface]
    user_data = with_kubelet(nc.user_data, nc.kubelet) if nc.kubelet else nc.user_data
    if user_data:
        data["UserData"] = base64.b64encode(user_data.encode()).decode()
    tags = [{"Key": k, "Value": v} for k, v in {**nc.tags, **cluster_tags(cluster)}.items()]
    data["TagSpecifications"] = [{"ResourceType": "volume", "Tags": tags}]
    return data


MIME_BOUNDARY = "//scaler//"
NODEADM_CONTENT_TYPE = "application/node.eks.aws"


def with_kubelet(user_data: str | None, kubelet: Mapping[str, Any]) -> str:
    """User data with a nodeadm NodeConfig part carrying the kubelet settings (AL2023), as
    Karpenter merges them; the user's own user data follows as its own part."""
    config = {"apiVersion": "node.eks.aws/v1alpha1", "kind": "NodeConfig",
              "spec": {"kubelet": {"config": dict(kubelet)}}}
    parts = [f"Content-Type: {NODEADM_CONTENT_TYPE}\n\n"
             + yaml.safe_dump(config, sort_keys=True)]
    if user_data:
        kind = ("text/x-shellscript" if user_data.startswith("#!")
                else NODEADM_CONTENT_TYPE if "NodeConfig" in user_data else "text/plain")
        parts.append(f"Content-Type: {kind}\n\n{user_data}")
    body = "".join(f"--{MIME_BOUNDARY}\n{p.rstrip()}\n\n" for p in parts)
    return (f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{MIME_BOUNDARY}"\n\n'
            f"{body}--{MIME_BOUNDARY}--\n")


def template_name(cluster: str, nc: NodeClass, data: Mapping[str, Any]) -> str:
    """Named by content, so a changed NodeClass gets a new template and old launches keep
    theirs. Launch template names allow letters, digits and ()./_- (3-128 characters)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return f"scaler/{cluster[:60]}/{nc.name[:40]}/{digest}"


def ensure_launch_template(ec2: Any, name: str, data: Mapping[str, Any], tags: Mapping[str, str],
                           backoff: retry.Backoff) -> str:
    """The id of the launch template called `name`, creating it if missing."""
    def describe() -> str | None:
        try:
            found = retry.call(
                lambda: ec2.describe_launch_templates(LaunchTemplateNames=[name]),
                what="DescribeLaunchTemplates", backoff=backoff, retry_on=retry.is_transient,
            )
        except Exception as e:
            if retry.error_code(e) in ("InvalidLaunchTemplateName.NotFoundException",
                                       "InvalidLaunchTemplateId.NotFound"):
                return None
            raise
        templates = found.get("LaunchTemplates", [])
        return str(templates[0]["LaunchTemplateId"]) if templates else None

    existing = describe()
    if existing:
        return existing
    try:
        made = retry.call(
            lambda: ec2.create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData=dict(data),
                TagSpecifications=[{
                    "ResourceType": "launch-template",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }],
            ),
            what="CreateLaunchTemplate", backoff=backoff,
        )
    except Exception as e:
        if retry.error_code(e) == "InvalidLaunchTemplateName.AlreadyExistsException":
            again = describe()
            if again:
                return again
        raise
    log.info("created launch template %s", name)
    return str(made["LaunchTemplate"]["LaunchTemplateId"])

"""Every policy kind scaler reads, with what the schema and CRD generators need to know.

Karpenter's kinds (NodePool, EC2NodeClass) are read as Karpenter defines them; their CRDs
come with Karpenter, so scaler ships only a JSON Schema for them (for editors and CI).
scaler's own kinds (`scaler.dev/v1alpha1`) get a JSON Schema and a CRD, so Flux or Argo CD
can apply the same files to a cluster that scaler reads from Git.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

from scaler.policy import costallocation, ec2nodeclass, extensions, rightsizing
from scaler.policy.common import SCALER_GROUP, SCALER_VERSION
from scaler.policy.nodepool import API_GROUP as KARPENTER_GROUP
from scaler.policy.nodepool import KarpenterNodePool


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: str
    description: str = ""


@dataclass(frozen=True)
class PolicyKind:
    group: str
    version: str
    kind: str
    plural: str
    model: type[BaseModel]
    description: str
    crd: bool  # scaler ships the CRD (its own kinds only)
    short_names: tuple[str, ...] = ()
    columns: tuple[PrinterColumn, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def singular(self) -> str:
        return self.kind.lower()


NODE_POOL = PolicyKind(
    group=KARPENTER_GROUP,
    version="v1",
    kind="NodePool",
    plural="nodepools",
    model=KarpenterNodePool,
    description=(
        "Karpenter's NodePool, as scaler reads it: which instance types, capacity types, zones "
        "and architectures new nodes may have, their labels, taints, limits and weight."
    ),
    crd=False,
)
EC2_NODE_CLASS = PolicyKind(
    group=ec2nodeclass.API_GROUP,
    version="v1",
    kind=ec2nodeclass.KIND,
    plural="ec2nodeclasses",
    model=ec2nodeclass.EC2NodeClass,
    description=(
        "Karpenter's AWS node class (AMI, IAM role, subnets, security groups, disks). scaler "
        "checks and keeps it but does not act on its fields yet."
    ),
    crd=False,
)
NODE_POOL_POLICY = PolicyKind(
    group=SCALER_GROUP,
    version=SCALER_VERSION,
    kind=extensions.KIND,
    plural="nodepoolpolicies",
    model=extensions.NodePoolPolicy,
    description=(
        "scaler's extensions to one Karpenter NodePool: a spot interruption-band cap, a minimum "
        "on-demand share and an architecture preference."
    ),
    crd=True,
    short_names=("npp",),
    columns=(
        PrinterColumn("NodePool", "string", ".spec.nodePoolRef.name", "The NodePool extended"),
        PrinterColumn("MaxBand", "string", ".spec.spot.maxInterruptionBand"),
        PrinterColumn("OnDemand%", "number", ".spec.onDemandShare.minPercent"),
        PrinterColumn("Prefer", "string", ".spec.architecture.prefer"),
    ),
)
RIGHT_SIZING_POLICY = PolicyKind(
    group=SCALER_GROUP,
    version=SCALER_VERSION,
    kind=rightsizing.KIND,
    plural="rightsizingpolicies",
    model=rightsizing.RightSizingPolicy,
    description=(
        "How scaler recommends (and later sets) the requests of the workloads a selector picks."
    ),
    crd=True,
    short_names=("rsp",),
    columns=(
        PrinterColumn("Mode", "string", ".spec.mode"),
        PrinterColumn("Window", "string", ".spec.window"),
        PrinterColumn("Priority", "integer", ".spec.priority"),
    ),
)
COST_ALLOCATION_POLICY = PolicyKind(
    group=SCALER_GROUP,
    version=SCALER_VERSION,
    kind=costallocation.KIND,
    plural="costallocationpolicies",
    model=costallocation.CostAllocationPolicy,
    description=(
        "How scaler splits the cluster's cost over teams: team mapping, shared namespaces and "
        "costs, idle capacity, and pricing adjustments (discounts, Savings Plans, RIs)."
    ),
    crd=True,
    short_names=("cap",),
    columns=(PrinterColumn("Idle", "string", ".spec.idle.handling"),),
)

KINDS: tuple[PolicyKind, ...] = (
    NODE_POOL,
    EC2_NODE_CLASS,
    NODE_POOL_POLICY,
    RIGHT_SIZING_POLICY,
    COST_ALLOCATION_POLICY,
)
BY_GROUP_KIND: Mapping[tuple[str, str], PolicyKind] = {(k.group, k.kind): k for k in KINDS}
SCALER_KINDS: tuple[PolicyKind, ...] = tuple(k for k in KINDS if k.group == SCALER_GROUP)

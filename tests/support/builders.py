"""Builders for the core's values (instance types, NodePools, pods and nodes) and for the
manifests they are read from, as small as a test needs them. One place, so that every test
speaks of the same hand-made catalog and the same objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pricing import InstanceType, Offering
from scaler.core.model import (
    DaemonSet,
    Node,
    NodePool,
    NodeSelectorTerm,
    Pod,
    Scheduling,
    Taint,
    Toleration,
)
from scaler.core.requirements import Requirement, Requirements
from scaler.core.resources import Resources
from scaler.core.scheduling.instancetypes import InstanceTypeTable
from scaler.core.scheduling.scheduler import Scheduler, SchedulingResult
from scaler.policy.nodepool import parse_node_pool

GI = 1024**3


def itype(name: str, cpu: int, mem_gib: int, *, arch: str = "amd64", pods: int = 110,
          od: float | None = None, spot: float | None = None, gpu: int = 0) -> InstanceType:
    od = od if od is not None else 0.05 * cpu + 0.005 * mem_gib
    offers = [Offering(z, "on-demand", od, False, None, None) for z in ("z-a", "z-b")]
    if spot is not None:
        offers += [Offering(z, "spot", spot, True, "<5%", 5) for z in ("z-a", "z-b")]
    alloc = {"cpu": cpu * 1000, "memory": mem_gib * GI, "pods": pods,
             "ephemeral-storage": 17 * GI}
    if gpu:
        alloc["nvidia.com/gpu"] = gpu
    labels = {"node.kubernetes.io/instance-type": name, "kubernetes.io/arch": arch,
              "kubernetes.io/os": "linux",
              "karpenter.k8s.aws/instance-family": name.split(".")[0]}
    return InstanceType(name, arch, cpu, mem_gib * 1024, False, labels, alloc, alloc,
                        tuple(offers), pods)


TYPES = [
    itype("m.large", 2, 8, od=0.10, spot=0.04),
    itype("m.xlarge", 4, 16, od=0.20, spot=0.08),
    itype("m.4xlarge", 16, 64, od=0.80, spot=0.30),
    itype("g.large", 2, 8, arch="arm64", od=0.08, spot=0.03),
    itype("g.4xlarge", 16, 64, arch="arm64", od=0.64, spot=0.25),
    itype("p.2xlarge", 8, 32, od=1.50, gpu=1),
]


def req(key: str, op: str, *values: str) -> Requirement:
    return Requirement.of(key, op, values)


def pool(name: str = "default", *reqs: Requirement, weight: int = 0,
         taints: Sequence[Taint] = (), limits: dict[str, int] | None = None) -> NodePool:
    base = [req("karpenter.sh/nodepool", "In", name), *reqs]
    return NodePool(name, Requirements(base), taints=tuple(taints), weight=weight, limits=limits)


def pod(name: str, cpu: str = "500m", mem: str = "1Gi", *, selector: dict[str, str] | None = None,
        terms: Sequence[Sequence[Requirement]] = (), tolerations: Sequence[Toleration] = (),
        node: str | None = None, priority: int = 0, extra: dict[str, str] | None = None,
        owner: tuple[str, str] | None = None) -> Pod:
    """A pod in `default`; `owner` is its controller's (kind, name)."""
    sched = Scheduling(
        Requirements.from_labels(selector or {}),
        tuple(NodeSelectorTerm(Requirements(t)) for t in terms),
        tuple(tolerations),
    )
    requests = Resources.parse({"cpu": cpu, "memory": mem, **(extra or {})})
    kind, owner_name = owner or (None, None)
    return Pod("default", name, requests, sched, node_name=node, priority=priority,
               owner_kind=kind, owner_name=owner_name)


def solve(pods: Sequence[Pod], pools: Sequence[NodePool] = (), nodes: Sequence[Node] = (),
          daemonsets: Sequence[DaemonSet] = (), types: Sequence[InstanceType] = TYPES
          ) -> SchedulingResult:
    bound = [p for p in pods if p.node_name]
    pending = [p for p in pods if not p.node_name]
    s = Scheduler(InstanceTypeTable(types), list(pools) or [pool()], nodes, bound, daemonsets)
    return s.solve(pending)


BY_NAME = {t.name: t for t in TYPES}


def node(name: str, itype: str = "m.xlarge", ct: str = "on-demand", pool_name: str = "default",
         *, zone: str = "z-a", dnd: bool = False, created: float | None = None,
         labels: Mapping[str, str] | None = None) -> Node:
    """A node of one of TYPES, labelled as the scheduler and Karpenter label theirs."""
    t = BY_NAME[itype]
    return Node(name, {**t.labels, "topology.kubernetes.io/zone": zone,
                       "karpenter.sh/capacity-type": ct, "karpenter.sh/nodepool": pool_name,
                       "kubernetes.io/hostname": name, **(labels or {})},
                Resources(dict(t.allocatable)), do_not_disrupt=dnd, created=created)


# Manifests: the same objects as the API server, snapshot files and policy bundles hold them.

def pod_manifest(name: str, node: str | None = None, cpu: str = "250m", ns: str = "default",
                 labels: dict[str, str] | None = None, owner: str | None = None,
                 containers: Sequence[dict[str, Any]] | None = None,
                 annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Pod: one container asking `cpu` and 256Mi unless `containers` are given; `owner` is
    "Kind/name" (its controller); Running when bound to `node`, else Pending."""
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels or {}}
    if annotations:
        meta["annotations"] = dict(annotations)
    if owner:
        kind, owner_name = owner.split("/")
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": kind, "name": owner_name,
                                    "uid": "u", "controller": True}]
    if containers is None:
        containers = [{"name": "c", "image": "x",
                       "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]
    spec: dict[str, Any] = {"containers": list(containers)}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec,
            "status": {"phase": "Running" if node else "Pending"}}


def container_manifest(name: str, cpu: str, memory: str) -> dict[str, Any]:
    """A container asking `cpu` and `memory`, limited to that memory."""
    return {"name": name, "image": "x",
            "resources": {"requests": {"cpu": cpu, "memory": memory},
                          "limits": {"memory": memory}}}


def node_manifest(name: str, provider_id: str = "", ready: bool = True,
                  labels: Mapping[str, str] | None = None,
                  allocatable: Mapping[str, str] | None = None,
                  annotations: Mapping[str, str] | None = None,
                  created: str | None = None) -> dict[str, Any]:
    """A Node as the kubelet registers it: its hostname label, 2 CPUs and 8Gi unless
    `allocatable` says otherwise, and a Ready condition; `created` its creationTimestamp."""
    meta: dict[str, Any] = {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                     **(labels or {})}}
    if annotations:
        meta["annotations"] = dict(annotations)
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta,
            "spec": {"providerID": provider_id} if provider_id else {},
            "status": {"allocatable": dict(allocatable or {"cpu": "2", "memory": "8Gi",
                                                            "pods": "110"}),
                       "conditions": [{"type": "Ready",
                                       "status": "True" if ready else "False"}]}}


def requirement_in(key: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": list(values)}


def nodepool_manifest(requirements: list[dict[str, Any]], name: str = "default"
                      ) -> dict[str, Any]:
    """A Karpenter NodePool on the EC2NodeClass `default`."""
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass",
                             "name": "default"},
            "requirements": requirements,
        }}},
    }


def karpenter_pool(requirements: list[dict[str, Any]], name: str = "default") -> NodePool:
    """The NodePool scaler reads from nodepool_manifest(requirements, name)."""
    return parse_node_pool(nodepool_manifest(requirements, name), file="nodepool.yaml")

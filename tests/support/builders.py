"""Builders for the core's values: instance types, NodePools, pods and nodes, as small as a
test needs them. One place, so that every test speaks of the same hand-made catalog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
        node: str | None = None, priority: int = 0, extra: dict[str, str] | None = None) -> Pod:
    sched = Scheduling(
        Requirements.from_labels(selector or {}),
        tuple(NodeSelectorTerm(Requirements(t)) for t in terms),
        tuple(tolerations),
    )
    requests = Resources.parse({"cpu": cpu, "memory": mem, **(extra or {})})
    return Pod("default", name, requests, sched, node_name=node, priority=priority)


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

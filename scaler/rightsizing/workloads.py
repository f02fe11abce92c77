"""Workloads, their containers' requests and limits, and HPAs, from Kubernetes manifests.

Reads the same inputs as the snapshot reader (kubectl output or a Git checkout of manifests).
Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs not owned by another controller,
and CronJobs, are workloads; a Pod whose controller is not in the inputs stands for it
(a ReplicaSet `web-7c5d8f9b6` for Deployment `web`, a Job `nightly-28999` for CronJob
`nightly`), with the containers of its first pod. Init containers are left out (as KRR does).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.core.quantity import QuantityError, parse_quantity
from scaler.core.rightsizing import CurrentResources, HpaTarget
from scaler.errors import UserError
from scaler.snapshot.documents import RawObject, input_files, read_objects
from scaler.snapshot.fields import Fields, join
from scaler.snapshot.objects import controller_owner, fields_of, require_name

DEPLOYMENT = "Deployment"
STATEFUL_SET = "StatefulSet"
DAEMON_SET = "DaemonSet"
REPLICA_SET = "ReplicaSet"
JOB = "Job"
CRON_JOB = "CronJob"
POD = "Pod"
HPA = "HorizontalPodAutoscaler"
ROLLOUT = "Rollout"  # Argo Rollouts, as KRR reads them
WORKLOAD_KINDS = (DEPLOYMENT, STATEFUL_SET, DAEMON_SET, REPLICA_SET, JOB, CRON_JOB, ROLLOUT)
API_VERSIONS = {
    ROLLOUT: "argoproj.io/v1alpha1",
    DEPLOYMENT: "apps/v1",
    STATEFUL_SET: "apps/v1",
    DAEMON_SET: "apps/v1",
    REPLICA_SET: "apps/v1",
    JOB: "batch/v1",
    CRON_JOB: "batch/v1",
}
# Where the pod template's containers are, per kind.
CONTAINERS_PATH: Mapping[str, tuple[str, ...]] = {
    CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec", "containers"),
    **{k: ("spec", "template", "spec", "containers") for k in WORKLOAD_KINDS if k != CRON_JOB},
}
_HASH = re.compile(r"^(?P<base>.+)-[a-z0-9]{6,10}$")  # pod-template-hash suffix
_CRON_JOB_RUN = re.compile(r"^(?P<base>.+)-\d{6,}$")  # CronJob runs: <name>-<minutes>


def parent_by_name(kind: str, name: str) -> tuple[str, str] | None:
    """The Deployment (CronJob) a ReplicaSet (Job) belongs to, read from its generated name,
    for when the ReplicaSet or Job itself is not among the inputs."""
    if kind not in (REPLICA_SET, JOB):
        return None
    m = (_HASH if kind == REPLICA_SET else _CRON_JOB_RUN).match(name)
    if m is None:
        return None
    return (DEPLOYMENT if kind == REPLICA_SET else CRON_JOB), m.group("base")
# Pod names each controller gives its pods, after the controller's name.
POD_NAME_PATTERNS: Mapping[str, str] = {
    DEPLOYMENT: r"-[a-z0-9]{6,10}-[a-z0-9]{5}",
    ROLLOUT: r"-[a-z0-9]{6,10}-[a-z0-9]{5}",
    STATEFUL_SET: r"-\d+",
    DAEMON_SET: r"-[a-z0-9]{5}",
    REPLICA_SET: r"-[a-z0-9]{5}",
    JOB: r"-[a-z0-9]{5}",
    CRON_JOB: r"-\d{6,}-[a-z0-9]{5}",
}


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    current: CurrentResources
    index: int  # position in the template's containers


@dataclass(frozen=True, slots=True)
class Workload:
    kind: str
    namespace: str
    name: str
    replicas: int
    containers: tuple[ContainerSpec, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    file: str = ""  # the manifest it came from ("" when only its pods were seen)
    api_version: str = ""
    pods: tuple[str, ...] = ()  # its pods in the inputs
    hpas: tuple[HpaTarget, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def from_manifest(self) -> bool:
        return bool(self.file)


def _quantity(f: Fields, value: object, path: str, resource: str) -> float | None:
    if value is None:
        return None
    try:
        return float(parse_quantity(value))  # type: ignore[arg-type]
    except QuantityError as err:
        raise f.error(path, err.for_resource(resource).message) from None


def _current(f: Fields, c: Mapping[str, Any], path: str) -> CurrentResources:
    res = f.mapping(c.get("resources"), join(path, "resources"))
    req = f.mapping(res.get("requests"), join(path, "resources.requests"))
    lim = f.mapping(res.get("limits"), join(path, "resources.limits"))
    rp, lp = join(path, "resources.requests"), join(path, "resources.limits")
    cpu_l = _quantity(f, lim.get("cpu"), join(lp, "cpu"), "cpu")
    mem_l = _quantity(f, lim.get("memory"), join(lp, "memory"), "memory")
    # A limit without a request is also the request (API server defaulting).
    cpu_r = _quantity(f, req.get("cpu"), join(rp, "cpu"), "cpu")
    mem_r = _quantity(f, req.get("memory"), join(rp, "memory"), "memory")
    return CurrentResources(
        cpu_request=cpu_r if cpu_r is not None else cpu_l,
        cpu_limit=cpu_l,
        memory_request=mem_r if mem_r is not None else mem_l,
        memory_limit=mem_l,
    )


def _containers(
    f: Fields, spec_path: Sequence[str], body: Mapping[str, Any]
) -> tuple[ContainerSpec, ...]:
    node: Any = body
    walked: list[str] = []
    for key in spec_path:
        walked.append(key)
        if key == "containers":
            break
        node = f.mapping(node.get(key), ".".join(walked))
    path = ".".join(spec_path)
    out = []
    for i, c in enumerate(f.sequence(node.get("containers"), path)):
        cp = f"{path}[{i}]"
        c = f.mapping(c, cp)
        name = f.required_string(c.get("name"), join(cp, "name"))
        out.append(ContainerSpec(name, _current(f, c, cp), i))
    return tuple(out)


def _replicas(f: Fields, obj: RawObject) -> int:
    spec = f.mapping(obj.body.get("spec"), "spec")
    if obj.kind in (DEPLOYMENT, STATEFUL_SET, REPLICA_SET, ROLLOUT):
        return f.count(spec.get("replicas"), "spec.replicas", 1)
    if obj.kind == JOB:
        return f.count(spec.get("parallelism"), "spec.parallelism", 1)
    return 1  # DaemonSets: one per node, counted from pods when seen; CronJobs: one run


@dataclass
class _Builder:
    workloads: dict[tuple[str, str, str], Workload] = field(default_factory=dict)
    pods: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    inferred: dict[tuple[str, str, str], tuple[ContainerSpec, ...]] = field(default_factory=dict)
    hpas: list[tuple[str, str, str, HpaTarget]] = field(default_factory=list)


def read_workloads(paths: Sequence[str | Path]) -> list[Workload]:
    """Every workload in the inputs, sorted by namespace, kind and name."""
    objects = (obj for file in input_files(paths) for obj in read_objects(file))
    return workloads_of(objects, ", ".join(str(p) for p in paths))


def workloads_of(
    objects: Iterable[RawObject], where: str, *, from_cluster: bool = False
) -> list[Workload]:
    """Every workload among the objects (from manifests, or listed from the API server when
    `from_cluster`: then none has a manifest file to patch)."""
    b = _Builder()
    owners: dict[tuple[str, str, str], tuple[str, str]] = {}  # RS/Job -> its controller
    pods: list[RawObject] = []
    seen: set[tuple[str, str, str]] = set()
    # A Deployment a Rollout's workloadRef names -> (the Rollout, its replicas).
    refs: dict[tuple[str, str, str], tuple[tuple[str, str, str], int]] = {}
    for obj in objects:
        if obj.kind not in (*WORKLOAD_KINDS, POD, HPA):
            continue
        require_name(obj)
        key = (obj.kind, obj.namespace, obj.name)
        if key in seen:
            continue
        seen.add(key)
        f = fields_of(obj)
        if obj.kind == POD:
            pods.append(obj)
            continue
        if obj.kind == HPA:
            _hpa(b, f, obj)
            continue
        owner = controller_owner(f, obj.metadata)
        if owner is not None and obj.kind in (REPLICA_SET, JOB):
            owners[key] = (owner.kind, owner.name)
        meta = obj.metadata
        api = obj.body.get("apiVersion")
        if obj.kind == ROLLOUT:
            if not (isinstance(api, str) and api.startswith("argoproj.io/")):
                continue  # not Argo's Rollout
            ref = _workload_ref(f, obj)
            if ref is not None:
                # The pod template (what a patch changes) is the Deployment's; the Rollout
                # decides how many pods run and owns them.
                refs[(DEPLOYMENT, obj.namespace, ref)] = (key, _replicas(f, obj))
                continue
        b.workloads[key] = Workload(
            kind=obj.kind,
            namespace=obj.namespace,
            name=obj.name,
            replicas=_replicas(f, obj),
            containers=_containers(f, CONTAINERS_PATH[obj.kind], obj.body),
            labels=f.labels(meta.get("labels"), "metadata.labels"),
            file="" if from_cluster else obj.file,
            api_version=api if isinstance(api, str) else API_VERSIONS[obj.kind],
        )
    rollout_of = _adopt_rollouts(b, refs, owners)
    # ReplicaSets and Jobs that another controller in the inputs owns are not workloads.
    # From the API server every controller is listed (unless a selector left it out).
    for key, (kind, name) in owners.items():
        if from_cluster or (kind, key[1], name) in b.workloads:
            del b.workloads[key]
    for obj in pods:
        _pod(b, obj, owners, infer=not from_cluster, rollout_of=rollout_of)
    out = _finished(b)
    if not out:
        raise UserError(
            "no workloads found (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Argo "
            "Rollouts or their Pods)",
            file=where,
        )
    return sorted(out, key=lambda w: (w.namespace, w.kind, w.name))


def _adopt_rollouts(
    b: _Builder,
    refs: dict[tuple[str, str, str], tuple[tuple[str, str, str], int]],
    owners: dict[tuple[str, str, str], tuple[str, str]],
) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    """Each Deployment a Rollout's workloadRef names takes the Rollout's replicas and its
    ReplicaSets; returns Rollout -> the Deployment standing for it."""
    rollout_of: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for dep, (rollout, replicas) in refs.items():
        w = b.workloads.get(dep)
        if w is None:
            _kind, ns, name = rollout
            raise UserError(f"Deployment {ns}/{dep[2]} is not in the inputs (its pod template "
                            "is the Rollout's)", obj=f"Rollout {ns}/{name}",
                            field="spec.workloadRef.name")
        b.workloads[dep] = dataclasses.replace(w, replicas=replicas)
        # The Rollout's ReplicaSets and pods belong to the Deployment's workload.
        for k, (kind, name) in list(owners.items()):
            if (kind, k[1], name) == rollout:
                owners[k] = (DEPLOYMENT, dep[2])
        rollout_of[rollout] = dep
    return rollout_of


def _finished(b: _Builder) -> list[Workload]:
    """The workloads with their pods and HPAs, then the ones inferred from bare pods."""
    out: list[Workload] = []
    for key, w in b.workloads.items():
        names = tuple(sorted(b.pods.get(key, ())))
        replicas = len(names) if w.kind == DAEMON_SET and names else w.replicas
        hpas = tuple(h for k, ns, n, h in b.hpas if (k, ns, n) == key)
        out.append(
            Workload(
                w.kind,
                w.namespace,
                w.name,
                replicas,
                w.containers,
                w.labels,
                w.file,
                w.api_version,
                names,
                hpas,
            )
        )
    for key, containers in b.inferred.items():
        kind, ns, name = key
        names = tuple(sorted(b.pods[key]))
        hpas = tuple(h for k, n2, n, h in b.hpas if (k, n2, n) == key)
        out.append(
            Workload(
                kind, ns, name, len(names), containers, {}, "", API_VERSIONS[kind], names, hpas
            )
        )
    return out


def _workload_ref(f: Fields, obj: RawObject) -> str | None:
    spec = f.mapping(obj.body.get("spec"), "spec")
    ref = f.mapping(spec.get("workloadRef"), "spec.workloadRef")
    name = ref.get("name")
    return name if isinstance(name, str) and name else None


def _pod(
    b: _Builder,
    obj: RawObject,
    owners: Mapping[tuple[str, str, str], tuple[str, str]],
    infer: bool = True,
    rollout_of: Mapping[tuple[str, str, str], tuple[str, str, str]] | None = None,
) -> None:
    f = fields_of(obj)
    owner = controller_owner(f, obj.metadata)
    if owner is None:
        return  # a bare pod: nothing to patch
    kind, name = owner.kind, owner.name
    ns = obj.namespace
    if kind in (REPLICA_SET, JOB):
        parent = owners.get((kind, ns, name))
        if parent is not None:
            kind, name = parent
        elif (kind, ns, name) not in b.workloads:
            # The ReplicaSet (Job) is not in the inputs: name its Deployment (CronJob).
            guessed = parent_by_name(kind, name)
            if guessed is not None:
                kind, name = guessed
                if kind == DEPLOYMENT and (ROLLOUT, ns, name) in b.workloads:
                    kind = ROLLOUT  # a Rollout's ReplicaSets are named the same way
    if rollout_of and (kind, ns, name) in rollout_of:
        kind, _, name = rollout_of[(kind, ns, name)]
    if kind not in WORKLOAD_KINDS:
        return
    key = (kind, ns, name)
    if not infer and key not in b.workloads:
        return  # its controller was not selected
    b.pods.setdefault(key, []).append(obj.name)
    if key not in b.workloads and key not in b.inferred:
        b.inferred[key] = _containers(f, ("spec", "containers"), obj.body)


def _hpa(b: _Builder, f: Fields, obj: RawObject) -> None:
    spec = f.mapping(obj.body.get("spec"), "spec")
    ref = f.mapping(spec.get("scaleTargetRef"), "spec.scaleTargetRef")
    kind = f.string(ref.get("kind"), "spec.scaleTargetRef.kind")
    name = f.string(ref.get("name"), "spec.scaleTargetRef.name")
    key = (kind, obj.namespace, name)
    status = f.mapping(obj.body.get("status"), "status")
    lo = spec.get("minReplicas")
    cur = status.get("currentReplicas")
    lo_n = None if lo is None else f.count(lo, "spec.minReplicas", 1)
    hi_n = f.count(spec.get("maxReplicas"), "spec.maxReplicas", 0)
    cur_n = None if cur is None else f.count(cur, "status.currentReplicas", 0)
    want_n = f.count(status.get("desiredReplicas"), "status.desiredReplicas", 0)

    def hpa_target(resource: str, pct: int) -> HpaTarget:
        return HpaTarget(obj.name, resource, float(pct), lo_n, hi_n, cur_n, want_n)

    # autoscaling/v1
    v1 = spec.get("targetCPUUtilizationPercentage")
    if v1 is not None:
        pct = f.integer(v1, "spec.targetCPUUtilizationPercentage", 0)
        b.hpas.append((*key, hpa_target("cpu", pct)))
    # autoscaling/v2: Resource (and ContainerResource) metrics with a Utilization target.
    for path, m in f.mappings(spec.get("metrics"), "spec.metrics"):
        mtype = f.string(m.get("type"), join(path, "type"))
        body_key = {"Resource": "resource", "ContainerResource": "containerResource"}.get(mtype)
        if body_key is None:
            continue
        r = f.mapping(m.get(body_key), join(path, body_key))
        resource = f.string(r.get("name"), join(path, f"{body_key}.name"))
        target = f.mapping(r.get("target"), join(path, f"{body_key}.target"))
        if f.string(target.get("type"), join(path, f"{body_key}.target.type")) != "Utilization":
            continue
        pct = f.integer(
            target.get("averageUtilization"), join(path, f"{body_key}.target.averageUtilization"), 0
        )
        if resource in ("cpu", "memory") and pct > 0:
            b.hpas.append((*key, hpa_target(resource, pct)))


_POD_SUFFIXES = {
    kind: re.compile(r"^(?P<base>.+)" + suffix + "$") for kind, suffix in POD_NAME_PATTERNS.items()
}


class WorkloadIndex:
    """Pod name -> workload in one namespace, in a few dictionary look-ups per pod (a
    namespace may hold thousands of pods and workloads)."""

    def __init__(self, workloads: Sequence[Workload], namespace: str) -> None:
        self._by_pod: dict[str, Workload] = {}
        self._by_name: dict[tuple[str, str], Workload] = {}
        for w in workloads:
            if w.namespace != namespace:
                continue
            self._by_name[(w.kind, w.name)] = w
            for pod in w.pods:
                self._by_pod.setdefault(pod, w)

    def lookup(self, pod: str) -> Workload | None:
        w = self._by_pod.get(pod)
        if w is not None:
            return w
        best: Workload | None = None
        for kind, pattern in _POD_SUFFIXES.items():
            m = pattern.match(pod)
            if m is None:
                continue
            cand = self._by_name.get((kind, m.group("base")))
            if cand is not None and (best is None or len(cand.name) > len(best.name)):
                best = cand
        return best


def workload_of(workloads: Sequence[Workload], namespace: str, pod: str) -> Workload | None:
    """The workload a pod belongs to: by the pods seen, else by its name (longest match)."""
    return WorkloadIndex(workloads, namespace).lookup(pod)

"""Synthetic cluster snapshots for the scheduling benchmarks.

Each snapshot is what `kubectl get pods -A -o json` prints: a `{"kind": "List"}` of Pods,
all pending (no `spec.nodeName`), and no nodes, so every pod needs a new node.

Two mixes:

`karpenter`
    Karpenter's scheduling benchmark (kubernetes-sigs/karpenter,
    `pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go`, `makeDiversePods`):
    five classes of `count // 5` pods each, in this order: generic, zonal topology spread,
    hostname topology spread, zonal self-affinity, hostname self-anti-affinity; the remainder
    of the division is filled with generic pods. Every pod requests CPU drawn uniformly from
    {100, 250, 500, 1000, 1500}m and memory drawn uniformly from {100, 256, 512, 1024, 2048,
    4096}Mi; labels are `my-label: <a..g>` (pod affinity pods: `my-affininity: <a..g>`, the
    upstream spelling) and the anti-affinity pods all carry `app: nginx`. The random source is
    seeded with 42 and draws in upstream's order (labels, selector, CPU, memory per pod), but
    Python's generator is not Go's `math/rand`, so the individual pods differ from upstream's
    while their distribution is the same. `classes="generic"` makes only generic pods (the
    part the current scheduler fully honours); the other classes carry the real Kubernetes
    fields (`topologySpreadConstraints`, `affinity.podAffinity`, `affinity.podAntiAffinity`).

`real`
    N pods from W workloads (Deployments, StatefulSets, Jobs) with replica counts skewed like a
    real cluster's (a few big services, many small ones) and a spread of shapes: compute-heavy
    (1-2 GiB per vCPU), general (about 4 GiB per vCPU) and memory-heavy (8-16 GiB per vCPU);
    some pinned to arm64 or amd64 by `nodeSelector`, some requiring on-demand capacity through
    required node affinity on `karpenter.sh/capacity-type`, some tolerating the `batch` taint,
    some with sidecars, init containers or a priority, and a few GPU workloads
    (`nvidia.com/gpu`). Deterministic for a given seed, pod count and workload count.

Usage:

    python3 tests/benchmarks/generate.py karpenter --pods 5000 --classes generic -o out.json
    python3 tests/benchmarks/generate.py real --pods 5000 --workloads 100 --seed 7 -o out.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Pod = dict[str, Any]

KARPENTER_SEED = 42
KARPENTER_CPU_M = (100, 250, 500, 1000, 1500)
KARPENTER_MEMORY_MI = (100, 256, 512, 1024, 2048, 4096)
KARPENTER_LABEL_VALUES = ("a", "b", "c", "d", "e", "f", "g")
KARPENTER_CLASSES = (
    "generic",
    "zonal-spread",
    "hostname-spread",
    "zonal-self-affinity",
    "hostname-self-anti-affinity",
)
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ARCH = "kubernetes.io/arch"
LABEL_CAPACITY_TYPE = "karpenter.sh/capacity-type"

# Taint of the `batch` NodePool in tests/benchmarks/policies/ (pods of the real mix that
# tolerate it may land there or on the untainted pools).
BATCH_TAINT = {"key": "workload-type", "value": "batch", "effect": "NoSchedule"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
_UID_NAMESPACE = uuid.UUID("6f1d2b8e-3a4c-4e1f-9b0a-5c7d8e9f0a1b")


# -- the snapshot file ------------------------------------------------------------------------


def snapshot(pods: Sequence[Pod]) -> dict[str, Any]:
    """A `kubectl get -o json` list holding the pods."""
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
            "items": list(pods)}


def write_snapshot(path: str | Path, pods: Sequence[Pod]) -> Path:
    """Write the pods as one JSON `kind: List`; returns the path written."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        json.dump(snapshot(pods), f, separators=(",", ":"))
        f.write("\n")
    return out


def _pod(
    name: str,
    namespace: str,
    labels: dict[str, str],
    containers: list[dict[str, Any]],
    spec_extra: dict[str, Any] | None = None,
    owner: tuple[str, str, str] | None = None,
) -> Pod:
    """A pending pod as the API server returns it (no nodeName, PodScheduled=False)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid5(_UID_NAMESPACE, f"{namespace}/{name}")),
        "labels": labels,
    }
    if owner is not None:
        api_version, kind, owner_name = owner
        metadata["ownerReferences"] = [
            {
                "apiVersion": api_version,
                "kind": kind,
                "name": owner_name,
                "uid": str(uuid.uuid5(_UID_NAMESPACE, f"{namespace}/{kind}/{owner_name}")),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    spec: dict[str, Any] = {
        "containers": containers,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }
    if spec_extra:
        spec.update(spec_extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": spec,
        "status": {
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/0 nodes are available.",
                }
            ],
        },
    }


def _container(name: str, requests: dict[str, str], limits: dict[str, str] | None = None,
               image: str = PAUSE_IMAGE) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": requests}
    if limits:
        resources["limits"] = limits
    return {"name": name, "image": image, "resources": resources}


# -- Karpenter's benchmark mix ------------------------------------------------------------------


class _KarpenterDraws:
    """Upstream's helpers (randomLabels, randomAffinityLabels, randomCPU, randomMemory) on one
    seeded source, called in upstream's order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def label_value(self) -> str:
        return self.rng.choice(KARPENTER_LABEL_VALUES)

    def labels(self) -> dict[str, str]:
        return {"my-label": self.label_value()}

    def affinity_labels(self) -> dict[str, str]:
        return {"my-affininity": self.label_value()}  # sic: upstream's key

    def requests(self) -> dict[str, str]:
        cpu = self.rng.choice(KARPENTER_CPU_M)
        memory = self.rng.choice(KARPENTER_MEMORY_MI)
        return {"cpu": f"{cpu}m", "memory": f"{memory}Mi"}


def _karpenter_pod(kind: str, index: int, labels: dict[str, str], requests: dict[str, str],
                   extra: dict[str, Any] | None) -> Pod:
    name = f"{kind}-{index:06d}"
    return _pod(name, "default", labels, [_container("app", requests)], extra)


def _generic(d: _KarpenterDraws, i: int) -> Pod:
    labels = d.labels()
    return _karpenter_pod("generic", i, labels, d.requests(), None)


def _spread(key: str, kind: str) -> Callable[[_KarpenterDraws, int], Pod]:
    def make(d: _KarpenterDraws, i: int) -> Pod:
        labels = d.labels()
        selector = d.labels()  # drawn independently of the pod's own label, as upstream
        constraint = {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": selector},
        }
        extra = {"topologySpreadConstraints": [constraint]}
        return _karpenter_pod(kind, i, labels, d.requests(), extra)

    return make


def _self_affinity(key: str, kind: str) -> Callable[[_KarpenterDraws, int], Pod]:
    def make(d: _KarpenterDraws, i: int) -> Pod:
        labels = d.affinity_labels()
        term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": key}
        extra = {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                              [term]}}}
        return _karpenter_pod(kind, i, labels, d.requests(), extra)

    return make


def _self_anti_affinity(key: str, kind: str) -> Callable[[_KarpenterDraws, int], Pod]:
    def make(d: _KarpenterDraws, i: int) -> Pod:
        labels = {"app": "nginx"}  # every pod of the class repels every other
        term = {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": key}
        extra = {"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [term]}}}
        return _karpenter_pod(kind, i, labels, d.requests(), extra)

    return make


_KARPENTER_MAKERS: dict[str, Callable[[_KarpenterDraws, int], Pod]] = {
    "generic": _generic,
    "zonal-spread": _spread(LABEL_ZONE, "zonal-spread"),
    "hostname-spread": _spread(LABEL_HOSTNAME, "hostname-spread"),
    "zonal-self-affinity": _self_affinity(LABEL_ZONE, "zonal-self-affinity"),
    "hostname-self-anti-affinity": _self_anti_affinity(LABEL_HOSTNAME,
                                                       "hostname-self-anti-affinity"),
}


def karpenter_pods(count: int, classes: str = "all", seed: int = KARPENTER_SEED) -> list[Pod]:
    """Karpenter's `makeDiversePods(count)` (classes="all") or only its generic pods."""
    if count < 0:
        raise ValueError("count must be >= 0")
    draws = _KarpenterDraws(seed)
    plan: list[tuple[str, int]]
    if classes == "generic":
        plan = [("generic", count)]
    elif classes == "all":
        per = count // len(KARPENTER_CLASSES)
        plan = [(c, per) for c in KARPENTER_CLASSES]
        plan.append(("generic", count - per * len(KARPENTER_CLASSES)))
    else:
        raise ValueError(f"classes must be 'all' or 'generic', not {classes!r}")
    pods: list[Pod] = []
    numbers = dict.fromkeys(KARPENTER_CLASSES, 0)
    for kind, n in plan:
        make = _KARPENTER_MAKERS[kind]
        for _ in range(n):
            numbers[kind] += 1
            pods.append(make(draws, numbers[kind]))
    return pods


# -- a realistic mix ---------------------------------------------------------------------------

# (name, weight, GiB per vCPU low, high)
SHAPES = (
    ("compute", 0.30, 1.0, 2.0),
    ("general", 0.45, 3.0, 5.0),
    ("memory", 0.25, 8.0, 16.0),
)
# CPU requests in millicores and how often workloads use them: mostly small services.
CPU_CHOICES = (50, 100, 250, 500, 1000, 2000, 4000)
CPU_WEIGHTS = (8, 18, 26, 22, 14, 8, 4)
NAMESPACES = ("shop", "payments", "search", "data", "ml", "platform", "auth", "media")
WORDS = (
    "api", "web", "cart", "checkout", "ledger", "index", "query", "ingest", "etl", "feature",
    "gateway", "auth", "session", "render", "thumb", "encoder", "scorer", "ranker", "cache",
    "worker", "notifier", "billing", "report", "export", "sync", "crawler", "parser", "router",
)
SIDECAR = {"cpu": "100m", "memory": "128Mi"}
INIT = {"cpu": "200m", "memory": "256Mi"}


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` into len(weights) counts proportional to the weights, each at least 1
    when total allows (largest-remainder rounding)."""
    n = len(weights)
    if n == 0:
        return []
    if total < n:
        return [1] * total + [0] * (n - total)
    spare = total - n
    s = sum(weights)
    raw = [spare * w / s for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(n), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: spare - sum(counts)]:
        counts[i] += 1
    return [c + 1 for c in counts]


def _memory_mi(cpu_m: int, gib_per_vcpu: float) -> int:
    mi = cpu_m / 1000 * gib_per_vcpu * 1024
    step = 64 if mi >= 256 else 16
    return max(32, int(round(mi / step)) * step)


def real_workloads(workloads: int = 100, seed: int = 1) -> list[dict[str, Any]]:
    """The workload templates of the real mix (replica counts are set by `real_pods`)."""
    rng = random.Random(seed)
    n_gpu = max(1, round(workloads * 0.03)) if workloads >= 10 else 0
    gpu_slots = set(rng.sample(range(workloads), n_gpu)) if n_gpu else set()
    out: list[dict[str, Any]] = []
    used_names: set[str] = set()
    for i in range(workloads):
        ns = rng.choice(NAMESPACES)
        base = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}"
        name = base
        k = 2
        while f"{ns}/{name}" in used_names:
            name = f"{base}-{k}"
            k += 1
        used_names.add(f"{ns}/{name}")
        gpu = i in gpu_slots
        kind = rng.choices(("Deployment", "StatefulSet", "Job"), weights=(75, 15, 10))[0]
        if gpu:
            shape = "gpu"
            cpu_m = rng.choice((4000, 8000))
            mem_mi = cpu_m // 1000 * 4 * 1024
        else:
            shape_name, _, lo, hi = rng.choices(SHAPES, weights=[s[1] for s in SHAPES])[0]
            shape = shape_name
            cpu_m = rng.choices(CPU_CHOICES, weights=CPU_WEIGHTS)[0]
            mem_mi = _memory_mi(cpu_m, rng.uniform(lo, hi))
        # Constraints, drawn independently so combinations occur (arm64 + on-demand, ...).
        arch = None if gpu else rng.choices((None, "amd64", "arm64"), weights=(60, 25, 15))[0]
        if gpu:
            arch = "amd64"
        on_demand = gpu or rng.random() < 0.15
        tolerates_batch = (not gpu) and (kind == "Job" or rng.random() < 0.05)
        sidecar = (not gpu) and rng.random() < 0.2
        init = rng.random() < 0.2
        priority = 1000000 if rng.random() < 0.1 else 0
        out.append(
            {
                "namespace": ns,
                "name": name,
                "kind": kind,
                "shape": shape,
                "cpu_m": cpu_m,
                "memory_mi": mem_mi,
                "gpu": 1 if gpu else 0,
                "arch": arch,
                "on_demand": on_demand,
                "tolerates_batch": tolerates_batch,
                "sidecar": sidecar,
                "init": init,
                "priority": priority,
                "weight": 0.0 if gpu else rng.paretovariate(1.2),
            }
        )
    return out


def _real_spec(w: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    requests = {"cpu": f"{w['cpu_m']}m", "memory": f"{w['memory_mi']}Mi"}
    limits: dict[str, str] = {"memory": f"{w['memory_mi']}Mi"}
    if w["gpu"]:
        requests["nvidia.com/gpu"] = str(w["gpu"])
        limits["nvidia.com/gpu"] = str(w["gpu"])
    containers = [_container("app", requests, limits)]
    if w["sidecar"]:
        containers.append(_container("proxy", dict(SIDECAR), {"memory": SIDECAR["memory"]}))
    extra: dict[str, Any] = {}
    if w["init"]:
        extra["initContainers"] = [_container("init", dict(INIT))]
    if w["arch"]:
        extra["nodeSelector"] = {LABEL_ARCH: w["arch"]}
    if w["on_demand"]:
        extra["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": LABEL_CAPACITY_TYPE, "operator": "In",
                                               "values": ["on-demand"]}]}
                    ]
                }
            }
        }
    tolerations = [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]
    if w["tolerates_batch"]:
        tolerations.append({"key": BATCH_TAINT["key"], "operator": "Equal",
                            "value": BATCH_TAINT["value"], "effect": BATCH_TAINT["effect"]})
    if w["gpu"]:
        tolerations.append({"key": GPU_TAINT["key"], "operator": "Exists",
                            "effect": GPU_TAINT["effect"]})
    extra["tolerations"] = tolerations
    if w["priority"]:
        extra["priorityClassName"] = "business-critical"
        extra["priority"] = w["priority"]
    if w["kind"] == "Job":
        extra["restartPolicy"] = "Never"
    return containers, extra


def _suffix(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def real_pods(count: int, workloads: int = 100, seed: int = 1) -> list[Pod]:
    """`count` pending pods from `workloads` workloads (see the module docstring)."""
    if count < 0 or workloads < 1:
        raise ValueError("count must be >= 0 and workloads >= 1")
    templates = real_workloads(workloads, seed)
    gpu = [i for i, w in enumerate(templates) if w["gpu"]]
    other = [i for i, w in enumerate(templates) if not w["gpu"]]
    # A few GPU replicas each (GPU fleets are small); everything else by a Pareto weight.
    gpu_each = max(1, min(4, count // 2000))
    replicas = [0] * len(templates)
    budget = count
    for i in gpu:
        replicas[i] = min(gpu_each, budget)
        budget -= replicas[i]
    weights = [templates[i]["weight"] for i in other]
    for i, c in zip(other, _allocate(budget, weights), strict=True):
        replicas[i] = c
    names = random.Random(seed * 7919 + 17)
    pods: list[Pod] = []
    for w, n in zip(templates, replicas, strict=True):
        if n == 0:
            continue
        containers, extra = _real_spec(w)
        labels = {"app.kubernetes.io/name": w["name"], "app.kubernetes.io/part-of": w["namespace"],
                  "shape": w["shape"]}
        if w["kind"] == "Deployment":
            rs = f"{w['name']}-{names.randrange(16**10):010x}"
            owner = ("apps/v1", "ReplicaSet", rs)
            pod_names = [f"{rs}-{_suffix(names, 5)}" for _ in range(n)]
            labels["pod-template-hash"] = rs.rsplit("-", 1)[1]
        elif w["kind"] == "StatefulSet":
            owner = ("apps/v1", "StatefulSet", w["name"])
            pod_names = [f"{w['name']}-{k}" for k in range(n)]
        else:
            owner = ("batch/v1", "Job", w["name"])
            pod_names = [f"{w['name']}-{_suffix(names, 5)}" for _ in range(n)]
            labels["batch.kubernetes.io/job-name"] = w["name"]
        seen: set[str] = set()
        for pod_name in pod_names:
            while pod_name in seen:  # a repeated random suffix: draw again
                pod_name = f"{pod_name[:-5]}{_suffix(names, 5)}"
            seen.add(pod_name)
            pods.append(_pod(pod_name, w["namespace"], dict(labels),
                             json.loads(json.dumps(containers)), json.loads(json.dumps(extra)),
                             owner))
    return pods


def describe(pods: Sequence[Pod]) -> dict[str, Any]:
    """Counts of the constraints in a generated pod list (for the benchmark notes)."""
    def has(p: Pod, path: Sequence[str]) -> bool:
        cur: Any = p["spec"]
        for k in path:
            if not isinstance(cur, dict) or k not in cur:
                return False
            cur = cur[k]
        return True

    out: dict[str, Any] = {"pods": len(pods)}
    out["arm64"] = sum(p["spec"].get("nodeSelector", {}).get(LABEL_ARCH) == "arm64" for p in pods)
    out["amd64"] = sum(p["spec"].get("nodeSelector", {}).get(LABEL_ARCH) == "amd64" for p in pods)
    out["on_demand"] = sum(has(p, ("affinity", "nodeAffinity")) for p in pods)
    out["batch_toleration"] = sum(
        any(t.get("key") == BATCH_TAINT["key"] for t in p["spec"].get("tolerations", []))
        for p in pods
    )
    out["gpu"] = sum(
        "nvidia.com/gpu" in p["spec"]["containers"][0]["resources"].get("requests", {})
        for p in pods
    )
    out["topology_spread"] = sum(has(p, ("topologySpreadConstraints",)) for p in pods)
    out["pod_affinity"] = sum(has(p, ("affinity", "podAffinity")) for p in pods)
    out["pod_anti_affinity"] = sum(has(p, ("affinity", "podAntiAffinity")) for p in pods)
    return out


# -- command line ------------------------------------------------------------------------------


KARPENTER_ZONES = ("test-zone-1", "test-zone-2", "test-zone-3")


def karpenter_catalog(total: int = 400) -> dict[str, Any]:
    """Karpenter's fake cloud provider's `InstanceTypes(total)` as an InstanceTypeCatalog.

    Facts from kubernetes-sigs/karpenter pkg/cloudprovider/fake/instancetype.go: type i
    (0-based) has i+1 vCPU, 2(i+1) GiB and 10(i+1) pods; kube-reserved 100m CPU and 10Mi;
    price 0.1 per vCPU + 0.1 per 10^9 bytes of memory, the same for every offering; spot in
    test-zone-1 and -2, on-demand in all three zones; amd64.
    """
    types = []
    for i in range(total):
        cpu, gib = i + 1, 2 * (i + 1)
        price = round(0.1 * cpu + 0.1 * gib * 2**30 / 1e9, 6)
        offerings = [{"zone": z, "capacityType": "spot", "price": price}
                     for z in KARPENTER_ZONES[:2]]
        offerings += [{"zone": z, "capacityType": "on-demand", "price": price}
                      for z in KARPENTER_ZONES]
        types.append({
            "name": f"fake-it-{i}",
            "arch": "amd64",
            "capacity": {"cpu": str(cpu), "memory": f"{gib}Gi", "pods": str(10 * cpu)},
            "overhead": {"cpu": "100m", "memory": "10Mi"},
            "labels": {"size": "large" if cpu > 4 and gib > 8 else "small",
                       "integer": str(cpu)},
            "offerings": offerings,
        })
    return {
        "apiVersion": "scaler.dev/v1alpha1",
        "kind": "InstanceTypeCatalog",
        "metadata": {"name": f"karpenter-fake-{total}"},
        "spec": {"region": "test-region", "zones": list(KARPENTER_ZONES),
                 "instanceTypes": types},
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Write a synthetic pending-pod snapshot (JSON List).")
    sub = p.add_subparsers(dest="mix", required=True)
    k = sub.add_parser("karpenter", help="Karpenter's scheduling-benchmark pod mix")
    k.add_argument("--pods", type=int, required=True)
    k.add_argument("--classes", choices=("all", "generic"), default="all")
    k.add_argument("--seed", type=int, default=KARPENTER_SEED)
    r = sub.add_parser("real", help="realistic workloads (arch, capacity type, taints, GPUs)")
    r.add_argument("--pods", type=int, required=True)
    r.add_argument("--workloads", type=int, default=100)
    r.add_argument("--seed", type=int, default=1)
    for s in (k, r):
        s.add_argument("-o", "--output", required=True, help="file to write ('-' for stdout)")
        s.add_argument("--describe", action="store_true", help="print constraint counts")
    c = sub.add_parser("karpenter-types", help="Karpenter's 400 synthetic instance types")
    c.add_argument("--types", type=int, default=400)
    c.add_argument("-o", "--output", required=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.mix == "karpenter-types":
        Path(args.output).write_text(json.dumps(karpenter_catalog(args.types)) + "\n")
        return 0
    if args.mix == "karpenter":
        pods = karpenter_pods(args.pods, args.classes, args.seed)
    else:
        pods = real_pods(args.pods, args.workloads, args.seed)
    if args.output == "-":
        json.dump(snapshot(pods), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        write_snapshot(args.output, pods)
    if args.describe:
        print(json.dumps(describe(pods)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Workloads as the API server has them, for `scaler rightsize` without manifests (KRR's way):
Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, their HPAs and pods,
listed in pages (`limit`/`continue`) per namespace or cluster-wide, raw JSON.

The label selector goes to the API server and, as KRR's `--selector`, selects workloads by
their own labels: pods and HPAs are listed unfiltered in the namespaces where selected
workloads are, so each workload still finds its pods and its HPA.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scaler.adapters.kubernetes.client import Kube, KubeSettings, object_path

PAGE = 500


@dataclass(frozen=True)
class Listed:
    kind: str
    group_version: str
    plural: str


WORKLOADS = (
    Listed("Deployment", "apps/v1", "deployments"),
    Listed("StatefulSet", "apps/v1", "statefulsets"),
    Listed("DaemonSet", "apps/v1", "daemonsets"),
    Listed("ReplicaSet", "apps/v1", "replicasets"),
    Listed("Job", "batch/v1", "jobs"),
    Listed("CronJob", "batch/v1", "cronjobs"),
)
PODS = Listed("Pod", "v1", "pods")
HPAS = Listed("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers")


def list_all(
    kube: Kube, what: Listed, namespace: str | None, selector: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every object of a kind, page by page, each with its `kind` and `apiVersion` (list
    items come without them)."""
    path = object_path(what.group_version, what.plural, namespace)
    token: str | None = None
    while True:
        query: dict[str, Any] = {"limit": PAGE, "continue": token, "labelSelector": selector}
        doc = kube.request("GET", path, query=query, what=f"list {what.plural}")
        for item in doc.get("items") or ():
            if isinstance(item, Mapping):
                yield {"apiVersion": what.group_version, "kind": what.kind, **item}
        meta = doc.get("metadata")
        token = meta.get("continue") if isinstance(meta, Mapping) else None
        if not token:
            return


def cluster_objects(
    kube: Kube,
    namespaces: Sequence[str] | None = None,
    selector: str | None = None,
    kinds: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The selected workloads, then the pods and HPAs of the namespaces they are in."""
    wanted = [w for w in WORKLOADS if kinds is None or w.kind in kinds]
    scopes: Sequence[str | None] = list(namespaces) if namespaces else [None]
    found: list[dict[str, Any]] = []
    for ns in scopes:
        for what in wanted:
            found.extend(list_all(kube, what, ns, selector))
    where = sorted({_namespace(o) for o in found})
    # Cluster-wide lists when there is no namespace filter: one paged list, not one per ns.
    extra_scopes: Sequence[str | None] = where if namespaces else ([None] if where else [])
    for ns in extra_scopes:
        for what in (PODS, HPAS):
            found.extend(o for o in list_all(kube, what, ns) if _namespace(o) in where)
    return found


def _namespace(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    return ns if isinstance(ns, str) and ns else "default"


def context_name(settings: KubeSettings) -> str | None:
    """The kubeconfig context in use (KRR's `cluster`); None in-cluster."""
    import os

    from kubernetes import config as k8s_config  # type: ignore[import-untyped]

    if settings.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    if settings.context:
        return settings.context
    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=settings.kubeconfig)
    except Exception:  # the configuration was loaded already; the name is only a label
        return None
    name = active.get("name") if isinstance(active, Mapping) else None
    return name if isinstance(name, str) else None

"""The inventory port over Prometheus: kube-state-metrics series, as OpenCost reads them.

Node lifetimes come from a range query at the report's resolution (a node ran from its
first point to its last point plus one step) of `kube_node_status_capacity`, which also gives
CPU, memory and GPU capacity; containers' lifetimes come from their own series (the metrics
port). Metadata are instant queries of `last_over_time(...[window])` at the window's end, so
objects gone before the end are still found: `kube_node_labels` (instance type, capacity type,
zone), `kube_pod_info` (node, creator), `kube_pod_labels`, `kube_pod_annotations`,
`kube_namespace_labels`, and `kube_replicaset_owner` (a ReplicaSet's Deployment).
kube-state-metrics writes label keys sanitized (`node.kubernetes.io/instance-type` ->
`label_node_kubernetes_io_instance_type`); pod and namespace labels are kept in that form, and
the report matches keys either way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prometheus_api_client import PrometheusConnect

from scaler.adapters.prometheus.source import run_query, time_chunks
from scaler.ports.inventory import NodeInfo, PodInfo
from scaler.ports.metrics import ContainerRef, MetricsError, Samples, Window

# Sanitized node label keys, first found wins.
INSTANCE_TYPE_KEYS = (
    "label_node_kubernetes_io_instance_type",
    "label_beta_kubernetes_io_instance_type",
)
CAPACITY_TYPE_KEYS = ("label_karpenter_sh_capacity_type", "label_eks_amazonaws_com_capacityType")
ZONE_KEYS = ("label_topology_kubernetes_io_zone", "label_failure_domain_beta_kubernetes_io_zone")
SPOT_WORDS = ("spot", "SPOT", "Spot")


def _labels_of(metric: Mapping[str, Any], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: str(v) for k, v in metric.items() if k.startswith(prefix)}


class PrometheusInventory:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 60.0,
        max_points: int = 10_000,
        headers: dict[str, str] | None = None,
        max_span: float = 86_400.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._max_points = max(max_points, 2)
        self._max_span = max_span
        self._client = PrometheusConnect(
            url=self.url, headers=headers, disable_ssl=False, timeout=timeout
        )
        self.queries: list[str] = []

    # -- the port -------------------------------------------------------------------------

    def nodes(self, window: Window) -> Sequence[NodeInfo]:
        spans = self._range(
            "max by (node, resource) (kube_node_status_capacity"
            '{resource=~"cpu|memory|nvidia_com_gpu"})',
            window,
        )
        seen: dict[str, dict[str, Any]] = {}
        for metric, points in spans:
            node = str(metric.get("node", ""))
            if not node or not points:
                continue
            rec = seen.setdefault(node, {"start": points[0][0], "end": points[-1][0]})
            rec["start"] = min(rec["start"], points[0][0])
            rec["end"] = max(rec["end"], points[-1][0])
            rec[str(metric.get("resource", ""))] = points[-1][1]
        labels: dict[str, dict[str, str]] = {}
        for metric in self._instant(f"last_over_time(kube_node_labels[{_span(window)}s])", window):
            node = str(metric.get("node", ""))
            if node:
                labels[node] = {k: str(v) for k, v in metric.items() if k.startswith("label_")}
        out = []
        for node, rec in sorted(seen.items()):
            lab = labels.get(node, {})
            capacity_type = _first(lab, CAPACITY_TYPE_KEYS) or "on-demand"
            out.append(
                NodeInfo(
                    name=node,
                    cpu_cores=float(rec.get("cpu", 0.0)),
                    ram_bytes=float(rec.get("memory", 0.0)),
                    gpus=float(rec.get("nvidia_com_gpu", 0.0)),
                    start=float(rec["start"]),
                    end=float(rec["end"]) + window.step,
                    instance_type=_first(lab, INSTANCE_TYPE_KEYS),
                    capacity_type="spot" if capacity_type in SPOT_WORDS else "on-demand",
                    zone=_first(lab, ZONE_KEYS),
                    labels={k.removeprefix("label_"): v for k, v in lab.items()},
                )
            )
        return out

    def pods(self, window: Window) -> Sequence[PodInfo]:
        # Instant queries over the window: containers' own series say when they ran, so
        # pods need no range query (one series per pod per step would be the largest query).
        span = _span(window)
        labels = self._by_pod(f"last_over_time(kube_pod_labels[{span}s])", window, "label_")
        notes = self._by_pod(
            f"last_over_time(kube_pod_annotations[{span}s])", window, "annotation_"
        )
        owners: dict[tuple[str, str], str] = {}
        for metric in self._instant(
            f'last_over_time(kube_replicaset_owner{{owner_kind="Deployment"}}[{span}s])', window
        ):
            key = (str(metric.get("namespace", "")), str(metric.get("replicaset", "")))
            owners[key] = str(metric.get("owner_name", ""))
        found: dict[tuple[str, str], PodInfo] = {}
        query = (
            "max by (namespace, pod, node, created_by_kind, created_by_name) "
            f"(last_over_time(kube_pod_info[{span}s]))"
        )
        for metric in self._instant(query, window):
            ns, pod = str(metric.get("namespace", "")), str(metric.get("pod", ""))
            if not ns or not pod:
                continue
            kind = str(metric.get("created_by_kind", "") or "")
            name = str(metric.get("created_by_name", "") or "")
            if kind == "ReplicaSet" and (ns, name) in owners:
                kind, name = "Deployment", owners[(ns, name)]
            found[(ns, pod)] = PodInfo(
                namespace=ns,
                pod=pod,
                node=str(metric.get("node", "") or ""),
                labels=labels.get((ns, pod), {}),
                annotations=notes.get((ns, pod), {}),
                controller_kind="" if kind == "<none>" else kind,
                controller="" if name == "<none>" else name,
            )
        return [found[k] for k in sorted(found)]

    def namespace_labels(self, window: Window) -> Mapping[str, Mapping[str, str]]:
        out: dict[str, dict[str, str]] = {}
        query = f"last_over_time(kube_namespace_labels[{_span(window)}s])"
        for metric in self._instant(query, window):
            ns = str(metric.get("namespace", ""))
            if ns:
                out[ns] = _labels_of(metric, "label_")
        return out

    def gpu_requests(self, window: Window) -> Sequence[Samples]:
        out = []
        query = (
            "max by (namespace, pod, container, node) "
            '(kube_pod_container_resource_requests{resource="nvidia_com_gpu"})'
        )
        for metric, points in self._range(query, window):
            ns, pod, c = metric.get("namespace"), metric.get("pod"), metric.get("container")
            if not ns or not pod or not c or not points:
                continue
            node = str(metric.get("node", "") or "")
            out.append(
                Samples(
                    ContainerRef(str(ns), str(pod), str(c)),
                    tuple(t for t, _ in points),
                    tuple(v for _, v in points),
                    {"node": node} if node else {},
                )
            )
        return out

    # -- helpers --------------------------------------------------------------------------

    def _by_pod(
        self, query: str, window: Window, prefix: str
    ) -> dict[tuple[str, str], dict[str, str]]:
        out: dict[tuple[str, str], dict[str, str]] = {}
        for metric in self._instant(query, window):
            key = (str(metric.get("namespace", "")), str(metric.get("pod", "")))
            out.setdefault(key, {}).update(_labels_of(metric, prefix))
        return out

    def _range(
        self, query: str, window: Window
    ) -> list[tuple[Mapping[str, Any], list[tuple[float, float]]]]:
        if window.step <= 0 or window.end < window.start:
            raise MetricsError(f"{self.url}: bad window {window} for query {query}")
        merged: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        metrics: dict[tuple[tuple[str, str], ...], Mapping[str, Any]] = {}
        for start, end in time_chunks(window, self._max_points, self._max_span):

            def call(s: float = start, e: float = end) -> Any:
                return self._client.custom_query_range(
                    query, start_time=_utc(s), end_time=_utc(e), step=f"{window.step:g}s"
                )

            for row in self._call(query, call):
                metric = row.get("metric", {})
                key = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
                metrics[key] = metric
                points = merged.setdefault(key, {})
                for ts, value in row.get("values", []):
                    points[float(ts)] = float(value)
        return [(metrics[k], sorted(merged[k].items())) for k in sorted(merged)]

    def _instant(self, query: str, window: Window) -> list[Mapping[str, Any]]:
        rows = self._call(
            query,
            lambda: self._client.custom_query(query, params={"time": f"{window.end:.3f}"}),
        )
        return [row.get("metric", {}) for row in rows]

    def _call(self, query: str, fn: Callable[[], Any]) -> list[dict[str, Any]]:
        return run_query(self.url, self.queries, query, fn)


def _first(labels: Mapping[str, str], keys: Sequence[str]) -> str | None:
    return next((labels[k] for k in keys if labels.get(k)), None)


def _span(window: Window) -> int:
    return max(1, int(round(window.end - window.start + window.step)))


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC)

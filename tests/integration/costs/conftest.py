"""A real Prometheus holding two hours of a small cluster's history, for `scaler report`.

The cluster, with figures worked out by hand in test_report_prometheus.py:

    node-a  m5.xlarge on-demand ($0.192/h list), 4 cores, 16 GiB, both hours
    node-b  c5.xlarge on-demand, one Reserved Instance at $0.10/h, 4 cores, 8 GiB, hour 2 only
    shop/web-1/app          node-a  request 1 core, 4 GiB;   uses 0.5 core, 2 GiB
    shop/web-1/sidecar      node-a  request 0.5 core, 1 GiB; uses 1.5 cores, 0.5 GiB
    kube-system/coredns-1/coredns node-a  request 0.5, 2 GiB; uses 0.1, 1 GiB
    payments/api-1/app      node-b  request 2 cores, 4 GiB;  uses 2 cores, 4 GiB (hour 2)

History starts 30 minutes before the window so rate() has points at its first instant, and
runs 20 minutes past its end; the window ends on an hour at least an hour ago.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.prometheus import Series, running_prometheus

GIB = 2**30
SAMPLE = 60


@dataclass(frozen=True)
class CostHistory:
    url: str
    start: int
    end: int


def _ts(a: int, b: int) -> list[int]:
    return list(range(a, b + 1, SAMPLE))


def cluster_history(start: int, end: int) -> list[Series]:
    t0, t1 = start - 1800, end + 1200
    b0 = start + 3600
    out: list[Series] = []
    nodes = [
        ("node-a", "m5.xlarge", 4, 16 * GIB, t0),
        ("node-b", "c5.xlarge", 4, 8 * GIB, b0),
    ]
    for name, itype, cores, mem, since in nodes:
        ts = _ts(since, t1)
        for resource, unit, value in (("cpu", "core", cores), ("memory", "byte", mem)):
            out.append(Series("kube_node_status_capacity",
                              {"node": name, "resource": resource, "unit": unit},
                              [(t, float(value)) for t in ts]))
        out.append(Series("kube_node_labels", {
            "node": name,
            "label_node_kubernetes_io_instance_type": itype,
            "label_karpenter_sh_capacity_type": "on-demand",
            "label_topology_kubernetes_io_zone": "us-east-1a",
        }, [(t, 1.0) for t in ts]))
    pods = [
        # ns, pod, node, since, creator kind, creator, labels, containers
        ("shop", "web-1", "node-a", t0, "ReplicaSet", "web-5d8f", {"app": "web"},
         [("app", 1.0, 4 * GIB, 0.5, 2 * GIB), ("sidecar", 0.5, 1 * GIB, 1.5, GIB // 2)]),
        ("kube-system", "coredns-1", "node-a", t0, "ReplicaSet", "coredns-77f", {"app": "dns"},
         [("coredns", 0.5, 2 * GIB, 0.1, 1 * GIB)]),
        ("payments", "api-1", "node-b", b0, "StatefulSet", "api", {"app": "api"},
         [("app", 2.0, 4 * GIB, 2.0, 4 * GIB)]),
    ]
    for ns, pod, node, since, kind, creator, labels, containers in pods:
        ts = _ts(since, t1)
        ones = [(t, 1.0) for t in ts]
        out.append(Series("kube_pod_info", {
            "namespace": ns, "pod": pod, "node": node, "created_by_kind": kind,
            "created_by_name": creator, "uid": f"uid-{pod}"}, ones))
        out.append(Series("kube_pod_labels", {
            "namespace": ns, "pod": pod, **{f"label_{k}": v for k, v in labels.items()}}, ones))
        out.append(Series("kube_pod_annotations", {
            "namespace": ns, "pod": pod, "annotation_owner": f"{ns}-oncall"}, ones))
        for c, rcpu, rmem, ucpu, umem in containers:
            ident = {"namespace": ns, "pod": pod, "container": c}
            for resource, unit, value in (("cpu", "core", rcpu), ("memory", "byte", rmem)):
                out.append(Series("kube_pod_container_resource_requests",
                                  {**ident, "node": node, "resource": resource, "unit": unit},
                                  [(t, float(value)) for t in ts]))
            cad = {**ident, "node": node, "id": f"/kubepods/{pod}/{c}", "image": "x"}
            out.append(Series("container_cpu_usage_seconds_total", cad,
                              [(t, ucpu * (t - since)) for t in ts], kind="counter"))
            out.append(Series("container_memory_working_set_bytes", cad,
                              [(t, float(umem)) for t in ts]))
    out.append(Series("kube_replicaset_owner", {
        "namespace": "shop", "replicaset": "web-5d8f", "owner_kind": "Deployment",
        "owner_name": "web"}, [(t, 1.0) for t in _ts(t0, t1)]))
    out.append(Series("kube_namespace_labels", {
        "namespace": "shop", "label_team": "shop"}, [(t, 1.0) for t in _ts(t0, t1)]))
    return out


@pytest.fixture(scope="package")
def cost_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CostHistory]:
    end = (int(time.time()) - 3600) // 3600 * 3600 - 3600
    start = end - 7200
    work: Path = tmp_path_factory.mktemp("prometheus-costs")
    with running_prometheus(cluster_history(start, end), work) as url:
        yield CostHistory(url, start, end)

"""What right-sizing reads: workloads, containers and HPAs from manifests, pods matched to
their workloads, and usage files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from scaler.adapters.simulated.usage_file import load_usage_file
from scaler.errors import UserError
from scaler.ports.metrics import ContainerRef, Window
from scaler.rightsizing.workloads import WorkloadIndex, read_workloads

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, labels: {team: shop}}
spec:
  replicas: 3
  template:
    spec:
      initContainers:
      - name: migrate
        resources: {requests: {cpu: "2"}}
      containers:
      - name: app
        resources:
          requests: {cpu: 250m, memory: 512Mi}
          limits: {memory: 1Gi}
      - name: proxy
        resources:
          limits: {cpu: 100m, memory: 64Mi}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: job
            resources: {requests: {cpu: "1", memory: 2Gi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}
  - type: Pods
    pods: {metric: {name: rps}, target: {type: AverageValue, averageValue: "10"}}
---
apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web-cpu, namespace: shop}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  targetCPUUtilizationPercentage: 60
---
apiVersion: v1
kind: Pod
metadata:
  name: cache-7d9f8c6b5-x2x2x
  namespace: shop
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: cache-7d9f8c6b5, controller: true}
spec:
  containers:
  - name: redis
    resources: {requests: {cpu: 100m, memory: 256Mi}}
"""


@pytest.fixture()
def manifests(tmp_path: Path) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(MANIFESTS)
    return path


def test_containers_requests_limits_and_hpas(manifests: Path) -> None:
    by = {w.key: w for w in read_workloads([manifests])}
    assert set(by) == {"Deployment shop/web", "CronJob shop/nightly", "Deployment shop/cache"}
    web = by["Deployment shop/web"]
    assert web.replicas == 3 and web.labels == {"team": "shop"} and web.from_manifest
    assert [c.name for c in web.containers] == ["app", "proxy"]  # init containers left out
    app, proxy = web.containers
    assert (app.current.cpu_request, app.current.memory_limit) == (0.25, 2**30)
    assert proxy.current.cpu_request == 0.1  # a limit alone is the request too
    assert {(h.name, h.resource, h.utilization) for h in web.hpas} == {
        ("web", "memory", 80.0),
        ("web-cpu", "cpu", 60.0),
    }
    nightly = by["CronJob shop/nightly"]
    assert nightly.containers[0].current.memory_request == 2 * 2**30
    cache = by["Deployment shop/cache"]  # only its pod was given: named after its ReplicaSet
    assert not cache.from_manifest and cache.pods == ("cache-7d9f8c6b5-x2x2x",)


@pytest.mark.parametrize(
    ("pod", "workload"),
    [
        ("web-5f7d8c9b4-abcde", "web"),
        ("nightly-28999440-x7k2p", "nightly"),
        ("cache-7d9f8c6b5-x2x2x", "cache"),
        ("webhook-5f7d8c9b4-abcde", None),
        ("web-0", None),
    ],
)
def test_pods_are_matched_to_their_workload_by_name(
    manifests: Path, pod: str, workload: str | None
) -> None:
    w = WorkloadIndex(read_workloads([manifests]), "shop").lookup(pod)
    assert (w.name if w else None) == workload


def test_a_bad_quantity_names_file_object_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MANIFESTS.replace("cpu: 250m", "cpu: 250 millicores"))
    with pytest.raises(UserError) as err:
        read_workloads([path])
    assert err.value.render().startswith(
        f"{path}: Deployment shop/web: spec.template.spec.containers[0].resources.requests.cpu: "
    )


def test_usage_file_with_quantities_rfc3339_and_oom_rows(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(
            "timestamp,namespace,pod,container,cpu,memory,memory_limit,oom_killed\n"
            "2025-11-24T00:00:00Z,shop,web-1,app,250m,300Mi,512Mi,0\n"
            "2025-11-24T00:05:00Z,shop,web-1,app,0.3,536870912,512Mi,1\n"
        )
    src = load_usage_file(path)
    assert src.time_range() == (1763942400.0, 1763942700.0)
    assert src.typical_step() == 300.0
    w = Window(1763942400.0, 1763942700.0, 300)
    [cpu] = src.cpu_usage(w, "shop")
    assert cpu.values == (0.25, 0.3)
    [mem] = src.memory_usage(w)
    assert mem.values == (300 * 2**20, 2**29)
    assert src.oom_kill_times(w) == [(ContainerRef("shop", "web-1", "app"), 1763942700.0)]
    assert [s.values[-1] for s in src.limits("memory", w)] == [2**29]


def test_usage_file_without_a_column_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("timestamp,namespace,pod,cpu,memory\n1,shop,web-1,0.1,1\n")
    with pytest.raises(UserError) as err:
        load_usage_file(path)
    assert err.value.render() == (
        f"{path}: line 1: missing column(s) container "
        "(expected timestamp,namespace,pod,container,cpu,memory)"
    )


def test_usage_file_reads_the_reports_old_column_names_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text(
        "timestamp,namespace,pod,container,cpu_cores,memory_bytes\n"
        "1,shop,web-1,app,0.25,1048576\n"
    )
    notes: list[str] = []
    src = load_usage_file(path, notes)
    window = Window(0, 10, 1)
    (cpu,) = src.cpu_usage(window, "shop")
    (mem,) = src.memory_usage(window, "shop")
    assert cpu.values[0] == 0.25 and mem.values[0] == 1048576.0
    assert notes and "old column name(s) cpu_cores (now cpu), memory_bytes (now memory)" in notes[0]

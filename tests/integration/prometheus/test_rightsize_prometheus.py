"""Right-sizing against a real Prometheus with three days of backfilled history: the
OOM-killed container's memory recommendation rises above the limit it died at, and the
queries stay one per metric per namespace."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pricing import load_catalog
from scaler.adapters.prometheus import PrometheusSource
from scaler.cli import main
from scaler.core.quantity import parse_quantity
from scaler.core.rightsizing.cost import unit_prices
from scaler.rightsizing.config import Configurator
from scaler.rightsizing.report import build_report, history_window
from scaler.rightsizing.workloads import read_workloads
from tests.support.prometheus import Series, running_prometheus

STEP = 300.0
DAYS = 3
MiB = 2**20
LIMIT = 512 * MiB

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        resources:
          requests: {cpu: "1", memory: 1Gi}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      containers:
      - name: redis
        resources:
          requests: {cpu: 500m, memory: 512Mi}
          limits: {memory: 512Mi}
"""


@dataclass(frozen=True)
class Cluster:
    url: str
    end: float
    manifests: Path


def history(start: float, end: float) -> list[Series]:
    ts = [start + i * STEP for i in range(int((end - start) // STEP) + 1)]
    out: list[Series] = []
    # shop: cache-0 is OOM-killed at its 512Mi limit on the last day; shop-twin: the same
    # usage, no kill.
    for ns in ("shop", "shop-twin"):
        pods = [
            ("web-5f7d8c9b4-abcde", "app", 0.3, 300),
            ("web-5f7d8c9b4-fghij", "app", 0.3, 310),
            ("cache-0", "redis", 0.1, 470),
        ]
        for pod, container, cores, mib in pods:
            labels = {"namespace": ns, "pod": pod, "container": container, "node": "n1"}

            def daily(t: float) -> float:
                return 0.5 + 0.5 * math.sin(2 * math.pi * t / 86400)

            cpu_total, cum = [], 0.0
            for t in ts:
                cum += cores * (0.5 + daily(t)) * STEP
                cpu_total.append((t, cum))
            out.append(
                Series("container_cpu_usage_seconds_total", labels, cpu_total, kind="counter")
            )
            out.append(
                Series(
                    "container_memory_working_set_bytes",
                    labels,
                    [(t, mib * MiB * (0.9 + 0.1 * daily(t))) for t in ts],
                )
            )
            ident = {"namespace": ns, "pod": pod, "container": container}
            if container == "redis":
                out.append(
                    Series(
                        "kube_pod_container_resource_limits",
                        {**ident, "resource": "memory", "unit": "byte"},
                        [(t, float(LIMIT)) for t in ts],
                    )
                )
                killed = 1.0 if ns == "shop" else 0.0
                out.append(
                    Series(
                        "kube_pod_container_status_last_terminated_reason",
                        {**ident, "reason": "OOMKilled"},
                        [(t, killed if t >= end - 6 * 3600 else 0.0) for t in ts],
                    )
                )
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    end = float(int(time.time() - 3600) // 300 * 300)
    start = end - DAYS * 86400
    work = tmp_path_factory.mktemp("prom-rightsize")
    manifests = work / "manifests"
    manifests.mkdir()
    for ns in ("shop", "shop-twin"):
        (manifests / f"{ns}.yaml").write_text(MANIFESTS.replace("NS", ns))
    with running_prometheus(history(start, end), work / "prom") as url:
        yield Cluster(url, end, manifests)


def rightsize(capsys: pytest.CaptureFixture[str], c: Cluster, *args: str) -> dict[str, Any]:
    code = main(
        [
            "rightsize",
            str(c.manifests),
            "--prometheus",
            c.url,
            "--end",
            str(c.end),
            "-o",
            "json",
            *args,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def redis(doc: dict[str, Any], ns: str) -> dict[str, Any]:
    return next(c for c in doc["containers"] if c["namespace"] == ns and c["container"] == "redis")


def mem(text: str | None) -> float:
    assert text is not None
    return float(parse_quantity(text))


@pytest.mark.parametrize("strategy", ["scaler", "vpa"])
def test_oom_killed_container_gets_memory_above_the_limit_it_died_at(
    capsys: pytest.CaptureFixture[str], cluster: Cluster, strategy: str
) -> None:
    doc = rightsize(capsys, cluster, "--strategy", strategy)
    killed, twin = redis(doc, "shop"), redis(doc, "shop-twin")
    assert killed["usage"]["oomKills"] == 1 and twin["usage"]["oomKills"] == 0
    assert killed["risk"] == "high"
    got = mem(killed["recommended"]["requests"]["memory"])
    # Above what it died at by the VPA's bump: max(512Mi * 1.2, 512Mi + 100Mi) = 614.4Mi.
    assert got >= 614.4 * MiB
    assert got > mem(twin["recommended"]["requests"]["memory"])
    assert mem(killed["recommended"]["limits"]["memory"]) > LIMIT
    assert "OOM" in killed["reason"]


def test_percentile_without_oom_data_ignores_the_kill_like_krr(
    capsys: pytest.CaptureFixture[str], cluster: Cluster
) -> None:
    doc = rightsize(capsys, cluster, "--strategy", "percentile")
    assert redis(doc, "shop")["recommended"] == redis(doc, "shop-twin")["recommended"]
    on = rightsize(capsys, cluster, "--strategy", "percentile", "--use-oomkill-data")
    assert mem(redis(on, "shop")["recommended"]["requests"]["memory"]) >= 1.25 * LIMIT


def test_usage_comes_from_prometheus(capsys: pytest.CaptureFixture[str], cluster: Cluster) -> None:
    doc = rightsize(capsys, cluster)
    web = next(c for c in doc["containers"] if c["namespace"] == "shop" and c["workload"] == "web")
    # Two pods, 5m steps, 3 days (the counter's first sample has no rate yet).
    assert web["usage"]["dataPoints"] == 2 * DAYS * 288
    assert 0.3 < float(parse_quantity(web["usage"]["cpu"]["p95"])) < 0.35 * 1.5 + 0.01
    assert mem(web["recommended"]["requests"]["memory"]) < 400 * MiB


def test_one_query_per_metric_per_namespace(cluster: Cluster) -> None:
    workloads = read_workloads([cluster.manifests])
    source = PrometheusSource(cluster.url)
    conf = Configurator()
    report = build_report(
        workloads,
        source,
        conf,
        history_window(conf, cluster.end, STEP),
        unit_prices(load_catalog("us-east-1").instance_types),
        "prometheus",
    )
    assert len(report.rows) == 4
    # cpu, memory and OOM kills per namespace, and limits where something was killed.
    assert len(source.queries) == 7
    assert not any("pod=" in q for q in source.queries)

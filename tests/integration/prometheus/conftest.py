"""A real Prometheus with six hours of backfilled container history, ending an hour ago."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.prometheus import Series, running_prometheus

STEP = 60.0
HOURS = 6


@dataclass(frozen=True)
class History:
    url: str
    start: float
    end: float


def container_history(start: float, end: float) -> list[Series]:
    """shop/web-1 (two containers), shop/cache-0 (OOM-killed), batch/job-1."""
    ts = [start + i * STEP for i in range(int((end - start) // STEP) + 1)]
    rows = [
        # namespace, pod, container, node, cores, bytes, req cpu, req mem, lim mem
        ("shop", "web-1", "app", "node-a", 0.25, 300 * 2**20, 1.0, 1024 * 2**20, 2048 * 2**20),
        ("shop", "web-1", "sidecar", "node-a", 0.02, 40 * 2**20, 0.1, 128 * 2**20, 256 * 2**20),
        ("shop", "cache-0", "redis", "node-b", 0.1, 500 * 2**20, 0.5, 512 * 2**20, 512 * 2**20),
        ("batch", "job-1", "worker", "node-b", 1.5, 2 * 2**30, 2.0, 4 * 2**30, 4 * 2**30),
    ]
    out: list[Series] = []
    for ns, pod, c, node, cores, mem, rcpu, rmem, lmem in rows:
        ident = {"namespace": ns, "pod": pod, "container": c}
        cadvisor = {**ident, "node": node, "id": f"/kubepods/{pod}/{c}", "image": "x"}
        out.append(
            Series(
                "container_cpu_usage_seconds_total",
                cadvisor,
                [(t, cores * (t - start)) for t in ts],
                kind="counter",
            )
        )
        out.append(Series("container_memory_working_set_bytes", cadvisor, [(t, mem) for t in ts]))
        for metric, resource, value in (
            ("kube_pod_container_resource_requests", "cpu", rcpu),
            ("kube_pod_container_resource_requests", "memory", rmem),
            ("kube_pod_container_resource_limits", "memory", lmem),
        ):
            unit = "core" if resource == "cpu" else "byte"
            labels = {**ident, "node": node, "resource": resource, "unit": unit}
            out.append(Series(metric, labels, [(t, value) for t in ts]))
        reason = 1.0 if pod == "cache-0" else 0.0
        oom_labels = {**ident, "reason": "OOMKilled"}
        # The OOM kill shows from the middle of the history on.
        mid = start + (end - start) / 2
        out.append(
            Series(
                "kube_pod_container_status_last_terminated_reason",
                oom_labels,
                [(t, reason if t >= mid else 0.0) for t in ts],
            )
        )
    return out


@pytest.fixture(scope="package")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    end = float(int(time.time() - 3600) // 60 * 60)
    start = end - HOURS * 3600
    work = tmp_path_factory.mktemp("prometheus")
    with running_prometheus(container_history(start, end), work) as url:
        yield History(url=url, start=start, end=end)

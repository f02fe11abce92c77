"""The node-level saving: today's nodes against the fleet a re-simulation would launch.

The figure is an upper bound of what consolidation (scaler/core/disruption), moving a few
pods at a time within its budgets, can reach: with `scaler.simulation.provision`, the pods
running at the end of the window are all made pending and placed from scratch by the
NodePools, once at their
current requests and once at usage-based requests (the p95 of CPU and the peak of memory of
each container over the window). Three hourly prices at list price: the nodes running at the
end, the repack at requests (what bin-packing alone would save) and the repack at usage (what
right-sizing and bin-packing save together). The pods keep their scheduling constraints when
they come from a snapshot; pods rebuilt from Prometheus have none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from pricing import Catalog
from scaler.adapters.simulated import SimulatedCloud, SimulatedCluster
from scaler.core.allocation.model import ContainerInput
from scaler.core.allocation.savings import CPU_PERCENTILE, percentile
from scaler.core.model import DaemonSet, NodePool, Pod, Snapshot
from scaler.core.resources import CPU, MEMORY, Resources
from scaler.report.build import NodeSavings, Report
from scaler.simulation.provision import provision

METHOD = (
    "every pod placed anew by the NodePools (scaler.simulation.provision), at requests and at "
    "usage-based requests: the most consolidation could reach; `scaler simulate "
    "--consolidate` plans the moves step by step"
)
MIN_CPU_MILLI = 10  # a request of 0 would let the simulation stack pods without limit
MIN_MEMORY = 16 * 2**20


def usage_requests(containers: Sequence[ContainerInput]) -> dict[str, tuple[int, int]]:
    """Pod key -> (millicores, bytes): the sum over its containers of p95 CPU, peak memory."""
    out: dict[str, tuple[int, int]] = {}
    for c in containers:
        if not len(c.timestamps):
            continue
        cpu = percentile(np.asarray(c.cpu_usage, np.float64).tolist(), CPU_PERCENTILE)
        mem = float(np.max(c.ram_usage))
        key = f"{c.namespace}/{c.pod}"
        m, b = out.get(key, (0, 0))
        out[key] = (m + int(round(cpu * 1000)), b + int(mem))
    return out


def pods_from_containers(
    containers: Sequence[ContainerInput], at: int
) -> tuple[list[Pod], list[DaemonSet]]:
    """Pods (and DaemonSets) rebuilt from the series, with the requests they had last."""
    pods: dict[str, Pod] = {}
    daemonsets: dict[str, DaemonSet] = {}
    for c in containers:
        if not len(c.timestamps) or c.timestamps[-1] < at:
            continue
        cpu_last, ram_last = float(c.cpu_request[-1]), float(c.ram_request[-1])
        req = Resources({CPU: int(round(cpu_last * 1000)), MEMORY: int(ram_last)})
        if len(c.gpu_request) and c.gpu_request[-1]:
            req = req + Resources({"nvidia.com/gpu": int(c.gpu_request[-1])})
        if c.controller_kind == "DaemonSet":
            key = f"{c.namespace}/{c.controller}"
            prev = daemonsets.get(key)
            total = req if prev is None else prev.requests + req
            daemonsets[key] = DaemonSet(c.namespace, c.controller, total)
            continue
        key = f"{c.namespace}/{c.pod}"
        prev_pod = pods.get(key)
        pods[key] = Pod(
            namespace=c.namespace,
            name=c.pod,
            requests=req if prev_pod is None else prev_pod.requests + req,
            labels=dict(c.labels),
            node_name=c.node,
            owner_kind=c.controller_kind or None,
            owner_name=c.controller or None,
        )
    return list(pods.values()), list(daemonsets.values())


def _repack(
    pods: Sequence[Pod],
    daemonsets: Sequence[DaemonSet],
    pools: Sequence[NodePool],
    catalog: Catalog,
    requests: Mapping[str, tuple[int, int]] | None,
) -> tuple[float, int, list[str]]:
    pending = []
    for p in pods:
        if p.is_daemonset_pod:
            continue
        req = p.requests
        if requests is not None and p.key in requests:
            milli, mem = requests[p.key]
            d = dict(req.items())
            d[CPU] = max(milli, MIN_CPU_MILLI)
            d[MEMORY] = max(mem, MIN_MEMORY)
            req = Resources(d)
        pending.append(dataclasses.replace(p, node_name=None, requests=req))
    snap = Snapshot(nodes=(), pods=tuple(pending), daemonsets=tuple(daemonsets))
    plan = provision(SimulatedCluster(snap), SimulatedCloud(catalog), pools, catalog, False)
    new = [n for n in plan.nodes if not n.existing]
    return (
        sum(n.price_per_hour or 0.0 for n in new),
        len(new),
        [u.pod for u in plan.unschedulable],
    )


def node_savings(
    report: Report,
    pods: Sequence[Pod],
    daemonsets: Sequence[DaemonSet],
    pools: Sequence[NodePool],
    catalog: Catalog,
) -> NodeSavings:
    end = report.request.end
    running = [n for n in report.nodes if n.list_per_hour is not None and n.end >= end]
    now = sum(n.list_per_hour or 0.0 for n in running)
    usage = usage_requests(report.containers)
    at_req, n_req, _ = _repack(pods, daemonsets, pools, catalog, None)
    at_use, n_use, unplaced = _repack(pods, daemonsets, pools, catalog, usage)
    return NodeSavings(
        method=METHOD,
        current_per_hour=now,
        at_requests_per_hour=at_req,
        at_usage_per_hour=at_use,
        nodes_now=len(running),
        nodes_at_requests=n_req,
        nodes_at_usage=n_use,
        unschedulable=tuple(unplaced),
    )

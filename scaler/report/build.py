"""Reading the ports, running the allocation core, and keeping what the formatters show.

Samples at t stand for [t, t + resolution): the grid's points are start, start + resolution,
... up to the end (exclusive). A container ran at t when any of its series (usage or
requests) has a point there; a missing series counts as zero at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pricing import InstanceType
from scaler.core.allocation.aggregate import aggregate
from scaler.core.allocation.compute import allocate
from scaler.core.allocation.model import (
    Allocation,
    AllocationSet,
    ContainerInput,
    Grid,
    NodeInput,
)
from scaler.core.allocation.prices import ListPrice, NodePrice, effective_prices
from scaler.core.allocation.savings import WorkloadSavings, workload_savings
from scaler.core.allocation.sharing import share
from scaler.ports.inventory import InventorySource, NodeInfo, PodInfo
from scaler.ports.metrics import ContainerRef, MetricsSource, Samples, Window
from scaler.report.rules import Rules

# (instance type, capacity type, zone) -> (USD per hour, estimated), or None when unknown.
Pricer = Callable[[str, str, str | None], tuple[float, bool] | None]


@dataclass(frozen=True)
class ReportRequest:
    start: int
    end: int
    step: int
    resolution: int
    aggregate: tuple[str, ...]
    include_idle: bool
    cluster: str = "cluster-one"


@dataclass(frozen=True)
class NodeLine:
    name: str
    instance_type: str | None
    capacity_type: str
    zone: str | None
    basis: str
    list_per_hour: float | None
    per_hour_micros: int
    estimated: bool
    hours: float
    cost_micros: int
    idle_micros: int  # before any idle sharing
    end: int = 0  # when it stopped (may be after the window)


@dataclass(frozen=True)
class NodeSavings:
    """The node-level figure: today's nodes against a re-simulated fleet."""

    method: str
    current_per_hour: float
    at_requests_per_hour: float
    at_usage_per_hour: float
    nodes_now: int
    nodes_at_requests: int
    nodes_at_usage: int
    unschedulable: tuple[str, ...] = ()

    @property
    def savings_per_hour(self) -> float:
        return self.current_per_hour - self.at_usage_per_hour


@dataclass(frozen=True)
class Report:
    request: ReportRequest
    source: str
    share_idle: bool
    include_idle: bool
    steps: tuple[Mapping[str, Allocation], ...]
    sets: tuple[AllocationSet, ...]
    nodes: tuple[NodeLine, ...]
    savings: tuple[WorkloadSavings, ...]
    containers: tuple[ContainerInput, ...]
    warnings: tuple[str, ...] = ()
    node_savings: NodeSavings | None = None

    @property
    def grid(self) -> Grid:
        r = self.request
        return Grid(r.start, r.end, r.resolution, r.step)


def _snap(t: float, grid: Grid) -> int:
    return grid.start + round((t - grid.start) / grid.resolution) * grid.resolution


def _align(
    per_kind: Mapping[str, list[tuple[Any, Any]]],
) -> tuple[tuple[int, ...], dict[str, tuple[float, ...]]] | None:
    """One container's series on the union of their times (a later point at the same snapped
    time wins; a series without a point there counts zero), or None without any point."""
    last: dict[str, tuple[Any, Any]] = {}
    for kind, parts in per_kind.items():
        if not parts:
            continue
        t = np.concatenate([x for x, _ in parts])
        v = np.concatenate([y for _, y in parts])
        if not len(t):
            continue
        # the last point at each time: unique over the reversed arrays keeps the first seen
        uniq, first_rev = np.unique(t[::-1], return_index=True)
        last[kind] = (uniq, v[::-1][first_rev])
    if not last:
        return None
    times = np.unique(np.concatenate([t for t, _ in last.values()]))
    values: dict[str, tuple[float, ...]] = {}
    for kind in per_kind:
        out = np.zeros(len(times))
        if kind in last:
            t, v = last[kind]
            out[np.searchsorted(times, t)] = v
        values[kind] = tuple(out.tolist())
    return tuple(times.tolist()), values


def collect(
    metrics: MetricsSource, inventory: InventorySource, grid: Grid, warnings: list[str]
) -> tuple[list[NodeInfo], list[ContainerInput]]:
    window = Window(float(grid.start), float(grid.end - 1), float(grid.resolution))
    nodes = list(inventory.nodes(window))
    pods: dict[tuple[str, str], PodInfo] = {(p.namespace, p.pod): p for p in inventory.pods(window)}
    ns_labels = inventory.namespace_labels(window)
    kinds = ("cpu_use", "ram_use", "cpu_req", "ram_req", "gpu_req")
    # ref -> kind -> [(snapped times, values)], in the order the answers give them
    series: dict[ContainerRef, dict[str, list[tuple[Any, Any]]]] = {}
    node_of: dict[ContainerRef, str] = {}
    # One answer at a time, dropped once read into arrays: a month of a large cluster is
    # millions of samples per answer.
    asks: tuple[Callable[[], Sequence[Samples]], ...] = (
        lambda: metrics.cpu_usage(window),
        lambda: metrics.memory_usage(window),
        lambda: metrics.requests("cpu", window),
        lambda: metrics.requests("memory", window),
        lambda: inventory.gpu_requests(window),
    )
    for kind, ask in zip(kinds, asks, strict=True):
        for s in ask():
            per = series.setdefault(s.ref, {k: [] for k in kinds})[kind]
            t = np.asarray(s.timestamps, dtype=np.float64)
            v = np.asarray(s.values, dtype=np.float64)
            if len(t) != len(v):
                raise ValueError("timestamps and values differ in length")
            snapped = grid.start + np.rint((t - grid.start) / grid.resolution).astype(
                np.int64
            ) * grid.resolution
            keep = (snapped >= grid.start) & (snapped < grid.end)
            per.append((snapped[keep], v[keep]))
            if s.labels.get("node"):
                node_of.setdefault(s.ref, s.labels["node"])
    containers: list[ContainerInput] = []
    no_node = 0
    for ref in sorted(series, key=lambda r: (r.namespace, r.pod, r.container)):
        aligned = _align(series[ref])
        if aligned is None:
            continue
        times, values = aligned
        pod = pods.get((ref.namespace, ref.pod))
        node = node_of.get(ref) or (pod.node if pod else "")
        if not node:
            no_node += 1
            continue
        containers.append(
            ContainerInput(
                namespace=ref.namespace,
                pod=ref.pod,
                container=ref.container,
                node=node,
                timestamps=times,
                cpu_request=values["cpu_req"],
                cpu_usage=values["cpu_use"],
                ram_request=values["ram_req"],
                ram_usage=values["ram_use"],
                gpu_request=values["gpu_req"] if series[ref]["gpu_req"] and any(
                    len(x) for x, _ in series[ref]["gpu_req"]
                ) else (),
                labels=dict(pod.labels) if pod else {},
                annotations=dict(pod.annotations) if pod else {},
                namespace_labels=dict(ns_labels.get(ref.namespace, {})),
                controller_kind=pod.controller_kind if pod else "",
                controller=pod.controller if pod else "",
            )
        )
    if no_node:
        warnings.append(f"{no_node} containers had no node to charge and were left out")
    return nodes, containers


def _family(instance_type: str | None) -> str | None:
    return instance_type.split(".", 1)[0] if instance_type else None


def node_inputs(
    nodes: Sequence[NodeInfo], pricer: Pricer, rules: Rules, warnings: list[str]
) -> list[NodeInput]:
    lists: list[ListPrice] = []
    for n in nodes:
        found = pricer(n.instance_type, n.capacity_type, n.zone) if n.instance_type else None
        if found is None:
            warnings.append(
                f"node {n.name}: no price for instance type {n.instance_type or '(none)'} "
                f"({n.capacity_type}); it is counted as free"
            )
        lists.append(
            ListPrice(
                n.name,
                n.instance_type,
                _family(n.instance_type),
                n.capacity_type,
                found[0] if found else None,
                found[1] if found else True,
                int(n.start),
                int(n.end),
            )
        )
    prices = effective_prices(lists, rules.pricing)
    out = []
    for n in nodes:
        family = _family(n.instance_type)
        out.append(
            NodeInput(
                name=n.name,
                cpu_cores=n.cpu_cores,
                ram_bytes=n.ram_bytes,
                gpus=n.gpus,
                start=int(n.start),
                end=int(n.end),
                price=prices.get(n.name, NodePrice(None, 0, "unpriced", True)),
                instance_type=n.instance_type,
                capacity_type=n.capacity_type,
                labels=dict(n.labels),
                gpu_per_hour_micros=rules.gpu_prices.get(family or ""),
                provider_id=n.provider_id,
            )
        )
    return out


def build_report(
    request: ReportRequest,
    metrics: MetricsSource,
    inventory: InventorySource,
    pricer: Pricer,
    rules: Rules,
    source: str,
) -> Report:
    grid = Grid(request.start, request.end, request.resolution, request.step)
    warnings: list[str] = []
    infos, containers = collect(metrics, inventory, grid, warnings)
    nodes = node_inputs(infos, pricer, rules, warnings)
    result = allocate(grid, nodes, containers, rules.ratios, request.cluster, rules.teams)
    if result.unplaced_seconds:
        warnings.append(
            f"{result.unplaced_seconds / 3600:.1f} container-hours ran on nodes with no "
            "inventory (not charged)"
        )
    sets = share(result.sets, rules.sharing, grid.start, request.cluster)
    include_idle = request.include_idle or rules.show_idle
    steps = tuple(aggregate(s, request.aggregate, include_idle) for s in sets)
    lines = []
    info_by = {n.name: n for n in infos}
    for n in nodes:
        costs = [c for s in result.sets for c in s.nodes if c.node == n.name]
        if not costs:
            continue
        info = info_by[n.name]
        lines.append(
            NodeLine(
                name=n.name,
                instance_type=n.instance_type,
                capacity_type=n.capacity_type,
                zone=info.zone,
                basis=n.price.basis,
                list_per_hour=n.price.list_per_hour,
                per_hour_micros=n.price.per_hour_micros,
                estimated=n.price.estimated,
                hours=sum(c.seconds for c in costs) / 3600,
                cost_micros=sum(c.total_micros for c in costs),
                idle_micros=sum(c.idle_micros for c in costs),
                end=n.end,
            )
        )
    if any(line.estimated and line.capacity_type == "spot" for line in lines):
        warnings.append(
            "spot prices are estimates (on-demand price times the Spot Advisor saving band)"
        )
    return Report(
        request=request,
        source=source,
        share_idle=rules.sharing.share_idle,
        include_idle=include_idle,
        steps=steps,
        sets=sets,
        nodes=tuple(lines),
        savings=tuple(workload_savings(containers, result.units)),
        containers=tuple(containers),
        warnings=tuple(warnings),
    )


def catalog_pricer(instance_types: Sequence[InstanceType]) -> Pricer:
    """A Pricer over instance types with offerings (the catalog's, or the cloud's)."""
    by_name = {it.name: it for it in instance_types}

    def price(itype: str, capacity_type: str, zone: str | None) -> tuple[float, bool] | None:
        it = by_name.get(itype)
        if it is None:
            return None
        offers = [o for o in it.offerings if o.capacity_type == capacity_type]
        exact = [o for o in offers if o.zone == zone]
        if not offers:
            return None
        chosen = (exact or offers)[0]
        return float(chosen.price), bool(chosen.price_estimated)

    return price


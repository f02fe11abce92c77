"""`scaler report --output json`: OpenCost's /allocation/compute answer, field for field.

`{"code": 200, "data": [{name: allocation, ...} per step]}` with each allocation carrying
OpenCost's AllocationJSON fields (costs in USD, exact to the micro-dollar; resources
averaged over the time the allocation ran). What OpenCost has no field for (the nodes'
prices, savings, the totals' reconciliation, warnings) is under a separate `scaler` key,
which OpenCost clients ignore.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaler.core.allocation.aggregate import cpu_efficiency, ram_efficiency, total_efficiency
from scaler.core.allocation.model import Allocation, Properties
from scaler.core.allocation.money import to_dollars
from scaler.report.build import NodeSavings, Report
from scaler.times import rfc3339

# OpenCost's AllocationJSON fields, in its order.
ALLOCATION_FIELDS = (
    "name",
    "properties",
    "window",
    "start",
    "end",
    "minutes",
    "cpuCores",
    "cpuCoreRequestAverage",
    "cpuCoreUsageAverage",
    "cpuCoreHours",
    "cpuCost",
    "cpuCostAdjustment",
    "cpuEfficiency",
    "gpuCount",
    "gpuHours",
    "gpuCost",
    "gpuCostAdjustment",
    "networkTransferBytes",
    "networkReceiveBytes",
    "networkCost",
    "networkCrossZoneCost",
    "networkCrossRegionCost",
    "networkInternetCost",
    "networkCostAdjustment",
    "loadBalancerCost",
    "loadBalancerCostAdjustment",
    "pvBytes",
    "pvByteHours",
    "pvCost",
    "pvs",
    "pvCostAdjustment",
    "ramBytes",
    "ramByteRequestAverage",
    "ramByteUsageAverage",
    "ramByteHours",
    "ramCost",
    "ramCostAdjustment",
    "ramEfficiency",
    "externalCost",
    "sharedCost",
    "totalCost",
    "totalEfficiency",
    "lbAllocations",
)


# OpenCost's allocation fields for what scaler does not model (network, load balancers,
# persistent volumes), in OpenCost's order: present, so consumers of its JSON find them.
UNMODELLED: dict[str, float | None] = {
    "networkTransferBytes": 0.0,
    "networkReceiveBytes": 0.0,
    "networkCost": 0.0,
    "networkCrossZoneCost": 0.0,
    "networkCrossRegionCost": 0.0,
    "networkInternetCost": 0.0,
    "networkCostAdjustment": 0.0,
    "loadBalancerCost": 0.0,
    "loadBalancerCostAdjustment": 0.0,
    "pvBytes": 0.0,
    "pvByteHours": 0.0,
    "pvCost": 0.0,
    "pvs": None,
    "pvCostAdjustment": 0.0,
}


def _r(x: float) -> float:
    return round(x, 6)


def properties_json(p: Properties, *, api_fields: bool) -> dict[str, Any]:
    """OpenCost's AllocationProperties, empty fields left out. `api_fields`: also the
    Services, the node's providerID and the namespace's labels, as the allocation API
    answers; the file report (`report -o json`) does not carry them."""
    out: dict[str, Any] = {}
    for key, value in (
        ("cluster", p.cluster),
        ("node", p.node),
        ("container", p.container),
        ("controller", p.controller),
        ("controllerKind", p.controller_kind.lower()),
        ("namespace", p.namespace),
        ("pod", p.pod),
    ):
        if value:
            out[key] = value
    if api_fields and p.services:
        out["services"] = list(p.services)
    if api_fields and p.provider_id:
        out["providerID"] = p.provider_id
    if p.labels:
        out["labels"] = dict(p.labels)
    if p.annotations:
        out["annotations"] = dict(p.annotations)
    if api_fields and p.namespace_labels:
        out["namespaceLabels"] = dict(p.namespace_labels)
    return out


def allocation_json(a: Allocation) -> dict[str, Any]:
    secs = a.seconds

    def per(x: float) -> float:
        return _r(x / secs) if secs > 0 else 0.0

    doc: dict[str, Any] = {
        "name": a.name,
        "properties": properties_json(a.properties, api_fields=False),
        "window": {"start": rfc3339(a.window_start), "end": rfc3339(a.window_end)},
        "start": rfc3339(a.start),
        "end": rfc3339(a.end),
        "minutes": _r(secs / 60),
        "cpuCores": per(a.cpu_core_seconds),
        "cpuCoreRequestAverage": per(a.cpu_request_core_seconds),
        "cpuCoreUsageAverage": per(a.cpu_usage_core_seconds),
        "cpuCoreHours": _r(a.cpu_core_seconds / 3600),
        "cpuCost": to_dollars(a.cpu_micros),
        "cpuCostAdjustment": 0.0,
        "cpuEfficiency": _r(cpu_efficiency(a)),
        "gpuCount": per(a.gpu_seconds),
        "gpuHours": _r(a.gpu_seconds / 3600),
        "gpuCost": to_dollars(a.gpu_micros),
        "gpuCostAdjustment": 0.0,
        **UNMODELLED,
        "ramBytes": per(a.ram_byte_seconds),
        "ramByteRequestAverage": per(a.ram_request_byte_seconds),
        "ramByteUsageAverage": per(a.ram_usage_byte_seconds),
        "ramByteHours": _r(a.ram_byte_seconds / 3600),
        "ramCost": to_dollars(a.ram_micros),
        "ramCostAdjustment": 0.0,
        "ramEfficiency": _r(ram_efficiency(a)),
        "externalCost": to_dollars(a.external_micros),
        "sharedCost": to_dollars(a.shared_micros),
        "totalCost": to_dollars(a.total_micros),
        "totalEfficiency": _r(total_efficiency(a)),
        "lbAllocations": None,
    }
    return doc


def _node_savings(ns: NodeSavings | None) -> dict[str, Any] | None:
    if ns is None:
        return None
    return {
        "method": ns.method,
        "currentPerHour": _r(ns.current_per_hour),
        "atRequestsPerHour": _r(ns.at_requests_per_hour),
        "atUsagePerHour": _r(ns.at_usage_per_hour),
        "savingsPerHour": _r(ns.savings_per_hour),
        "savingsPerMonth": _r(ns.savings_per_hour * 730),
        "nodesNow": ns.nodes_now,
        "nodesAtRequests": ns.nodes_at_requests,
        "nodesAtUsage": ns.nodes_at_usage,
        "unschedulable": list(ns.unschedulable),
    }


def report_document(report: Report) -> dict[str, Any]:
    r = report.request
    data: list[Mapping[str, Any]] = [
        {name: allocation_json(a) for name, a in step.items()} for step in report.steps
    ]
    steps = [
        {
            "start": rfc3339(s.start),
            "end": rfc3339(s.end),
            "nodeCost": to_dollars(s.node_micros),
            "fixedSharedCost": to_dollars(s.fixed_shared_micros),
            "allocatedCost": to_dollars(
                sum(a.total_micros for a in s.allocations if a.kind == "workload")
            ),
            "idleCost": to_dollars(sum(a.total_micros for a in s.allocations if a.kind == "idle")),
            "unallocatedSharedCost": to_dollars(
                sum(a.total_micros for a in s.allocations if a.kind == "shared")
            ),
            "totalCost": to_dollars(s.total_micros),
        }
        for s in report.sets
    ]
    return {
        "code": 200,
        "data": data,
        "scaler": {
            "window": {"start": rfc3339(r.start), "end": rfc3339(r.end)},
            "step": r.step,
            "resolution": r.resolution,
            "aggregate": list(r.aggregate),
            "source": report.source,
            "idle": "shared" if report.share_idle else ("separate" if report.include_idle
                                                        else "hidden"),
            "steps": steps,
            "nodes": [
                {
                    "name": n.name,
                    "instanceType": n.instance_type,
                    "capacityType": n.capacity_type,
                    "zone": n.zone,
                    "priceBasis": n.basis,
                    "listPricePerHour": n.list_per_hour,
                    "pricePerHour": to_dollars(n.per_hour_micros),
                    "priceEstimated": n.estimated,
                    "hours": _r(n.hours),
                    "cost": to_dollars(n.cost_micros),
                    "idleCost": to_dollars(n.idle_micros),
                }
                for n in report.nodes
            ],
            "savings": {
                "workloads": [
                    {
                        "name": s.name,
                        "namespace": s.namespace,
                        "workload": s.workload,
                        "containers": s.containers,
                        "hours": _r(s.hours),
                        "cpuRequestCores": _r(s.cpu_request_cores),
                        "cpuRecommendedCores": _r(s.cpu_recommended_cores),
                        "ramRequestBytes": _r(s.ram_request_bytes),
                        "ramRecommendedBytes": _r(s.ram_recommended_bytes),
                        "costAtRequests": to_dollars(s.cost_at_requests_micros),
                        "costAtUsage": to_dollars(s.cost_at_usage_micros),
                        "savings": to_dollars(s.savings_micros),
                    }
                    for s in report.savings
                ],
                "nodes": _node_savings(report.node_savings),
            },
            "warnings": list(report.warnings),
        },
    }

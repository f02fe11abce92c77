"""OpenCost's /allocation/compute answer as JSON: the envelope and every AllocationJSON field.

Field names, order and shapes follow OpenCost's AllocationJSON (core/pkg/opencost/
allocation_json.go); numbers are rounded as OpenCost rounds them for responses
(`math.Round(x*1e5)/1e5`: five decimals, halves away from zero; NaN and infinities become
null). Errors are OpenCost's `{"code": 400, "status": "", "data": null, "message": "Error:
..."}`. Network, load balancer and PV figures are zero: scaler does not price them yet.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from scaler.core.allocation.aggregate import cpu_efficiency, ram_efficiency, total_efficiency
from scaler.core.allocation.model import Allocation
from scaler.core.allocation.money import to_dollars
from scaler.errors import UserError
from scaler.output.report_json import UNMODELLED, properties_json
from scaler.ports.metrics import MetricsError
from scaler.report.api import (
    AllocationService,
    ApiAllocation,
    AssetShare,
    QueryError,
    parse_query,
)
from scaler.times import rfc3339


def rounded(x: float) -> float | None:
    """OpenCost's formatFloat64ForResponse."""
    if math.isnan(x) or math.isinf(x):
        return None
    scaled = abs(x) * 100_000
    return math.copysign(math.floor(scaled + 0.5), x) / 100_000 + 0.0


def _assets(shares: Sequence[AssetShare]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in sorted(shares, key=lambda s: (s.cluster, s.node)):
        cpu = s.cpu / s.cpu_total if s.cpu_total > 0 else 0.0
        ram = s.ram / s.ram_total if s.ram_total > 0 else 0.0
        gpu = s.gpu / s.gpu_total if s.gpu_total > 0 else 0.0
        total = s.cpu_total + s.ram_total + s.gpu_total
        node_pct = (
            (cpu * s.cpu_total + ram * s.ram_total + gpu * s.gpu_total) / total if total else 0.0
        )
        doc: dict[str, Any] = {"cluster": s.cluster, "name": s.node, "type": "Node"}
        if s.provider_id:
            doc["providerID"] = s.provider_id
        doc.update(
            cpuPercentage=cpu,
            gpuPercentage=gpu,
            ramPercentage=ram,
            loadBalancerPercentage=0.0,
            pvPercentage=0.0,
            nodeResourceCostPercentage=node_pct,
        )
        out[f"{s.cluster},{s.node}"] = doc
    return out


def _breakdown(a: Allocation) -> dict[str, Any] | None:
    if not a.shared_breakdown:
        return None
    return {
        name: {"name": name, "totalCost": to_dollars(micros)}
        for name, micros in sorted(a.shared_breakdown.items())
    }


def allocation_json(x: ApiAllocation) -> dict[str, Any]:
    a = x.allocation
    secs = a.seconds
    r = rounded

    def per(v: float) -> float | None:
        return r(v / secs) if secs > 0 else 0.0

    gpu_avg = a.gpu_seconds / secs if secs > 0 else 0.0
    doc: dict[str, Any] = {
        "name": a.name,
        "properties": properties_json(a.properties, api_fields=True),
        "window": {"start": rfc3339(a.window_start), "end": rfc3339(a.window_end)},
        "start": rfc3339(a.start),
        "end": rfc3339(a.end),
        "minutes": r(secs / 60),
        "cpuCores": per(a.cpu_core_seconds),
        "cpuCoreRequestAverage": per(a.cpu_request_core_seconds),
        "cpuCoreUsageAverage": per(a.cpu_usage_core_seconds),
        "cpuCoreHours": r(a.cpu_core_seconds / 3600),
        "cpuCost": r(to_dollars(a.cpu_micros)),
        "cpuCostAdjustment": 0.0,
        "cpuCostIdle": r(to_dollars(a.cpu_idle_micros if a.kind != "idle" else a.cpu_micros)),
        "cpuEfficiency": r(cpu_efficiency(a)),
        "gpuCount": r(gpu_avg),
        "gpuRequestAverage": r(gpu_avg),
        "gpuUsageAverage": 0.0,  # no GPU usage metrics read yet
        "gpuHours": r(a.gpu_seconds / 3600),
        "gpuCost": r(to_dollars(a.gpu_micros)),
        "gpuCostAdjustment": 0.0,
        "gpuCostIdle": r(to_dollars(a.gpu_idle_micros if a.kind != "idle" else a.gpu_micros)),
        "gpuEfficiency": 0.0,
        **UNMODELLED,
        "ramBytes": per(a.ram_byte_seconds),
        "ramByteRequestAverage": per(a.ram_request_byte_seconds),
        "ramByteUsageAverage": per(a.ram_usage_byte_seconds),
        "ramByteHours": r(a.ram_byte_seconds / 3600),
        "ramCost": r(to_dollars(a.ram_micros)),
        "ramCostAdjustment": 0.0,
        "ramCostIdle": r(to_dollars(a.ram_idle_micros if a.kind != "idle" else a.ram_micros)),
        "ramEfficiency": r(ram_efficiency(a)),
        "externalCost": r(to_dollars(a.external_micros)),
        "sharedCost": r(to_dollars(a.shared_micros)),
        "totalCost": r(to_dollars(a.total_micros)),
        "totalEfficiency": r(total_efficiency(a)),
        "proportionalAssetResourceCosts": _assets(x.assets) if x.assets is not None else None,
        "lbAllocations": None,
        "sharedCostBreakdown": _breakdown(a),
    }
    return doc


def success(steps: Sequence[Mapping[str, ApiAllocation]]) -> bytes:
    body = {
        "code": 200,
        "status": "success",
        "data": [{name: allocation_json(x) for name, x in step.items()} for step in steps],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def error(code: int, message: str) -> bytes:
    body = {"code": code, "status": "", "data": None, "message": f"Error: {message}"}
    return json.dumps(body, separators=(",", ":")).encode()


def handle(service: AllocationService, params: Mapping[str, Sequence[str]]) -> tuple[int, bytes]:
    """(HTTP status, body) for one /allocation/compute request."""
    try:
        query = parse_query(params, service.clock())
    except QueryError as err:
        return 400, error(400, str(err))
    try:
        steps = service.compute(query)
    except UserError as err:
        return 400, error(400, f"bad request: {err.render()}")
    except MetricsError as err:
        return 500, error(500, str(err))
    return 200, success(steps)

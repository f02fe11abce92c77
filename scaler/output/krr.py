"""`scaler rightsize -o krr-json` and `-o krr-csv`: the report in KRR's own schemas, so whatever
reads `krr simple -f json` or `-f csv` (dashboards, scripts, Robusta) reads scaler unchanged.

Shapes from robusta-dev/krr's `Result`, `ResourceScan`, `K8sObjectData`, `HPAData` and its CSV
formatter; values in cores and bytes, `"?"` where there is no recommendation (too little
data), null where a value is unset. Workloads of kinds KRR's schema has no name for
(ReplicaSets without a Deployment) are listed under `errors` instead of `scans`.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from scaler.core.rightsizing.severity import (
    RESOURCES,
    SELECTORS,
    current_values,
    recommended_values,
    value_severities,
)
from scaler.output.json import render_json
from scaler.rightsizing.report import Report, Row

KRR_KINDS = (
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "Rollout",
    "DeploymentConfig",
    "StrimziPodSet",
    "GroupedJob",
)
NO_RECOMMENDATION = "?"
UNSET = "unset"


def _value(v: float | None, resource: str = "memory") -> float | str | None:
    if v is None:
        return None
    if math.isnan(v):
        return NO_RECOMMENDATION
    # CPU to the millicore (sums of float cores read 1.2550000000000001 otherwise).
    return round(float(v), 3) if resource == "cpu" else float(v)


def _pods(report: Report, r: Row) -> list[dict[str, Any]]:
    """The workload's pods; those seen only in the metrics (gone since) are `deleted`."""
    live = set(r.workload.pods)
    seen = set(report.pods.get(r.workload.key, ()))
    if not live:
        return [{"name": p, "deleted": False} for p in sorted(seen)]
    return [{"name": p, "deleted": p not in live} for p in sorted(live | seen)]


def _hpa(r: Row) -> dict[str, Any] | None:
    if not r.workload.hpas:
        return None
    h = r.workload.hpas[0]
    target = {t.resource: t.utilization for t in r.workload.hpas if t.name == h.name}
    return {
        "min_replicas": h.min_replicas,
        "max_replicas": h.max_replicas,
        "current_replicas": h.current_replicas,
        "desired_replicas": h.desired_replicas,
        "target_cpu_utilization_percentage": target.get("cpu"),
        "target_memory_utilization_percentage": target.get("memory"),
    }


def scan(report: Report, r: Row) -> dict[str, Any]:
    rec = r.recommendation
    now = current_values(r.container.current)
    new = recommended_values(rec)
    sev = value_severities(r.container.current, rec)
    warnings = [] if rec.points else ["NoPrometheusPods"]
    info = rec.reason or None
    return {
        "object": {
            "cluster": report.cluster,
            "name": r.workload.name,
            "container": r.container.name,
            "pods": _pods(report, r),
            "hpa": _hpa(r),
            "namespace": r.workload.namespace,
            "kind": r.workload.kind,
            "allocations": {
                "requests": {res: _value(now["requests"][res], res) for res in RESOURCES},
                "limits": {res: _value(now["limits"][res], res) for res in RESOURCES},
                "info": {},
            },
            "warnings": warnings,
            "labels": dict(r.workload.labels),
            "annotations": {},
        },
        "recommended": {
            **{
                sel: {
                    res: {"value": _value(new[sel][res], res), "severity": sev[sel][res].value}
                    for res in RESOURCES
                }
                for sel in SELECTORS
            },
            "info": {res: info for res in RESOURCES},
        },
        "severity": r.severity.value,
    }


def krr_result(report: Report) -> dict[str, Any]:
    """KRR's `Result` document."""
    rows = [r for r in report.rows if r.workload.kind in KRR_KINDS]
    errors = [
        {
            "name": "UnsupportedKind",
            "kind": r.workload.kind,
            "namespace": r.workload.namespace,
            "workload": r.workload.name,
            "container": r.container.name,
            "message": f"{r.workload.kind} is not a kind KRR's schema has",
        }
        for r in report.rows
        if r.workload.kind not in KRR_KINDS
    ]
    policies = sorted({r.policy for r in rows if r.policy})
    description = f"scaler rightsize from {report.source}"
    if policies:
        description += (
            f"; workloads selected by RightSizingPolicy {', '.join(policies)} use its strategy "
            "and settings"
        )
    return {
        "scans": [scan(report, r) for r in rows],
        "score": report.score,
        "resources": list(RESOURCES),
        "description": description,
        "strategy": {"name": report.strategy, "settings": dict(report.settings)},
        "errors": errors,
        "clusterSummary": {},
        "config": None,
    }


def krr_json(report: Report) -> str:
    return render_json(krr_result(report))


# -- CSV (KRR's csv formatter's columns and cell formats) ---------------------------------

CSV_COLUMNS = (
    "Namespace",
    "Name",
    "Pods",
    "Old Pods",
    "Type",
    "Container",
    "Severity",
    "CPU Diff",
    "CPU Requests",
    "CPU Limits",
    "Memory Diff",
    "Memory Requests",
    "Memory Limits",
)
_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def krr_units(x: float) -> str:
    """A value as KRR prints it: millis below 1, the number below 1024, else binary units
    to the nearest whole (keeping at least two digits)."""
    if x < 1:
        return f"{int(x * 1000)}m"
    if x < 1024:
        return str(x)
    n = int(x)
    for i, unit in enumerate(_BINARY):
        if n < 1024 ** (i + 1) or i == len(_BINARY) - 1 or n / 1024 ** (i + 1) < 10:
            return f"{n / 1024**i:.0f}{unit}"
    raise AssertionError("unreachable")


def _fmt(v: float | str | None) -> str:
    if v is None:
        return UNSET
    if isinstance(v, str):
        return NO_RECOMMENDATION
    return krr_units(v)


def krr_diff(allocated: float | None, recommended: float | str | None, multiplier: int = 1) -> str:
    if recommended is None or isinstance(recommended, str):
        return ""
    d = recommended - (allocated or 0.0)
    return ("+" if d >= 0 else "-") + _fmt(abs(d) * multiplier)


def krr_cell(allocated: float | None, recommended: float | str | None, requests: bool) -> str:
    if allocated is None and recommended is None:
        return UNSET
    diff = krr_diff(allocated, recommended) if requests else ""
    prefix = f"({diff}) " if diff else ""
    return f"{prefix}{_fmt(allocated)} -> {_fmt(recommended)}"


def krr_csv(report: Report) -> str:
    doc = krr_result(report)
    buf = io.StringIO()
    w = csv.writer(buf)  # KRR's DictWriter defaults: excel dialect, \r\n
    w.writerow(CSV_COLUMNS)
    previous: tuple[Any, ...] | None = None
    for s in doc["scans"]:
        o = s["object"]
        group = (o["cluster"], o["namespace"], o["name"])
        first = group != previous
        previous = group
        pods = o["pods"]
        current = sum(1 for p in pods if not p["deleted"])
        row: list[str] = [
            o["namespace"] if first else "",
            o["name"] if first else "",
            str(current) if first else "",
            str(len(pods) - current) if first else "",
            o["kind"] if first else "",
            o["container"],
            s["severity"],
        ]
        alloc, rec = o["allocations"], s["recommended"]
        for res in RESOURCES:
            req_now, req_new = alloc["requests"][res], rec["requests"][res]["value"]
            lim_now, lim_new = alloc["limits"][res], rec["limits"][res]["value"]
            row += [
                krr_diff(req_now, req_new, current),
                krr_cell(req_now, req_new, True),
                krr_cell(lim_now, lim_new, False),
            ]
        w.writerow(row)
    return buf.getvalue()

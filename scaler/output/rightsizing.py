"""`scaler rightsize` output: one document (JSON/YAML), a table, and CSV rows."""

from __future__ import annotations

from typing import Any

from scaler.core.money import money
from scaler.core.quantity import format_bytes, format_cores
from scaler.core.rightsizing.severity import score_letter
from scaler.output.csv import render_csv
from scaler.output.table import Cell, render_table
from scaler.rightsizing.report import Report, Row
from scaler.times import rfc3339

cpu = format_cores
mem = format_bytes


def cpu_about(v: float | None) -> str | None:
    """Usage, to the millicore."""
    return None if v is None else cpu(round(v, 3))


def mem_about(v: float | None) -> str | None:
    """Usage, to the MiB."""
    return None if v is None else mem(round(v / 2**20) * 2**20)


def _pcts(stats: dict[str, float], fmt: Any) -> dict[str, str | None]:
    return {k: fmt(v) for k, v in stats.items()}


def row_document(r: Row) -> dict[str, Any]:
    rec = r.recommendation
    c = r.container.current
    return {
        "namespace": r.workload.namespace,
        "kind": r.workload.kind,
        "workload": r.workload.name,
        "container": r.container.name,
        "replicas": r.workload.replicas,
        "current": {
            "requests": {"cpu": cpu(c.cpu_request), "memory": mem(c.memory_request)},
            "limits": {"cpu": cpu(c.cpu_limit), "memory": mem(c.memory_limit)},
        },
        "recommended": {
            "requests": {"cpu": cpu(rec.cpu_request), "memory": mem(rec.memory_request)},
            "limits": {"cpu": cpu(rec.cpu_limit), "memory": mem(rec.memory_limit)},
            "lowerBound": None
            if rec.cpu_bounds is None or rec.memory_bounds is None
            else {"cpu": cpu(rec.cpu_bounds[0]), "memory": mem(rec.memory_bounds[0])},
            "upperBound": None
            if rec.cpu_bounds is None or rec.memory_bounds is None
            else {"cpu": cpu(rec.cpu_bounds[1]), "memory": mem(rec.memory_bounds[1])},
        },
        "change": {"cpu": rec.change_cpu, "memory": rec.change_memory},
        "usage": {
            "cpu": _pcts(rec.cpu_percentiles, cpu_about),
            "memory": _pcts(rec.memory_percentiles, mem_about),
            "dataPoints": rec.points,
            "historyHours": rec.history_hours,
            "oomKills": rec.oom_kills,
        },
        "strategy": rec.strategy,
        "policy": r.policy,
        "reason": rec.reason,
        "warnings": list(rec.warnings),
        "severity": r.severity.value,
        "risk": rec.risk,
        "riskReasons": list(rec.risk_reasons),
        "monthlySaving": round(r.saving, 2),
    }


def report_document(report: Report) -> dict[str, Any]:
    w = report.window
    return {
        "source": report.source,
        "window": {
            "start": _iso(w.start),
            "end": _iso(w.end),
            "stepSeconds": w.step,
        },
        "prices": {
            "cpuCoreHour": round(report.prices.cpu_core_hour, 6),
            "memoryGiBHour": round(report.prices.memory_gib_hour, 6),
            "basis": report.prices.basis,
            "currency": "USD",
        },
        "containers": [row_document(r) for r in report.rows],
        "summary": {
            "containers": len(report.rows),
            "changes": len(report.changed),
            "monthlySaving": round(report.saving, 2),
            "highRisk": sum(1 for r in report.rows if r.recommendation.risk == "high"),
            "score": report.score,
            "scoreLetter": score_letter(report.score),
            "severities": {
                s: sum(1 for r in report.rows if r.severity.value == s)
                for s in ("CRITICAL", "WARNING", "OK", "GOOD", "UNKNOWN")
            },
        },
    }


def _iso(ts: float) -> str:
    return rfc3339(ts)


def _arrow(old: str | None, new: str | None, changed: bool) -> str:
    if not changed or old == new:
        return old or "-"
    return f"{old or '-'} -> {new or '-'}"


TABLE_HEADERS = (
    "WORKLOAD",
    "CONTAINER",
    "CPU REQUEST",
    "CPU LIMIT",
    "MEMORY REQUEST",
    "MEMORY LIMIT",
    "CPU P95",
    "MEM MAX",
    "POINTS",
    "SEVERITY",
    "RISK",
    "$/MONTH",
)


def report_table(report: Report) -> str:
    rows: list[list[Cell]] = []
    notes: list[str] = []
    for i, r in enumerate(report.rows, start=1):
        rec, cur = r.recommendation, r.container.current
        rows.append(
            [
                f"{r.workload.kind} {r.workload.namespace}/{r.workload.name}",
                f"{r.container.name} [{i}]",
                _arrow(cpu(cur.cpu_request), cpu(rec.cpu_request), rec.change_cpu),
                _arrow(cpu(cur.cpu_limit), cpu(rec.cpu_limit), rec.change_cpu),
                _arrow(mem(cur.memory_request), mem(rec.memory_request), rec.change_memory),
                _arrow(mem(cur.memory_limit), mem(rec.memory_limit), rec.change_memory),
                cpu_about(rec.cpu_percentiles.get("p95")),
                mem_about(rec.memory_percentiles.get("max")),
                rec.points,
                r.severity.value,
                rec.risk,
                round(r.saving, 2),
            ]
        )
        note = f"[{i}] {rec.strategy}: {rec.reason}"
        for warning in rec.warnings:
            note += f"\n    warning: {warning}"
        if rec.risk_reasons:
            note += f"\n    risk {rec.risk}: {'; '.join(rec.risk_reasons)}"
        notes.append(note)
    w = report.window
    head = (
        f"Right-sizing from {report.source}, {_iso(w.start)} to {_iso(w.end)} "
        f"(step {w.step:g}s); prices {money(report.prices.cpu_core_hour, 4)}/vCPU-h, "
        f"{money(report.prices.memory_gib_hour, 4)}/GiB-h ({report.prices.basis})"
    )
    total = (
        f"{len(report.changed)} of {len(report.rows)} containers to change; expected saving "
        f"{money(report.saving)}/month (730 h, all replicas); score {report.score} "
        f"({score_letter(report.score)}, KRR's: share of containers not WARNING or CRITICAL)"
    )
    return "\n".join([head, "", render_table(TABLE_HEADERS, rows), "", total, "", *notes]) + "\n"


CSV_HEADERS = (
    "namespace",
    "kind",
    "workload",
    "container",
    "replicas",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "rec_cpu_request",
    "rec_cpu_limit",
    "rec_memory_request",
    "rec_memory_limit",
    "change_cpu",
    "change_memory",
    "cpu_p50",
    "cpu_p95",
    "cpu_p99",
    "cpu_max",
    "memory_p50",
    "memory_p95",
    "memory_p99",
    "memory_max",
    "data_points",
    "history_hours",
    "oom_kills",
    "strategy",
    "policy",
    "severity",
    "risk",
    "monthly_saving",
    "reason",
    "warnings",
    "cluster_score",
)


def report_csv(report: Report) -> str:
    rows: list[list[Cell]] = []
    for r in report.rows:
        rec, cur = r.recommendation, r.container.current
        cp, mp = rec.cpu_percentiles, rec.memory_percentiles
        rows.append(
            [
                r.workload.namespace,
                r.workload.kind,
                r.workload.name,
                r.container.name,
                r.workload.replicas,
                cpu(cur.cpu_request),
                cpu(cur.cpu_limit),
                mem(cur.memory_request),
                mem(cur.memory_limit),
                cpu(rec.cpu_request),
                cpu(rec.cpu_limit),
                mem(rec.memory_request),
                mem(rec.memory_limit),
                str(rec.change_cpu).lower(),
                str(rec.change_memory).lower(),
                *(cpu_about(cp.get(k)) for k in ("p50", "p95", "p99", "max")),
                *(mem_about(mp.get(k)) for k in ("p50", "p95", "p99", "max")),
                rec.points,
                rec.history_hours,
                rec.oom_kills,
                rec.strategy,
                r.policy,
                r.severity.value,
                rec.risk,
                round(r.saving, 2),
                rec.reason,
                " | ".join(rec.warnings),
                report.score,
            ]
        )
    return render_csv(CSV_HEADERS, rows)

"""`scaler report` for a terminal: cost per aggregate over the window, nodes, savings."""

from __future__ import annotations

from scaler.core.allocation.aggregate import (
    accumulate,
    cpu_efficiency,
    ram_efficiency,
    total_efficiency,
)
from scaler.core.allocation.money import to_dollars
from scaler.core.money import money
from scaler.output.table import Cell, render_table
from scaler.report.build import Report
from scaler.times import rfc3339

GIB = 1024**3


def _usd(micros: int) -> str:
    return f"{to_dollars(micros):,.2f}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def report_table(report: Report, top: int = 10) -> str:
    r = report.request
    total = accumulate(report.steps)
    out = [
        f"Cost report {rfc3339(r.start)} .. {rfc3339(r.end)} ({report.source})",
        f"aggregate: {','.join(r.aggregate)}; {len(report.steps)} step(s) of {r.step // 3600}h"
        f"{(r.step % 3600) // 60:02d}m; resolution {r.resolution}s; idle "
        + ("shared back by cost" if report.share_idle else
           "as its own line" if report.include_idle else "not shown"),
        "",
    ]
    rows: list[list[Cell]] = []
    for name, a in total.items():
        rows.append([
            name, _usd(a.cpu_micros), _usd(a.ram_micros), _usd(a.gpu_micros),
            _usd(a.shared_micros), _usd(a.total_micros),
            _pct(cpu_efficiency(a)), _pct(ram_efficiency(a)), _pct(total_efficiency(a)),
        ])
    shown = sum(a.total_micros for a in total.values())
    rows.append(["TOTAL", "", "", "", "", _usd(shown), "", "", ""])
    out.append(render_table(
        ["NAME", "CPU $", "RAM $", "GPU $", "SHARED $", "TOTAL $", "CPU EFF", "RAM EFF",
         "TOTAL EFF"], rows))
    node_total = sum(s.node_micros for s in report.sets)
    fixed = sum(s.fixed_shared_micros for s in report.sets)
    out.append(
        f"\nnodes {money(to_dollars(node_total))} + fixed shared costs "
        f"{money(to_dollars(fixed))} = {money(to_dollars(node_total + fixed))}"
        + ("" if shown == node_total + fixed else
           f" (idle {money(to_dollars(node_total + fixed - shown))} not shown: "
           "--include-idle)")
    )
    out.append("")
    node_rows: list[list[Cell]] = []
    for n in report.nodes:
        node_rows.append([
            n.name, n.instance_type or "-", n.capacity_type, n.basis,
            f"{n.list_per_hour:.4f}" if n.list_per_hour is not None else "-",
            f"{to_dollars(n.per_hour_micros):.4f}" + ("*" if n.estimated else ""),
            f"{n.hours:.1f}", _usd(n.cost_micros),
            _pct(n.idle_micros / n.cost_micros) if n.cost_micros else "-",
        ])
    out.append(render_table(
        ["NODE", "TYPE", "CAPACITY", "PRICED AS", "LIST $/H", "PAID $/H", "HOURS", "COST $",
         "IDLE"], node_rows))
    if any(n.estimated for n in report.nodes):
        out.append("* estimated price")
    out.append("")
    out.append(f"Savings at usage (p95 CPU, peak memory) vs requests, top {top}:")
    sav_rows: list[list[Cell]] = []
    for s in report.savings[:top]:
        sav_rows.append([
            s.name, f"{s.cpu_request_cores:.2f} -> {s.cpu_recommended_cores:.2f}",
            f"{s.ram_request_bytes / GIB:.2f} -> {s.ram_recommended_bytes / GIB:.2f}",
            _usd(s.cost_at_requests_micros), _usd(s.cost_at_usage_micros), _usd(s.savings_micros),
        ])
    out.append(render_table(
        ["WORKLOAD", "CPU CORES", "MEMORY GIB", "AT REQUESTS $", "AT USAGE $", "SAVES $"],
        sav_rows))
    ns = report.node_savings
    if ns is not None:
        out.append("")
        out.append(
            f"Nodes: {money(ns.current_per_hour, 4)}/h now ({ns.nodes_now} nodes); "
            f"repacked at requests {money(ns.at_requests_per_hour, 4)}/h "
            f"({ns.nodes_at_requests}); at usage {money(ns.at_usage_per_hour, 4)}/h "
            f"({ns.nodes_at_usage}): saves {money(ns.savings_per_hour, 4)}/h, "
            f"{money(ns.savings_per_hour * 730)}/month "
            f"[{ns.method}]"
        )
        if ns.unschedulable:
            out.append(f"  not placed in the re-simulation: {', '.join(ns.unschedulable[:5])}")
    for w in report.warnings:
        out.append(f"note: {w}")
    return "\n".join(out) + "\n"

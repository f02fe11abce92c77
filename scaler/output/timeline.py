"""The timeline simulation as a document (JSON/YAML), a table, and a self-contained HTML
chart (inline SVG, no scripts or external files)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from scaler.core.money import money
from scaler.output.table import Cell, render_table
from scaler.simulation.timeline import Row, TimelineResult

MAX_TABLE_ROWS = 90


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def summary(result: TimelineResult) -> dict[str, Any]:
    rows = result.rows
    return {
        "steps": len(rows),
        "stepSeconds": result.step,
        "totalCost": round(result.total_cost, 4),
        "peakNodes": max((r.nodes for r in rows), default=0),
        "finalNodes": rows[-1].nodes if rows else 0,
        "peakCostPerHour": max((r.cost_per_hour for r in rows), default=0.0),
        "finalCostPerHour": rows[-1].cost_per_hour if rows else 0.0,
        "pendingPodSeconds": round(result.pending_pod_seconds, 1),
        "disruptions": len(result.disruptions),
        "disruptionPasses": result.passes,
        "decisionSeconds": round(result.decision_seconds, 3),
        "droppedByRevalidation": list(result.dropped),
    }


def timeline_document(result: TimelineResult) -> dict[str, Any]:
    return {
        "summary": summary(result),
        "series": [
            {"time": r.at, "replicas": r.replicas, "nodes": r.nodes, "launching": r.launching,
             "costPerHour": r.cost_per_hour, "pendingPods": r.pending_pods,
             "disrupted": r.disrupted}
            for r in result.rows
        ],
        "disruptions": [
            {"time": d.at, "node": d.node, "reason": d.reason,
             "savingsPerHour": round(d.savings_per_hour, 6),
             "replacements": list(d.replacements)}
            for d in result.disruptions
        ],
        # Every launch, cordon, drain and delete in order: what `scaler run` would do.
        "decisions": [
            {"time": round(x.at - result.start, 3), "action": x.action, "target": x.target}
            for x in result.decisions
        ],
    }


def _sampled(rows: Sequence[Row]) -> list[Row]:
    if len(rows) <= MAX_TABLE_ROWS:
        return list(rows)
    every = -(-len(rows) // MAX_TABLE_ROWS)
    # Keep rows where something happened, and a regular sample of the rest.
    return [r for i, r in enumerate(rows) if i % every == 0 or r.disrupted
            or i == len(rows) - 1]


def timeline_table(result: TimelineResult) -> str:
    s = summary(result)
    rows: list[list[Cell]] = [
        [_clock(r.at), r.replicas, r.nodes, r.launching, money(r.cost_per_hour, 4),
         r.pending_pods, r.disrupted or None]
        for r in _sampled(result.rows)
    ]
    out = [render_table(["TIME", "REPLICAS", "NODES", "LAUNCHING", "COST/H", "PENDING",
                         "DISRUPTED"], rows)]
    out.append("")
    out.append(
        f"Total cost {money(s['totalCost'], 4)} over {_clock(len(result.rows) * result.step)}; "
        f"peak {s['peakNodes']} nodes ({money(s['peakCostPerHour'], 4)}/h), final "
        f"{s['finalNodes']} nodes ({money(s['finalCostPerHour'], 4)}/h); "
        f"{s['disruptions']} nodes disrupted in {s['disruptionPasses']} passes "
        f"({s['decisionSeconds']:.2f} s deciding); pending pod time "
        f"{s['pendingPodSeconds'] / 60:,.1f} pod-minutes")
    for note in s["droppedByRevalidation"]:
        out.append(f"Revalidation: {note}")
    return "\n".join(out) + "\n"


def _chart(title: str, rows: Sequence[Row], value: Callable[[Row], float], color: str,
           fmt: str, marks: Sequence[float]) -> str:
    # The right margin leaves room for the last time label, centred on the axis's end.
    w, h, left, right, top, bottom = 760, 170, 60, 30, 24, 24
    xs = [r.at for r in rows] or [0.0]
    ys = [value(r) for r in rows] or [0.0]
    x_max = max(xs[-1], 1.0)
    y_max = max(max(ys), 1e-9) * 1.1
    def px(x: float) -> float:
        return left + (w - left - right) * x / x_max
    def py(y: float) -> float:
        return top + (h - top - bottom) * (1 - y / y_max)
    path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
                    for i, (x, y) in enumerate(zip(xs, ys, strict=True)))
    parts = [f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="15" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" '
             'stroke="#999"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#999"/>']
    for frac in (0.0, 0.5, 1.0):
        y = y_max / 1.1 * frac
        parts.append(f'<text x="{left - 4}" y="{py(y) + 4:.1f}" font-size="10" '
                     f'text-anchor="end">{escape(fmt.format(y))}</text>')
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = x_max * frac
        parts.append(f'<text x="{px(x):.1f}" y="{h - 8}" font-size="10" '
                     f'text-anchor="middle">{_clock(x)}</text>')
    for m in marks:
        parts.append(f'<line x1="{px(m):.1f}" y1="{top}" x2="{px(m):.1f}" y2="{h - bottom}" '
                     'stroke="#d62728" stroke-dasharray="3,3" stroke-width="0.8"/>')
    parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_html(result: TimelineResult) -> str:
    rows = result.rows
    marks = sorted({d.at for d in result.disruptions})
    s = summary(result)
    charts = [
        _chart("Replicas", rows, lambda r: r.replicas, "#7f7f7f", "{:.0f}", marks),
        _chart("Nodes (Ready and launching)", rows, lambda r: r.nodes, "#1f77b4", "{:.0f}",
               marks),
        _chart("Cost per hour (USD)", rows, lambda r: r.cost_per_hour, "#2ca02c", "${:.3f}",
               marks),
        _chart("Pending pods", rows, lambda r: r.pending_pods, "#ff7f0e", "{:.0f}", marks),
    ]
    facts = "".join(f"<li>{escape(k)}: {escape(str(v))}</li>" for k, v in s.items()
                    if k != "droppedByRevalidation")
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>scaler timeline</title>"
        "<style>body{font-family:sans-serif;margin:20px}svg{display:block;margin:8px 0}"
        "</style></head><body><h1>scaler simulate --timeline</h1>"
        "<p>Dashed red lines: nodes removed by a disruption pass.</p>"
        + "".join(charts) + f"<ul>{facts}</ul></body></html>\n"
    )

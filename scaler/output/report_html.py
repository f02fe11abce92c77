"""`scaler report --output html`: one self-contained page with charts, tables and notes.

Charts are inline SVG drawn here (no library, no network): cost by aggregate over time
(stacked bars per step), idle share per node, efficiency per aggregate, and the top savings.
A few lines of inline JavaScript sort the tables; the page reads the same without it.

The layout has fixed sizes (a 1200-pixel page, four 570x340 chart panels in a 2x2 grid
under a 140-pixel header) so a screenshot can be checked region by region.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from scaler.core.allocation.aggregate import (
    accumulate,
    cpu_efficiency,
    ram_efficiency,
    total_efficiency,
)
from scaler.core.allocation.model import IDLE_NAME
from scaler.core.allocation.money import to_dollars
from scaler.core.money import money
from scaler.report.build import Report
from scaler.times import rfc3339

PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)
IDLE_COLOR = "#c9c9c9"
PANEL_W, PANEL_H = 570, 340
CHART_W, CHART_H = 548, 290
HEADER_H = 140
TOP = 8  # series shown by name; the rest are "other"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _usd(x: float) -> str:
    return money(x)


def _empty(msg: str) -> str:
    return (
        f'<svg width="{CHART_W}" height="{CHART_H}" role="img">'
        f'<text x="{CHART_W // 2}" y="{CHART_H // 2}" text-anchor="middle" '
        f'fill="#666" font-size="14">{_e(msg)}</text></svg>'
    )


def stacked_bars(
    labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]], unit: str = "$"
) -> str:
    """Vertical stacked bars: one bar per label, one colored segment per series."""
    if not labels or not series or not any(v for _, _, vals in series for v in vals):
        return _empty("no cost in this window")
    left, right, top, bottom = 56, 130, 10, 40
    w, h = CHART_W - left - right, CHART_H - top - bottom
    totals = [sum(vals[i] for _, _, vals in series) for i in range(len(labels))]
    peak = max(totals) or 1.0
    bw = w / len(labels)
    parts = [f'<svg width="{CHART_W}" height="{CHART_H}" role="img" font-size="11">']
    for frac in (0, 0.5, 1):
        y = top + h - frac * h
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
            f"{unit}{peak * frac:,.2f}</text>"
        )
    for i, label in enumerate(labels):
        y = top + h
        x = left + i * bw + bw * 0.12
        for name, color, vals in series:
            v = vals[i]
            if v <= 0:
                continue
            bh = v / peak * h
            y -= bh
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.76:.1f}" height="{bh:.1f}" '
                f'fill="{color}"><title>{_e(name)} {_e(label)}: {unit}{v:,.4f}</title></rect>'
            )
        if len(labels) <= 16 or i % max(len(labels) // 8, 1) == 0:
            parts.append(
                f'<text x="{left + (i + 0.5) * bw:.1f}" y="{top + h + 14}" '
                f'text-anchor="middle" fill="#555">{_e(label)}</text>'
            )
    for k, (name, color, _) in enumerate(series[:14]):
        y = top + 4 + k * 16
        parts.append(
            f'<rect x="{left + w + 10}" y="{y}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + w + 24}" y="{y + 9}" fill="#333">{_e(name[:16])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hbars(
    rows: Sequence[tuple[str, Sequence[tuple[float, str]]]],
    fmt: str = "pct",
    limit: float | None = None,
) -> str:
    """Horizontal bars: a row per label, one or more bars per row (value, color)."""
    if not rows or not any(v > 0 for _, bars in rows for v, _ in bars):
        return _empty("nothing to show")
    left, right, top = 190, 70, 6
    w = CHART_W - left - right
    per_row = max(len(bars) for _, bars in rows)
    row_h = min((CHART_H - top - 6) / len(rows), 12 * per_row + 10)
    peak = limit or max(v for _, bars in rows for v, _ in bars) or 1.0
    parts = [f'<svg width="{CHART_W}" height="{CHART_H}" role="img" font-size="11">']
    for i, (label, bars) in enumerate(rows):
        y0 = top + i * row_h
        parts.append(
            f'<text x="{left - 6}" y="{y0 + row_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#333">{_e(_short(label))}</text>'
        )
        bh = (row_h - 6) / len(bars)
        for j, (v, color) in enumerate(bars):
            bw = max(min(v, peak), 0) / peak * w
            y = y0 + 3 + j * bh
            text = f"{v * 100:.0f}%" if fmt == "pct" else _usd(v)
            parts.append(
                f'<rect x="{left}" y="{y:.1f}" width="{bw:.1f}" height="{bh - 1:.1f}" '
                f'fill="{color}"><title>{_e(label)}: {text}</title></rect>'
                f'<text x="{left + bw + 4:.1f}" y="{y + bh - 2:.1f}" fill="#555" '
                f'font-size="{min(11, max(bh, 8)):.0f}">{text}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "\u2026"


def _step_label(report: Report, start: int) -> str:
    stamp = rfc3339(start)
    return stamp[5:10] if report.request.step >= 86_400 else stamp[11:16]


def _cost_over_time(report: Report) -> str:
    total = accumulate(report.steps)
    names = [n for n in total if n != IDLE_NAME][:TOP]
    others = [n for n in total if n not in names and n != IDLE_NAME]
    labels = [_step_label(report, s.start) for s in report.sets]
    series: list[tuple[str, str, Sequence[float]]] = []
    for k, name in enumerate(names):
        series.append((name, PALETTE[k % len(PALETTE)],
                       [to_dollars(step[name].total_micros) if name in step else 0.0
                        for step in report.steps]))
    if others:
        series.append(("other", "#8c8c8c", [
            sum(to_dollars(step[n].total_micros) for n in others if n in step)
            for step in report.steps]))
    if IDLE_NAME in total:
        series.append((IDLE_NAME, IDLE_COLOR, [
            to_dollars(step[IDLE_NAME].total_micros) if IDLE_NAME in step else 0.0
            for step in report.steps]))
    return stacked_bars(labels, series)


def _idle_share(report: Report) -> str:
    rows = [
        (n.name, [(n.idle_micros / n.cost_micros if n.cost_micros else 0.0, "#e15759")])
        for n in report.nodes
    ]
    node_cost = sum(n.cost_micros for n in report.nodes)
    idle = sum(n.idle_micros for n in report.nodes)
    if node_cost:
        rows.insert(0, ("whole cluster", [(idle / node_cost, "#9b2226")]))
    return hbars(rows[:16], "pct", limit=1.0)


def _efficiency(report: Report) -> str:
    total = accumulate(report.steps)
    rows = [
        (name, [(cpu_efficiency(a), PALETTE[0]), (ram_efficiency(a), PALETTE[1]),
                (total_efficiency(a), PALETTE[2])])
        for name, a in total.items() if a.kind == "workload"
    ][:TOP]
    return hbars(rows, "pct", limit=max([1.0, *(v for _, b in rows for v, _ in b)]))


def _savings(report: Report) -> str:
    rows = [
        (s.name, [(to_dollars(s.cost_at_requests_micros), PALETTE[0]),
                  (to_dollars(s.cost_at_usage_micros), PALETTE[2])])
        for s in report.savings if s.savings_micros > 0
    ][:TOP]
    return hbars(rows, "usd")


SORT_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var num = function (r) {
      var t = r.cells[col].textContent.replace(/[$,%]/g, '');
      var n = parseFloat(t); return isNaN(n) ? t : n;
    };
    var desc = th.dataset.desc !== '1'; th.dataset.desc = desc ? '1' : '0';
    rows.sort(function (a, b) {
      var x = num(a), y = num(b);
      return (x > y ? 1 : x < y ? -1 : 0) * (desc ? -1 : 1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.setAttribute('data-ready', '1');
"""

STYLE = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; width: 1200px; font-family: sans-serif; color: #222; background: #fff; }}
header {{ height: {HEADER_H}px; padding: 14px 20px; overflow: hidden; }}
h1 {{ font-size: 20px; margin: 0 0 6px 0; }}
.meta {{ font-size: 12px; color: #555; }}
.cards {{ display: flex; gap: 12px; margin-top: 10px; }}
.card {{ border: 1px solid #ddd; border-radius: 4px; padding: 6px 12px; font-size: 12px; }}
.card b {{ display: block; font-size: 17px; }}
.grid {{ display: grid; grid-template-columns: {PANEL_W}px {PANEL_W}px; gap: 20px;
         padding: 0 20px; }}
figure {{ margin: 0; width: {PANEL_W}px; height: {PANEL_H}px; border: 1px solid #ddd;
          border-radius: 4px; padding: 8px 10px; overflow: hidden; }}
figcaption {{ font-size: 13px; font-weight: bold; height: 24px; }}
section {{ padding: 16px 20px; }}
table {{ border-collapse: collapse; font-size: 12px; width: 100%; }}
th, td {{ border-bottom: 1px solid #eee; padding: 3px 6px; text-align: right; }}
th {{ cursor: pointer; background: #f6f6f6; }}
td:first-child, th:first-child {{ text-align: left; }}
.notes li {{ font-size: 12px; color: #555; }}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def report_html(report: Report) -> str:
    r = report.request
    total = accumulate(report.steps)
    node_cost = sum(s.node_micros for s in report.sets)
    fixed = sum(s.fixed_shared_micros for s in report.sets)
    idle = sum(n.idle_micros for n in report.nodes)
    work = [a for a in total.values() if a.kind == "workload"]
    cost = sum(a.cpu_micros + a.ram_micros for a in work)
    weighted = sum((a.cpu_micros + a.ram_micros) * total_efficiency(a) for a in work)
    eff = weighted / cost if cost else 0.0
    saves = sum(s.savings_micros for s in report.savings if s.savings_micros > 0)
    cards = [
        ("Total cost", _usd(to_dollars(node_cost + fixed))),
        ("Nodes", _usd(to_dollars(node_cost))),
        ("Idle share", f"{idle / node_cost * 100:.0f}%" if node_cost else "-"),
        ("Efficiency", f"{eff * 100:.0f}%"),
        ("Saved at usage", _usd(to_dollars(saves))),
    ]
    if report.node_savings is not None:
        cards.append(("Nodes saved / month", _usd(report.node_savings.savings_per_hour * 730)))
    rows = [
        [name, _usd(to_dollars(a.cpu_micros)), _usd(to_dollars(a.ram_micros)),
         _usd(to_dollars(a.gpu_micros)), _usd(to_dollars(a.shared_micros)),
         _usd(to_dollars(a.total_micros)), f"{cpu_efficiency(a) * 100:.0f}%",
         f"{ram_efficiency(a) * 100:.0f}%", f"{total_efficiency(a) * 100:.0f}%"]
        for name, a in total.items()
    ]
    node_rows = [
        [n.name, n.instance_type or "-", n.capacity_type, n.basis,
         f"{to_dollars(n.per_hour_micros):.4f}" + (" (est.)" if n.estimated else ""),
         f"{n.hours:.1f}", _usd(to_dollars(n.cost_micros)), _usd(to_dollars(n.idle_micros))]
        for n in report.nodes
    ]
    saving_rows = [
        [s.name, f"{s.cpu_request_cores:.2f} / {s.cpu_recommended_cores:.2f}",
         f"{s.ram_request_bytes / 2**30:.2f} / {s.ram_recommended_bytes / 2**30:.2f}",
         _usd(to_dollars(s.cost_at_requests_micros)), _usd(to_dollars(s.cost_at_usage_micros)),
         _usd(to_dollars(s.savings_micros))]
        for s in report.savings
    ]
    notes = list(report.warnings)
    ns = report.node_savings
    if ns is not None:
        notes.insert(0, (
            f"Nodes: {money(ns.current_per_hour, 4)}/h now ({ns.nodes_now}); repacked at "
            f"requests {money(ns.at_requests_per_hour, 4)}/h ({ns.nodes_at_requests}); at usage "
            f"{money(ns.at_usage_per_hour, 4)}/h ({ns.nodes_at_usage}). Method: {ns.method}."))
    agg = ",".join(r.aggregate)
    figures = [
        ("chart-cost", f"Cost by {agg} over time", _cost_over_time(report)),
        ("chart-idle", "Idle share of node cost", _idle_share(report)),
        ("chart-efficiency", f"Efficiency by {agg} (CPU, RAM, total)", _efficiency(report)),
        ("chart-savings", "Top savings: cost at requests vs at usage", _savings(report)),
    ]
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>scaler cost report {_e(rfc3339(r.start))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<header><h1>Cost report</h1>",
        f'<div class="meta">{_e(rfc3339(r.start))} .. {_e(rfc3339(r.end))} · {_e(report.source)}'
        f" · aggregate {_e(agg)} · {len(report.steps)} step(s) · idle "
        f"{'shared by cost' if report.share_idle else 'separate'}</div>",
        '<div class="cards">',
        *(f'<div class="card">{_e(k)}<b>{_e(v)}</b></div>' for k, v in cards),
        "</div></header>",
        '<div class="grid">',
        *(f'<figure id="{fid}"><figcaption>{_e(cap)}</figcaption>{svg}</figure>'
          for fid, cap, svg in figures),
        "</div>",
        f"<section><h2>Cost by {_e(agg)}</h2>",
        _table(["name", "CPU", "RAM", "GPU", "shared", "total", "CPU eff", "RAM eff",
                "total eff"], rows),
        "</section><section><h2>Nodes</h2>",
        _table(["node", "type", "capacity", "priced as", "paid $/h", "hours", "cost", "idle"],
               node_rows),
        "</section><section><h2>Savings at usage (p95 CPU, peak memory)</h2>",
        _table(["workload", "CPU req / rec", "GiB req / rec", "at requests", "at usage",
                "saves"], saving_rows),
        '</section><section class="notes"><ul>',
        *(f"<li>{_e(n)}</li>" for n in notes),
        f"</ul></section><script>{SORT_SCRIPT}</script></body></html>\n",
    ])

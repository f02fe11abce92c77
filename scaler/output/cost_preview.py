"""`scaler plan` output: a table for the terminal, Markdown for a pull-request comment.

(`--output json` prints `CostPreview.to_json()` through `scaler.output.json`.)
"""

from __future__ import annotations

from scaler.core.money import money_auto
from scaler.core.plan import HOURS_PER_MONTH
from scaler.gitops.preview import CostPreview, Threshold
from scaler.output.table import render_table

SHOWN = 10  # pods or nodes listed before "and N more"


def _money(v: float) -> str:
    return money_auto(v)


def _signed(v: float) -> str:
    sign = "+" if v > 1e-9 else "-" if v < -1e-9 else "±"
    return f"{sign}{_money(abs(v))}"


def _percent(p: CostPreview) -> str:
    pct = p.delta_percent
    if pct is None:
        return "new cost" if p.delta_per_hour > 0 else "0%"
    return f"{pct:+.1f}%"


def _short(revision: str) -> str:
    """`main@sha1:<40 hex>` -> `main@sha1:0123456789ab`."""
    head, sep, sha = revision.rpartition("sha1:")
    return f"{head}{sep}{sha[:12]}" if sep else revision


def preview_table(p: CostPreview, threshold: Threshold | None = None) -> str:
    b, a = p.before, p.after
    out = [f"Snapshot: {p.snapshot} ({p.region})", ""]
    out.append(
        render_table(
            ["", "REVISION", "NODES", "PER HOUR", "PER MONTH (730 h)"],
            [
                ["from", _short(b.revision), b.nodes, _money(b.cost_per_hour),
                 _money(b.cost_per_hour * HOURS_PER_MONTH)],
                ["to", _short(a.revision), a.nodes, _money(a.cost_per_hour),
                 _money(a.cost_per_hour * HOURS_PER_MONTH)],
                ["change", _percent(p), a.nodes - b.nodes, _signed(p.delta_per_hour),
                 _signed(p.delta_per_hour * HOURS_PER_MONTH)],
            ],
        )
    )
    newly = p.newly_unschedulable
    out.append("")
    if newly:
        out.append(f"Pods that become unschedulable: {len(newly)}")
        out.append(render_table(["POD", "REASON"], [[pod, p.reason_of(pod)] for pod in newly]))
    else:
        out.append("Pods that become unschedulable: none")
    drifted = p.newly_drifted
    out.append("")
    if drifted:
        out.append(f"Nodes that become drifted (replaced by disruption): {len(drifted)}")
        out.append(
            render_table(
                ["NODE", "NODEPOOL", "REASON"], [[d.node, d.node_pool, d.reason] for d in drifted]
            )
        )
    else:
        out.append("Nodes that become drifted: none")
    if threshold is not None:
        verdict = "above" if threshold.exceeded_by(p) else "within"
        out.append("")
        out.append(f"Cost change {_signed(p.delta_per_hour)}/h ({_percent(p)}) is {verdict} "
                   f"the limit of {threshold}.")
    return "\n".join(out) + "\n"


def _code_list(items: list[str]) -> str:
    shown = ", ".join(f"`{x}`" for x in items[:SHOWN])
    more = len(items) - SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def preview_markdown(p: CostPreview, threshold: Threshold | None = None) -> str:
    """A short summary for a pull-request comment."""
    b, a = p.before, p.after
    d = p.delta_per_hour
    trend = "increases" if d > 1e-9 else "decreases" if d < -1e-9 else "does not change"
    lines = [
        "### scaler plan: cost of this policy change",
        "",
        f"This change **{trend}** the cluster's cost by **{_signed(d)}/hour** "
        f"({_signed(d * HOURS_PER_MONTH)}/month, {_percent(p)}).",
        "",
        "| | revision | nodes | per hour | per month |",
        "|---|---|---:|---:|---:|",
        f"| before | `{_short(b.revision)}` | {b.nodes} | {_money(b.cost_per_hour)} | "
        f"{_money(b.cost_per_hour * HOURS_PER_MONTH)} |",
        f"| after | `{_short(a.revision)}` | {a.nodes} | {_money(a.cost_per_hour)} | "
        f"{_money(a.cost_per_hour * HOURS_PER_MONTH)} |",
        f"| **change** | | {a.nodes - b.nodes:+d} | **{_signed(d)}** | "
        f"**{_signed(d * HOURS_PER_MONTH)}** |",
        "",
    ]
    newly = list(p.newly_unschedulable)
    if newly:
        lines.append(f":warning: **{len(newly)} pod{'s' if len(newly) > 1 else ''} become"
                     f"{'' if len(newly) > 1 else 's'} unschedulable:** {_code_list(newly)}")
        lines.append("")
    drifted = p.newly_drifted
    if drifted:
        names = [f"{x.node} ({x.node_pool})" for x in drifted]
        plural = len(drifted) > 1
        lines.append(f"**{len(drifted)} node{'s' if plural else ''} drift{'' if plural else 's'}** "
                     f"(to be replaced within the disruption budgets): {_code_list(names)}")
        lines.append("")
    if threshold is not None and threshold.exceeded_by(p):
        lines.append(f":x: The cost increase is above the limit of {threshold}.")
        lines.append("")
    lines.append(f"<sub>Simulated on `{p.snapshot}` in {p.region}; spot prices are estimates "
                 "from the Spot Instance Advisor.</sub>")
    return "\n".join(lines) + "\n"

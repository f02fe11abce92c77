"""`scaler simulate --rightsized`: the plans with current and right-sized requests."""

from __future__ import annotations

from typing import Any

from scaler.core.money import money
from scaler.core.plan import HOURS_PER_MONTH, Plan
from scaler.output.plan import plan_document, plan_table
from scaler.output.table import Cell, render_table
from scaler.simulation.rightsized import Comparison


def _line(name: str, p: Plan) -> list[Cell]:
    return [
        name,
        len(p.new_nodes),
        len(p.unschedulable),
        round(p.planned_per_hour, 4),
        round(p.planned_per_hour * HOURS_PER_MONTH, 2),
    ]


def comparison_table(c: Comparison, summary: dict[str, Any]) -> str:
    out = [
        "Current requests:",
        plan_table(c.current, summary),
        f"Right-sized requests ({c.pods_changed} pods changed):",
        plan_table(c.rightsized),
        render_table(
            ["PLAN", "NEW NODES", "UNSCHEDULABLE", "PER HOUR", "PER MONTH (730 h)"],
            [
                _line("current", c.current),
                _line("right-sized", c.rightsized),
                _line("from scratch, current", c.scratch_current),
                _line("from scratch, right-sized", c.scratch_rightsized),
            ],
        ),
    ]
    cut = c.scratch_current.planned_per_hour - c.scratch_rightsized.planned_per_hour
    out.append(
        f"\nFrom scratch (every pod placed anew, as a consolidation would), right-sizing saves "
        f"{money(cut, 4)}/h ({money(cut * HOURS_PER_MONTH)}/month)."
    )
    return "\n".join(out) + "\n"


def comparison_document(
    c: Comparison, summary: dict[str, Any], rightsizing: dict[str, Any]
) -> dict[str, Any]:
    return {
        "current": plan_document(c.current, summary),
        "rightsized": plan_document(c.rightsized),
        "fromScratch": {
            "current": plan_document(c.scratch_current),
            "rightsized": plan_document(c.scratch_rightsized),
        },
        "podsChanged": c.pods_changed,
        "rightsizing": rightsizing,
    }

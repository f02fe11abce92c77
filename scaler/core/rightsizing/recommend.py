"""What every strategy shares: enough data, minimums and maximums, rounding, limits, HPAs,
the minimum change worth a restart, and the risk flag."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from scaler.core.rightsizing.model import (
    DAY,
    HOUR,
    ContainerHistory,
    CurrentResources,
    HpaTarget,
    MiB,
    Recommendation,
)
from scaler.core.rightsizing.strategies import Strategy, StrategySettings

LimitsMode = Literal["recommend", "keep", "proportional", "remove"]
HpaMode = Literal["keep", "recommend"]
PERCENTILES = (50, 90, 95, 99)
WEEK_HOURS = 168


class CommonSettings(BaseModel):
    """Settings every strategy honours (CLI flags and RightSizingPolicy fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    points_required: int = Field(
        default=100, ge=1, description="Data points needed before recommending (KRR: 100)."
    )
    min_history_hours: float = Field(
        default=24,
        ge=0,
        description="Hours of history needed before recommending (one daily cycle).",
    )
    cpu_min: float = Field(
        default=0.01, ge=0, description="Never a CPU request below this (cores)."
    )
    cpu_max: float | None = Field(
        default=None, gt=0, description="Never a CPU request above (cores)."
    )
    memory_min: float = Field(
        default=32 * MiB,
        ge=0,
        description="Never a memory request below this (bytes; KRR uses 100Mi).",
    )
    memory_max: float | None = Field(default=None, gt=0, description="Never memory above (bytes).")
    cpu_step_millicores: int = Field(
        default=5, ge=1, description="CPU rounded up to a multiple of this many millicores."
    )
    memory_step_mib: int = Field(default=1, ge=1, description="Memory rounded up to this many MiB.")
    limits: LimitsMode = Field(
        default="recommend",
        description="recommend: the strategy's limits; keep; proportional: keep the "
        "limit:request ratio; remove.",
    )
    hpa: HpaMode = Field(
        default="keep",
        description="keep: never change a request an HPA scales on; recommend: change it "
        "and warn how the HPA's scaling point moves.",
    )
    min_change_percent: float = Field(
        default=10, ge=0, le=100, description="Leave requests that would change by less than this."
    )

    @model_validator(mode="after")
    def _ordered(self) -> CommonSettings:
        for low, high in (("cpu_min", "cpu_max"), ("memory_min", "memory_max")):
            top = getattr(self, high)
            if top is not None and getattr(self, low) > top:
                raise ValueError(f"{low} is above {high}")
        return self


def round_up(value: float, step: float) -> float:
    return math.ceil(value / step - 1e-9) * step


def _clamp(v: float, lo: float, hi: float | None) -> float:
    v = max(v, lo)
    return min(v, hi) if hi is not None else v


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    ps = np.percentile(values, PERCENTILES)
    out = {f"p{p}": float(v) for p, v in zip(PERCENTILES, ps, strict=True)}
    out["max"] = float(values.max())
    return out


def _changed(new: float | None, old: float | None, pct: float) -> bool:
    if new is None:
        return old is not None
    if old is None or old <= 0:
        return True
    return abs(new - old) / old * 100 >= pct


def _fmt_cpu(v: float | None) -> str:
    return "none" if v is None else f"{v * 1000:.0f}m"


def _fmt_mem(v: float | None) -> str:
    return "none" if v is None else f"{v / MiB:.0f}Mi"


def recommend(
    strategy: Strategy[StrategySettings],
    history: ContainerHistory,
    current: CurrentResources,
    settings: CommonSettings | None = None,
    *,
    containers_in_pod: int = 1,
    hpas: Sequence[HpaTarget] = (),
) -> Recommendation:
    s = settings or CommonSettings()
    hist = history.since(history.end - strategy.history_seconds)
    points = hist.points
    hours = hist.span_seconds / HOUR
    cpu_stats, mem_stats = _stats(hist.cpu), _stats(hist.memory)
    base = {
        "strategy": strategy.name,
        "points": points,
        "history_hours": round(hours, 2),
        "cpu_percentiles": cpu_stats,
        "memory_percentiles": mem_stats,
        "oom_kills": len(hist.oom_events),
    }
    if points < s.points_required or hours < s.min_history_hours:
        return _not_enough_data(current, points, hours, s, base)

    p = strategy.propose(hist, current, containers_in_pod)
    cpu_step = s.cpu_step_millicores / 1000
    mem_step = s.memory_step_mib * MiB
    cpu = round_up(_clamp(p.cpu_request, s.cpu_min, s.cpu_max), cpu_step)
    memory = round_up(_clamp(p.memory_request, s.memory_min, s.memory_max), mem_step)
    notes = list(p.notes)
    if s.cpu_max is not None and p.cpu_request > s.cpu_max:
        notes.append(f"CPU capped at the maximum {_fmt_cpu(s.cpu_max)}")
    if s.memory_max is not None and p.memory_request > s.memory_max:
        notes.append(f"memory capped at the maximum {_fmt_mem(s.memory_max)}")
    cpu, memory, warnings = _respect_hpas(hpas, current, cpu, memory, s)
    cpu_limit, mem_limit = _limits(s.limits, p.cpu_limit, p.memory_limit, cpu, memory, current)
    cpu_limit, mem_limit = _limits_on_steps(cpu_limit, mem_limit, cpu, memory, s, notes)

    change_cpu = _changed(cpu, current.cpu_request, s.min_change_percent) or (
        _changed(cpu_limit, current.cpu_limit, s.min_change_percent)
    )
    change_mem = _changed(memory, current.memory_request, s.min_change_percent) or (
        _changed(mem_limit, current.memory_limit, s.min_change_percent)
    )
    if not change_cpu and not change_mem:
        notes.append(f"within {s.min_change_percent:g}% of the current values: no change")

    risk, why = _risk(
        hist,
        cpu,
        memory,
        mem_limit,
        current,
        hours,
        s.hpa == "recommend" and any("targets" in w for w in warnings),
    )
    return Recommendation(
        cpu_request=cpu,
        memory_request=memory,
        cpu_limit=cpu_limit,
        memory_limit=mem_limit,
        change_cpu=change_cpu,
        change_memory=change_mem,
        reason="; ".join(notes),
        risk=risk,
        risk_reasons=tuple(why),
        warnings=tuple(warnings),
        cpu_bounds=p.cpu_bounds,
        memory_bounds=p.memory_bounds,
        **base,  # type: ignore[arg-type]
    )


def _not_enough_data(
    current: CurrentResources, points: int, hours: float, s: CommonSettings,
    base: dict[str, Any],
) -> Recommendation:
    """No new values: too little history to say anything the user should act on."""
    return Recommendation(
        cpu_request=None,
        memory_request=None,
        cpu_limit=current.cpu_limit,
        memory_limit=current.memory_limit,
        change_cpu=False,
        change_memory=False,
        reason=(
            f"not enough data: {points} points over {hours:.1f}h (needs "
            f"{s.points_required} points and {s.min_history_hours:g}h)"
        ),
        risk="unknown",
        **base,  # values typed per field by Recommendation itself
    )


def _respect_hpas(
    hpas: Sequence[HpaTarget], current: CurrentResources, cpu: float, memory: float,
    s: CommonSettings,
) -> tuple[float, float, list[str]]:
    """HPAs scale on usage / request, so a new request moves the point where they scale:
    keep the request (`--hpa keep`) or say which target keeps the same point."""
    warnings: list[str] = []
    for h in hpas:
        old = current.cpu_request if h.resource == "cpu" else current.memory_request
        new = cpu if h.resource == "cpu" else memory
        if old is None or not _changed(new, old, s.min_change_percent):
            continue
        fmt = _fmt_cpu if h.resource == "cpu" else _fmt_mem
        if s.hpa == "keep":
            warnings.append(
                f"HPA {h.name} scales on {h.utilization:g}% {h.resource} utilisation: "
                f"{h.resource} request kept at {fmt(old)} (would be {fmt(new)}; use "
                f"--hpa recommend to change it and move the HPA's target)"
            )
            if h.resource == "cpu":
                cpu = old
            else:
                memory = old
        else:
            keep_at = h.utilization * old / new
            at_new, at_old = new * h.utilization / 100, old * h.utilization / 100
            warnings.append(
                f"HPA {h.name} targets {h.utilization:g}% of the {h.resource} request: at "
                f"{fmt(new)} instead of {fmt(old)} it scales out at {fmt(at_new)}"
                f" per pod instead of {fmt(at_old)}; set its "
                f"averageUtilization to {keep_at:.0f}% to keep the same point"
            )
    return cpu, memory, warnings


def _limits_on_steps(
    cpu_limit: float | None, mem_limit: float | None, cpu: float, memory: float,
    s: CommonSettings, notes: list[str],
) -> tuple[float | None, float | None]:
    """Limits rounded up to the request steps and never below the requests."""
    if cpu_limit is not None:
        cpu_limit = round_up(cpu_limit, s.cpu_step_millicores / 1000)
        if cpu_limit < cpu:
            cpu_limit = cpu
            notes.append("CPU limit raised to the request")
    if mem_limit is not None:
        mem_step = s.memory_step_mib * MiB
        mem_limit = round_up(mem_limit, mem_step)
        if mem_limit < memory:
            if memory - mem_limit > mem_step:
                notes.append("memory limit raised to the request")
            mem_limit = memory
    return cpu_limit, mem_limit


def _limits(
    mode: LimitsMode,
    cpu_proposed: float | None,
    mem_proposed: float | None,
    cpu: float,
    memory: float,
    current: CurrentResources,
) -> tuple[float | None, float | None]:
    if mode == "remove":
        return None, None
    if mode == "keep":
        return current.cpu_limit, current.memory_limit
    if mode == "proportional":

        def prop(limit: float | None, req: float | None, new: float) -> float | None:
            return new * limit / req if limit and req else limit

        return (
            prop(current.cpu_limit, current.cpu_request, cpu),
            prop(current.memory_limit, current.memory_request, memory),
        )
    return (
        cpu_proposed if cpu_proposed is not None else current.cpu_limit,
        mem_proposed if mem_proposed is not None else current.memory_limit,
    )


def _risk(
    hist: ContainerHistory,
    cpu: float,
    memory: float,
    mem_limit: float | None,
    current: CurrentResources,
    hours: float,
    hpa_shift: bool,
) -> tuple[str, list[str]]:
    high: list[str] = []
    medium: list[str] = []
    peak = float(hist.memory.max()) if hist.memory.size else 0.0
    if hist.oom_events:
        high.append(f"{len(hist.oom_events)} OOM kill(s) in the history")
    if mem_limit is not None and mem_limit < peak:
        high.append("memory limit below the observed peak")
    if hist.cpu.size and cpu < float(np.percentile(hist.cpu, 50)):
        high.append("CPU request below the median usage")
    if memory < peak:
        medium.append("memory request below the observed peak")
    if hist.cpu.size and cpu < float(np.percentile(hist.cpu, 90)):
        medium.append("CPU request below p90 usage (throttling under contention)")
    if hours < WEEK_HOURS:
        medium.append(f"only {hours / 24:.1f} days of history (weekly cycles unseen)")
    if hpa_shift:
        medium.append("an HPA's scaling point moves")
    if current.memory_limit is not None and current.memory_limit <= peak:
        medium.append("currently under-provisioned: usage reached the memory limit")
    if high:
        return "high", high + medium
    if medium:
        return "medium", medium
    return "low", []


__all__ = ["DAY", "CommonSettings", "LimitsMode", "recommend"]
